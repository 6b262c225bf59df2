from datetime import timedelta

from odoo.exceptions import ValidationError
from odoo.tests import users

from .common import T0, SalesjetCase


class TestFlowGoal(SalesjetCase):

    def make_goal_flow(self):
        flow = self.make_flow([
            self.tag_step(self.tag_a),
            self.tag_step(self.tag_b, timing="delay", delay_value=2, delay_unit="days"),
        ])
        flow.goal_domain = f"[('category_id', 'in', [{self.tag_c.id}])]"
        return flow

    def test_a_run_whose_contact_reaches_the_goal_ends_converted_before_the_next_step(self):
        flow = self.make_goal_flow()
        buyer, other = self.make_partners(2)
        with self.at(T0):
            for partner in buyer | other:
                self.Event.post("sj_test", partner)
            self.run_scheduler()
        buyer.category_id = [(4, self.tag_c.id)]  # e.g. became a customer
        with self.at(T0 + timedelta(days=2)):
            self.run_scheduler()
        runs = flow.enrollment_ids
        won = runs.filtered(lambda r: r.partner_id == buyer)
        self.assertTrue(won.converted)
        self.assertEqual(won.date_converted, T0 + timedelta(days=2))
        self.assertEqual(won.state, "done")
        self.assertTags(buyer, present=self.tag_a, absent=self.tag_b)
        second_job = self.jobs_of(flow, buyer).filtered(lambda j: j.step_id == flow.step_ids[1])
        self.assertEqual(second_job.state, "cancelled")
        self.assertTags(other, present=self.tag_a | self.tag_b)
        self.assertFalse((runs - won).converted)
        flow.invalidate_recordset()
        self.assertEqual((flow.converted_count, flow.conversion_rate), (1, 50.0))
        first_step, second_step = flow.step_ids
        self.assertEqual((first_step.converted_count, second_step.converted_count), (1, 0))

    def test_goal_cron_converts_waiting_runs_with_one_query_per_flow(self):
        flow = self.make_goal_flow()
        partners = self.make_partners(5)
        with self.at(T0):
            for partner in partners:
                self.Event.post("sj_test", partner)
            self.run_scheduler()
        partners[:3].category_id = [(4, self.tag_c.id)]
        self.env.flush_all()
        with self.assertQueryCount(__system__=12):
            converted = self.env["salesjet.flow"]._cron_check_goals()
        self.assertEqual(converted, 3)
        pending = self.jobs_of(flow).filtered(lambda j: j.state == "pending")
        self.assertEqual(pending.partner_id, partners[3:], "converted runs have no waiting step left")
        self.assertEqual(len(flow.enrollment_ids.filtered("converted")), 3)

    @users("user_flows_admin")
    def test_goal_must_be_a_valid_filter(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        with self.assertRaisesRegex(ValidationError, "not a valid filter"):
            flow.goal_domain = "[('no_such_field', '=', 1)]"

    def test_goal_check_of_a_batch_costs_the_same_for_5_or_50_runs(self):
        counts = []
        for size in (5, 50):
            flow = self.make_flow([self.tag_step(self.tag_a, timing="delay", delay_value=1, delay_unit="days")],
                                  triggers=[{"trigger_type": "api", "event_code": f"sj_goal_{size}"}])
            flow.goal_domain = f"[('category_id', 'in', [{self.tag_c.id}])]"
            partners = self.make_partners(size, prefix=f"SJ goal {size}")
            with self.at(T0):
                for partner in partners:
                    self.Event.post(f"sj_goal_{size}", partner)
                self.run_scheduler()
            partners[::2].category_id = [(4, self.tag_c.id)]
            jobs = self.jobs_of(flow).filtered(lambda j: j.state == "pending")
            self.env.flush_all()
            self.env.invalidate_all()
            with self.at(T0 + timedelta(days=1)):
                before = self.env.cr.sql_log_count
                flow._convert_reached(jobs.enrollment_id)
                counts.append(self.env.cr.sql_log_count - before)
            self.assertEqual(len(flow.enrollment_ids.filtered("converted")), len(partners[::2]))
            flow.action_archive()
        self.assertGreater(counts[0], 0)
        self.assertEqual(counts[0], counts[1], "the goal is checked with the same queries whatever the batch size")
