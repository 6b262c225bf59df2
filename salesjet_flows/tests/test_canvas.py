from unittest.mock import patch

from odoo.exceptions import AccessError
from odoo.tests import users

from odoo.addons.mail.tests.common import MockEmail

from ..models import salesjet_flow_step_canvas
from .common import SalesjetCase


class TestFlowCanvas(SalesjetCase, MockEmail):
    """What the canvas builder asks of the server: the picker, places, moves, removals and drill-downs."""

    def _email(self, subject="Hi"):
        return {"action_type": "email", "email_source": "custom", "email_subject": subject,
                "email_body": "<p>Hello <a href='https://shop.example.com'>shop</a></p>"}

    # ---- picker ----
    @users("user_flows_admin")
    def test_picker_groups_every_action_type_by_family_with_icon_and_help(self):
        families = self.env["salesjet.flow.step"].canvas_action_picker()
        keys = [family["key"] for family in families]
        self.assertEqual(keys[:3], ["messages", "contact", "crm"], "the families keep their order")
        by_type = {t["type"]: (family["key"], t) for family in families for t in family["types"]}
        selection = [value for value, _label in self.env["salesjet.flow.step"]._fields["action_type"].selection]
        self.assertEqual(sorted(by_type), sorted(selection), "every action type is offered once")
        self.assertEqual(by_type["email"][0], "messages")
        self.assertEqual(by_type["split"][0], "flows")
        self.assertEqual(by_type["offer_create"][0], "products")
        self.assertEqual(by_type["webhook"][0], "integrations")
        self.assertEqual(by_type["email"][1]["icon"], "fa-envelope")
        self.assertTrue(all(t["help"] for _key, t in by_type.values() if _key != "other"),
                        "each type of a known family says what it does")
        if "loyalty_accrue" in by_type:  # the loyalty bridge places its type in its own family
            self.assertEqual(by_type["loyalty_accrue"][0], "loyalty")
            self.assertEqual(by_type["loyalty_accrue"][1]["icon"], "fa-star")
        if "course_enroll" in by_type:
            self.assertEqual(by_type["course_enroll"][0], "products")

    def test_type_without_family_falls_in_other_actions_and_lead_types_in_crm(self):
        families = dict(salesjet_flow_step_canvas.ACTION_TYPE_FAMILIES)
        del families["webhook"]
        with patch.object(salesjet_flow_step_canvas, "ACTION_TYPE_FAMILIES", families):
            picker = self.env["salesjet.flow.step"].canvas_action_picker()
        other = [family for family in picker if family["key"] == "other"]
        self.assertEqual([t["type"] for t in other[0]["types"]], ["webhook"])
        self.assertEqual(picker[-1]["key"], "other", "the default group comes last")
        # a lead action type (added by the CRM part) is a CRM action even without an entry
        self.assertEqual(salesjet_flow_step_canvas.SalesjetFlowStepCanvas._action_family(
            type("Probe", (), {"action_type": "lead_assign"})()), "crm")
        self.assertEqual(salesjet_flow_step_canvas.SalesjetFlowStepCanvas._action_family(
            type("Probe", (), {"action_type": "something_new"})()), "other")

    # ---- placing new steps ----
    @users("user_flows_admin")
    def test_new_step_sequence_sits_between_its_neighbours_and_renumbers_when_needed(self):
        flow = self.make_flow([self.tag_step(self.tag_a), self.tag_step(self.tag_b)])
        first, second = flow.step_ids
        Step = self.env["salesjet.flow.step"]
        self.assertEqual(Step.canvas_insert_sequence(flow.id, first.id), 15)
        self.assertEqual(Step.canvas_insert_sequence(flow.id, second.id), 30)
        self.assertLess(Step.canvas_insert_sequence(flow.id, False), first.sequence)
        # no room between 10 and 11: the chain is renumbered, keeping its order
        second.sequence = 11
        sequence = Step.canvas_insert_sequence(flow.id, first.id)
        self.assertLess(first.sequence, sequence)
        self.assertLess(sequence, second.sequence)
        new = Step.create(dict(self.tag_step(self.tag_c), flow_id=flow.id, sequence=sequence))
        flow.invalidate_recordset(["step_ids"])
        self.assertEqual(flow.step_ids.ids, [first.id, new.id, second.id])
        self.assertEqual(first._next_step(), new)

    @users("user_flows_admin")
    def test_new_step_in_a_branch_is_placed_in_that_branch_chain(self):
        flow = self.make_flow([
            {"action_type": "split", "name": "Test", "split_criterion": "clicks", "split_test_value": 2,
             "split_test_unit": "days", "branch_ids": [(0, 0, {"name": "A", "percentage": 50}),
                                                       (0, 0, {"name": "B", "percentage": 50})]},
            self.tag_step(self.tag_c),
        ])
        split = flow.step_ids[0]
        branch_a, branch_b = split.branch_ids
        Step = self.env["salesjet.flow.step"]
        self.assertEqual(Step.canvas_insert_sequence(flow.id, False, branch_b.id), 10, "an empty branch")
        in_b = Step.create(dict(self.tag_step(self.tag_b), flow_id=flow.id, branch_id=branch_b.id, sequence=10))
        sequence = Step.canvas_insert_sequence(flow.id, in_b.id, branch_b.id)
        self.assertGreater(sequence, in_b.sequence)
        data = flow.diagram_data
        split_node = next(node for node in data["steps"] if node["id"] == split.id)
        self.assertEqual([(b["id"], b["name"], b["percentage"]) for b in split_node["branches"]],
                         [(branch_a.id, "A", 50.0), (branch_b.id, "B", 50.0)], "an empty branch is drawn too")
        node_b = next(node for node in data["steps"] if node["id"] == in_b.id)
        self.assertEqual((node_b["branch_id"], node_b["family"]), (branch_b.id, "contact"))
        self.assertTrue(data["editable"])

    # ---- moving and removing ----
    @users("user_flows_admin")
    def test_dragging_a_step_reorders_the_chain_and_keeps_its_waiting_contacts(self):
        flow = self.make_flow([self.tag_step(self.tag_a), self.tag_step(self.tag_b, timing="delay",
                                                                        delay_value=1, delay_unit="days"),
                               self.tag_step(self.tag_c)])
        first, second, third = flow.step_ids
        self.env["salesjet.event"].sudo().post("sj_test", self.make_partners(1))
        self.env["salesjet.flow.job"].sudo()._process_due_batch()
        self.assertEqual(second.pending_job_count, 1)
        Step = self.env["salesjet.flow.step"]
        self.assertTrue(Step.canvas_move(third.id, first.id, True))
        flow.invalidate_recordset(["step_ids"])
        self.assertEqual(flow.step_ids.ids, [first.id, third.id, second.id])
        second.invalidate_recordset(["pending_job_count"])
        self.assertEqual(second.pending_job_count, 1, "a moved step keeps its waiting contacts")
        Step.canvas_move(first.id, second.id, False)
        flow.invalidate_recordset(["step_ids"])
        self.assertEqual(flow.step_ids.ids, [third.id, first.id, second.id])

    @users("user_flows_admin")
    def test_removing_from_the_canvas_asks_the_wizard_when_contacts_wait(self):
        flow = self.make_flow([self.tag_step(self.tag_a, timing="delay", delay_value=1, delay_unit="days"),
                               self.tag_step(self.tag_b)])
        waiting, idle = flow.step_ids
        self.env["salesjet.event"].sudo().post("sj_test", self.make_partners(1))
        action = waiting.action_canvas_remove()
        self.assertEqual(action["res_model"], "salesjet.flow.step.remove")
        self.assertEqual(action["context"]["default_step_id"], waiting.id)
        self.assertTrue(waiting.exists(), "a step contacts wait on stays until the wizard says what to do")
        self.assertFalse(idle.action_canvas_remove())
        self.assertFalse(idle.exists())

    def test_flows_user_sees_a_read_only_canvas_and_cannot_move_steps(self):
        flow = self.make_flow([self.tag_step(self.tag_a), self.tag_step(self.tag_b)])
        first, second = flow.step_ids
        as_user = flow.with_user(self.user_flows)
        self.assertFalse(as_user.diagram_data["editable"])
        with self.assertRaises(AccessError):
            self.env["salesjet.flow.step"].with_user(self.user_flows).canvas_move(second.id, first.id, False)
        with self.assertRaises(AccessError):
            self.env["salesjet.flow.step"].with_user(self.user_flows).canvas_insert_sequence(flow.id, first.id)

    # ---- numbers that open what they count ----
    def test_card_counts_and_message_figures_open_the_matching_jobs_and_contacts(self):
        self.env.company.email = "shop@example.com"
        flow = self.make_flow([self._email(), self.tag_step(self.tag_a, timing="delay", delay_value=1,
                                                            delay_unit="days")])
        email, later = flow.step_ids
        reader, clicker, silent = partners = self.make_partners(3)
        for partner in partners:
            self.Event.post("sj_test", partner)
        self.run_scheduler()
        jobs = self.jobs_of(flow)
        mails = self.env["mail.mail"].browse(jobs.filtered("res_id").mapped("res_id"))
        with self.mock_mail_gateway():
            mails.send()
        trace = {job.partner_id: job.mailing_trace_id for job in jobs if job.mailing_trace_id}
        trace[reader].set_opened()
        trace[clicker].set_clicked()
        flow.invalidate_recordset(["diagram_data"])
        email.invalidate_recordset()
        nodes = {node["id"]: node for node in flow.with_user(self.user_marketing).diagram_data["steps"]}
        self.assertEqual(nodes[email.id]["counts"], {"pending": 0, "done": 3, "skipped": 0, "failed": 0})
        self.assertEqual(nodes[later.id]["counts"]["pending"], 3)
        self.assertEqual(nodes[email.id]["stats"], {"sent": 3, "opened": 2, "clicked": 1,
                                                    "opened_rate": 66.7, "clicked_rate": 33.3})
        self.assertNotIn("stats", nodes[later.id], "a tag step has no message figures")

        step = email.with_user(self.user_marketing)
        Job = self.env["salesjet.flow.job"].with_user(self.user_marketing)
        action = later.with_user(self.user_marketing).action_open_jobs("pending")
        self.assertEqual(Job.search(action["domain"]), jobs.filtered(lambda j: j.step_id == later))
        self.assertFalse(Job.search(step.action_open_jobs("failed")["domain"]))
        self.assertEqual(len(Job.search(step.action_open_jobs()["domain"])), 3)
        Partner = self.env["res.partner"].with_user(self.user_marketing)
        for kind, expected in (("sent", partners), ("opened", reader | clicker), ("clicked", clicker)):
            action = step.action_open_contacts(kind)
            self.assertEqual(action["res_model"], "res.partner")
            self.assertEqual(Partner.search(action["domain"]), expected, kind)
        self.assertNotIn(silent, Partner.search(step.action_open_contacts("opened")["domain"]))
