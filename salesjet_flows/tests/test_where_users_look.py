from odoo.exceptions import AccessError, UserError
from odoo.tests import users

from .common import SalesjetCase


class TestWhereUsersLook(SalesjetCase):
    """The Flows smart buttons of contacts and leads, stop and retry from a run, and *Start a flow* from a list."""

    START_ACTIONS = [("res.partner", "salesjet_flows.salesjet_flow_start_action_partner"),
                     ("crm.lead", "salesjet_flows.salesjet_flow_start_action_lead")]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.flow = cls.make_flow([
            cls.tag_step(cls.tag_a, timing="delay", delay_value=1, delay_unit="days", name="Tag later"),
        ])
        # a Flows administrator who also works the leads list (Sales / User) starts flows from it
        cls.user_flows_admin.groups_id += cls.env.ref("sales_team.group_sale_salesman")
        cls.partners = cls.make_partners(3, prefix="SJ look")
        cls.lead = cls.env["crm.lead"].create({"name": "SJ look lead", "partner_id": cls.partners[0].id})
        runs = cls.flow._enroll(cls.partners[:2].ids)
        cls.run_lead = runs.filtered(lambda r: r.partner_id == cls.partners[0])
        cls.run_lead.lead_id = cls.lead
        cls.run_failed = runs - cls.run_lead

    def _start(self, flow, model, records):
        wizard = self.env["salesjet.flow.start"].with_context(
            active_model=model, active_ids=records.ids).create({"flow_id": flow.id})
        return wizard.action_start()["params"]["message"]

    # ---- Smart buttons ----
    @users("user_flows")
    def test_contact_smart_button_counts_runs_of_several_contacts_in_one_query(self):
        partners = self.partners.with_env(self.env)
        _warm = partners[2].salesjet_enrollment_count  # rules and groups are cached, as in a running server
        partners.invalidate_recordset()
        with self.assertQueryCount(user_flows=1):  # one _read_group for all the contacts shown
            counts = [partner.salesjet_enrollment_count for partner in partners]
        self.assertEqual(counts, [1, 1, 0])

    @users("user_marketing")
    def test_contact_smart_button_opens_its_runs_with_the_step_they_wait_on(self):
        partner = self.partners[0].with_env(self.env)
        action = partner.action_view_salesjet_enrollments()
        self.assertEqual(action["res_model"], "salesjet.flow.enrollment")
        runs = self.env["salesjet.flow.enrollment"].search(action["domain"])
        self.assertEqual(runs, self.run_lead)
        self.assertEqual(runs.state, "running")
        self.assertEqual(runs.current_step_id.name, "Tag later")

    @users("user_flows")
    def test_lead_smart_button_counts_and_opens_the_runs_of_the_lead(self):
        lead = self.lead.with_env(self.env)
        self.assertEqual(lead.salesjet_enrollment_count, 1)
        action = lead.action_view_salesjet_enrollments()
        self.assertEqual(self.env["salesjet.flow.enrollment"].search(action["domain"]), self.run_lead)

    @users("user_sales")
    def test_a_salesperson_does_not_see_the_runs_count(self):
        with self.assertRaises(AccessError):
            _count = self.partners[0].with_env(self.env).salesjet_enrollment_count

    # ---- Stop and retry from a run ----
    @users("user_flows_admin")
    def test_stop_from_a_run_cancels_its_waiting_step(self):
        run = self.run_lead.with_env(self.env)
        run.action_stop()
        self.assertEqual(run.state, "stopped")
        self.assertEqual(set(run.job_ids.mapped("state")), {"cancelled"})
        self.assertFalse(run.current_step_id)

    @users("user_flows")
    def test_a_flows_user_can_neither_stop_nor_retry_a_run(self):
        run = self.run_lead.with_env(self.env)
        with self.assertRaises(AccessError):
            run.action_stop()
        with self.assertRaises(AccessError):
            run.action_retry()

    @users("user_flows_admin")
    def test_retry_from_a_run_puts_its_failed_steps_back_in_the_queue(self):
        self.run_failed.sudo().job_ids.write({"state": "failed", "attempts": 3})
        self.run_failed.sudo().state = "failed"
        run = self.run_failed.with_env(self.env)
        run.action_retry()
        self.assertEqual(run.state, "running")
        self.assertEqual(run.job_ids.mapped("state"), ["pending"])
        self.assertEqual(run.current_step_id.name, "Tag later")
        with self.assertRaises(UserError):
            self.run_lead.with_env(self.env).action_retry()  # nothing failed

    # ---- Start a flow from a list ----
    @users("user_flows_admin")
    def test_start_enrols_the_selected_contacts_and_says_who_was_skipped(self):
        flow = self.flow.with_env(self.env)
        partners = self.partners.with_env(self.env)
        message = self._start(flow, "res.partner", partners)
        runs = self.env["salesjet.flow.enrollment"].search([("flow_id", "=", flow.id)])
        self.assertEqual(runs.partner_id, partners)  # the third one started, the two running ones were skipped
        self.assertEqual(len(runs), 3)
        self.assertIn("1 contacts started", message)
        self.assertIn("2 contacts are already running", message)

    @users("user_flows_admin")
    def test_start_from_leads_keeps_the_lead_and_skips_leads_without_contact(self):
        flow = self.flow.with_env(self.env)
        Lead = self.env["crm.lead"]
        lead = Lead.create({"name": "SJ look lead 2", "partner_id": self.partners[2].id})
        orphan = Lead.create({"name": "SJ look lead without contact"})
        message = self._start(flow, "crm.lead", lead | orphan)
        run = self.env["salesjet.flow.enrollment"].search(
            [("flow_id", "=", flow.id), ("partner_id", "=", self.partners[2].id)])
        self.assertEqual(run.lead_id, lead)
        self.assertIn("1 contacts started", message)
        self.assertIn("1 leads have no contact", message)

    @users("user_flows_admin")
    def test_start_refuses_a_flow_that_is_not_running(self):
        draft = self.env["salesjet.flow"].create({"name": "SJ draft"})
        self.assertEqual(draft.state, "draft")
        with self.assertRaises(UserError):
            self._start(draft, "res.partner", self.partners)
        self.assertFalse(self.env["salesjet.flow.enrollment"].search_count([("flow_id", "=", draft.id)]))

    @users("user_flows")
    def test_start_is_for_flows_administrators_only(self):
        with self.assertRaises(AccessError):
            self._start(self.flow, "res.partner", self.partners)

    @users("user_sales")
    def test_a_salesperson_neither_sees_nor_runs_start_a_flow(self):
        for model, xmlid in self.START_ACTIONS:
            bindings = self.env["ir.actions.actions"].get_bindings(model).get("action", [])
            self.assertNotIn(self.env.ref(xmlid).id, [action["id"] for action in bindings], model)
        with self.assertRaises(AccessError):
            self._start(self.flow, "res.partner", self.partners)

    @users("user_flows_admin")
    def test_a_flows_administrator_sees_start_a_flow_on_contacts_and_leads(self):
        for model, xmlid in self.START_ACTIONS:
            bindings = self.env["ir.actions.actions"].get_bindings(model).get("action", [])
            self.assertIn(self.env.ref(xmlid).id, [action["id"] for action in bindings], model)

    @users("user_flows_admin")
    def test_start_respects_a_once_per_contact_flow(self):
        flow = self.flow.with_env(self.env)
        flow.sudo().reentry_policy = "once"
        self.run_lead.with_env(self.env).action_stop()  # ended: a "once" flow still keeps this contact out
        message = self._start(flow, "res.partner", self.partners[0] | self.partners[2])
        runs = self.env["salesjet.flow.enrollment"].search([("flow_id", "=", flow.id), ("state", "=", "running")])
        self.assertEqual(runs.partner_id, self.partners[1] | self.partners[2])
        self.assertIn("1 contacts started", message)
        self.assertIn("1 contacts are already running in this flow or its re-entry policy keeps them out", message)
