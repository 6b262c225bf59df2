from odoo.tests import HttpCase, new_test_user, tagged

from .test_canvas_browser import _require_browser


@tagged("post_install", "-at_install")
class TestBackgroundLaunchInTheBrowser(HttpCase):
    """The launch of a segment too large for one request, from the flow's form in the web client, by a Flows
    administrator who is not a Settings administrator (the ORM-level tests are in test_segment_launch.py)."""

    def test_a_flows_administrator_launches_a_large_segment_from_the_form_and_it_runs_in_the_background(self):
        _require_browser(self)
        self.env["ir.config_parameter"].sudo().set_param("salesjet_flows.launch_inline_max", "3")
        launcher = new_test_user(self.env, login="sj_launch_admin", name="Lena Launcher",
                                 groups="base.group_user,base.group_partner_manager,"
                                        "salesjet_flows.group_salesjet_manager")
        partners = self.env["res.partner"].create([
            {"name": f"Tourville contact {i}", "city": "Tourville", "email": f"tourville.{i}@example.com"}
            for i in range(5)])
        self.env["res.partner"].create({"name": "Elsewhere contact", "city": "Elsewhere"})
        tag = self.env["res.partner.category"].create({"name": "Launched from the form"})
        flow = self.env["salesjet.flow"].create({"name": "Tourville welcome", "state": "running"})
        self.env["salesjet.flow.step"].create({"flow_id": flow.id, "action_type": "add_tag",
                                               "tag_ids": [(6, 0, tag.ids)]})
        self.env["salesjet.flow.trigger"].create({"flow_id": flow.id, "trigger_type": "segment",
                                                  "partner_domain": "[('city', '=', 'Tourville')]"})
        cron = self.env.ref("salesjet_flows.ir_cron_salesjet_segment_launch")
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])

        self.start_tour(f"/odoo/action-salesjet_flows.salesjet_flow_action/{flow.id}",
                        "salesjet_background_launch_tour", login=launcher.login)

        Launch = self.env["salesjet.segment.launch"]
        launch = Launch.search([("flow_id", "=", flow.id)])
        self.assertRecordValues(launch, [{"state": "queued", "contact_count": 5, "user_id": launcher.id}])
        self.assertFalse(flow.enrollment_ids, "the request enrolled nobody")
        self.assertGreater(self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), triggers,
                           "the scheduled action is woken")
        Launch._cron_launch_segments()
        self.assertEqual(launch.state, "done")
        self.assertEqual(flow.enrollment_ids.partner_id, partners)
        self.assertIn("Launch queued for 5 contacts", "".join(flow.message_ids.mapped("body")))
