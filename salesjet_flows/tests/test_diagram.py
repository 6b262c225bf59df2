from odoo.tests import users

from .common import T0, SalesjetCase


class TestFlowDiagram(SalesjetCase):

    @users("user_flows_admin")
    def test_diagram_shows_triggers_steps_timing_conditions_and_live_counts(self):
        flow = self.make_flow([
            self.tag_step(self.tag_a, name="Welcome tag"),
            self.tag_step(self.tag_b, timing="delay", delay_value=2, delay_unit="days",
                          repeat=True, repeat_interval=3, repeat_unit="days", repeat_max=2),
        ])
        second = flow.step_ids[1]
        self.env["salesjet.flow.condition"].create(
            {"step_id": second.id, "condition_type": "tag", "tag_ids": [(6, 0, self.tag_c.ids)]})
        second.on_condition_fail = "stop"
        partners = self.make_partners(3)
        with self.at(T0):
            for partner in partners:
                self.Event.post("sj_test", partner)
            self.run_scheduler()
        flow.invalidate_recordset(["diagram_data"])
        data = flow.diagram_data
        self.assertEqual([t["name"] for t in data["triggers"]], ["Event posted through the API: sj_test"])
        first, node = data["steps"]
        self.assertEqual((first["title"], first["when"], first["icon"]), ("Welcome tag", "now", "fa-tag"))
        self.assertEqual(first["counts"], {"pending": 0, "done": 3, "skipped": 0, "failed": 0})
        self.assertEqual(node["id"], second.id)
        self.assertEqual(node["when"], "+2 days")
        self.assertEqual(node["conditions"], "has tag SJ test C")
        self.assertTrue(node["stop_on_fail"])
        self.assertEqual(node["repeat"], "every 3 days, at most 2 times")
        self.assertEqual(node["counts"]["pending"], 3, "the three contacts wait on the second step")

    def test_diagram_of_150_steps_is_computed_with_one_count_query(self):
        flow = self.make_flow([self.tag_step(self.tag_a) for _i in range(150)])
        flow.invalidate_recordset(["diagram_data"])
        flow.step_ids.fetch(["summary", "action_type"])
        with self.assertQueryCount(__system__=60):
            data = flow.diagram_data
        self.assertEqual(len(data["steps"]), 150)
        self.assertEqual([s["title"] for s in data["steps"][:2]], ["Add tag SJ test A"] * 2)
