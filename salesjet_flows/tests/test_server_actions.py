from unittest.mock import patch

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import tagged, users
from odoo.tests.common import new_test_user

from .common import SalesjetCase


@tagged("post_install", "-at_install")
class TestServerActionStep(SalesjetCase):
    """A step runs one of Odoo's server actions on the batch's contacts (or the runs' leads), once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_system = new_test_user(
            cls.env, login="sj_system_admin", name="Sys Admin",
            groups="base.group_user,base.group_system,base.group_partner_manager,salesjet_flows.group_salesjet_manager")
        cls.partner_model = cls.env["ir.model"]._get("res.partner")
        cls.lead_model = cls.env["ir.model"]._get("crm.lead")
        cls.action_ref = cls.env["ir.actions.server"].create({
            "name": "SJ mark contacts", "model_id": cls.partner_model.id, "state": "code",
            "code": "records.write({'ref': 'SJ-SA'})\n"
                    "if any(r.name == 'SJ bad' for r in records):\n"
                    "    raise UserError('bad contact')",
        })
        cls.action_lead = cls.env["ir.actions.server"].create({
            "name": "SJ lead priority", "model_id": cls.lead_model.id, "state": "object_write",
            "update_path": "priority", "value": "3",
        })

    def _run_flow(self, partners, step, lead=None):
        flow = self.make_flow([step])
        flow._enroll(partners.ids, lead=lead)
        Server = type(self.env["ir.actions.server"])
        original = Server.run
        with patch.object(Server, "run", autospec=True, side_effect=original) as run:
            self.run_scheduler()
        return flow, run.call_count

    def test_server_action_runs_once_for_the_whole_batch(self):
        for count in (20, 200):
            partners = self.make_partners(count, prefix=f"SJ sa {count}")
            flow, calls = self._run_flow(partners, {"action_type": "server_action",
                                                    "server_action_id": self.action_ref.id})
            self.assertEqual(calls, 1, f"one run() for {count} contacts")
            self.assertEqual(set(partners.mapped("ref")), {"SJ-SA"})
            self.assertEqual(set(self.jobs_of(flow).mapped("state")), {"done"})

    def test_a_failing_contact_fails_only_its_own_job(self):
        partners = self.make_partners(3, prefix="SJ fine") | self.env["res.partner"].create({"name": "SJ bad"})
        flow, _calls = self._run_flow(partners, {"action_type": "server_action",
                                                 "server_action_id": self.action_ref.id})
        jobs = self.jobs_of(flow)
        bad = jobs.filtered(lambda j: j.partner_id.name == "SJ bad")
        self.assertIn("bad contact", bad.error or "", "the failing contact's job keeps its error (and retries)")
        self.assertNotEqual(bad.state, "done")
        self.assertEqual(set((jobs - bad).mapped("state")), {"done"})
        self.assertEqual(set((partners - bad.partner_id).mapped("ref")), {"SJ-SA"})
        self.assertFalse(bad.partner_id.ref, "the failing contact's write was rolled back")

    def test_lead_target_runs_on_the_lead_and_skips_runs_without_one(self):
        with_lead, without = self.make_partners(2, prefix="SJ lead owner")
        lead = self.env["crm.lead"].create({"name": "SJ lead", "partner_id": with_lead.id, "priority": "0"})
        flow = self.make_flow([{"action_type": "server_action", "server_action_target": "lead",
                                "server_action_id": self.action_lead.id}])
        flow._enroll(with_lead.ids, lead=lead)
        flow._enroll(without.ids)
        self.run_scheduler()
        self.assertEqual(lead.priority, "3")
        self.assertEqual(self.jobs_of(flow, with_lead).state, "done")
        skipped = self.jobs_of(flow, without)
        self.assertEqual(skipped.state, "skipped")
        self.assertIn("no lead", skipped.result or "")

    def test_the_action_must_work_on_the_target_model(self):
        with self.assertRaises(ValidationError):
            self.make_flow([{"action_type": "server_action", "server_action_target": "lead",
                             "server_action_id": self.action_ref.id}])
        with self.assertRaises(ValidationError):
            self.make_flow([{"action_type": "server_action"}])

    @users("user_flows_admin")
    def test_a_flows_admin_who_is_not_settings_admin_cannot_set_a_server_action(self):
        flow = self.env["salesjet.flow"].create({"name": "SJ no code"})
        with self.assertRaisesRegex(ValidationError, "Settings administrator"):
            self.env["salesjet.flow.step"].create({"flow_id": flow.id, "action_type": "server_action",
                                                   "server_action_id": self.action_ref.id})

    def test_a_flows_admin_reads_a_step_set_by_a_settings_admin(self):
        flow = self.make_flow([{"action_type": "server_action", "server_action_id": self.action_ref.id}])
        step = flow.step_ids.with_user(self.user_flows_admin)
        values = step.web_read({"name": {}, "server_action_id": {"fields": {"display_name": {}}}})[0]
        self.assertEqual(values["server_action_id"]["display_name"], "SJ mark contacts")
        self.assertIn("SJ mark contacts", values["name"] or step.display_name)

    @users("sj_system_admin")
    def test_a_settings_admin_sets_a_server_action_and_previews_it(self):
        flow = self.env["salesjet.flow"].create({"name": "SJ code ok"})
        step = self.env["salesjet.flow.step"].create({"flow_id": flow.id, "action_type": "server_action",
                                                      "server_action_id": self.action_ref.id})
        self.assertEqual(step._diagram_icon(), "fa-cogs")
        partner = self.env["res.partner"].create({"name": "SJ previewed"})
        preview = str(step._preview_server_action(partner, {}))
        self.assertIn("SJ mark contacts", preview)
        self.assertIn("SJ previewed", preview)


@tagged("post_install", "-at_install")
class TestStartFlowServerAction(SalesjetCase):
    """Odoo's automation rules start a running flow with the "Start a flow" server action."""

    def _rule(self, model, flow):
        if "base.automation" not in self.env:
            self.skipTest("base_automation is not installed")
        model = self.env["ir.model"]._get(model)
        return self.env["base.automation"].create({
            "name": "SJ start flow", "model_id": model.id, "trigger": "on_create",
            "action_server_ids": [Command.create({
                "name": "SJ start", "model_id": model.id, "state": "salesjet_flow_start",
                "salesjet_flow_id": flow.id, "usage": "base_automation",
            })],
        })

    def test_a_rule_on_contacts_starts_a_running_flow(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        self._rule("res.partner", flow)
        partner = self.env["res.partner"].create({"name": "SJ automated"})
        self.assertEqual(self.env["salesjet.flow.enrollment"].search([("flow_id", "=", flow.id)]).partner_id,
                         partner)

    def test_a_rule_on_leads_starts_the_flow_for_the_contact_with_the_lead(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        self._rule("crm.lead", flow)
        partner = self.env["res.partner"].create({"name": "SJ lead contact"})
        lead = self.env["crm.lead"].create({"name": "SJ automated lead", "partner_id": partner.id})
        run = self.env["salesjet.flow.enrollment"].search([("flow_id", "=", flow.id)])
        self.assertEqual(run.partner_id, partner)
        self.assertEqual(run.lead_id, lead)

    def test_a_draft_flow_is_not_started(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        self._rule("res.partner", flow)
        flow.state = "draft"
        self.env["res.partner"].create({"name": "SJ not automated"})
        self.assertFalse(self.env["salesjet.flow.enrollment"].search([("flow_id", "=", flow.id)]))
