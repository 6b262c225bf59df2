"""A launch for a segment too large for one request is queued and enrolled by a scheduled action in batches."""
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import users

from odoo.addons.salesjet_flows.models import salesjet_flow

from .common import T0, SalesjetCase


class TestSegmentLaunchInTheBackground(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("salesjet_flows.launch_inline_max", "10")
        cls.partners = cls.make_partners(12, prefix="SJ big segment", city="Bigville")
        cls.make_partners(3, prefix="SJ elsewhere", city="Elsewhere")
        cls.flow = cls.make_flow(
            [cls.tag_step(cls.tag_a)],
            triggers=[{"trigger_type": "segment", "partner_domain": "[('city', '=', 'Bigville')]"}])
        cls.Launch = cls.env["salesjet.segment.launch"]
        cls.cron = cls.env.ref("salesjet_flows.ir_cron_salesjet_segment_launch")

    def launch(self, flow=None):
        flow = (flow or self.flow).with_env(self.env)
        wizard = self.env["salesjet.flow.launch"].create({"flow_id": flow.id, "trigger_id": flow.trigger_ids.id})
        return wizard, wizard.action_launch()

    def run_cron(self, calls=10):
        """Call the scheduled action as Odoo does, until nothing is queued; the calls it took."""
        for call in range(1, calls + 1):
            with patch.object(salesjet_flow, "LAUNCH_BATCH_SIZE", 5):
                self.Launch.sudo()._cron_launch_segments()
            if not self.Launch.sudo().search_count([("state", "=", "queued")]):
                return call
        self.fail("the launch did not end")

    @users("user_flows_admin")
    def test_a_segment_above_the_inline_size_is_queued_then_enrolled_in_committed_batches(self):
        triggers = self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", self.cron.id)])
        with self.at(T0):
            wizard, answer = self.launch()
        self.assertEqual(wizard.contact_count, 12)
        self.assertEqual(answer["params"]["type"], "info")
        self.assertIn("in the background", answer["params"]["message"])
        self.assertFalse(self.flow.enrollment_ids, "nothing is enrolled in the request")
        launch = self.Launch.sudo().search([("flow_id", "=", self.flow.id)])
        self.assertRecordValues(launch, [{"state": "queued", "contact_count": 12, "enrolled_count": 0,
                                          "user_id": self.user_flows_admin.id}])
        self.assertGreater(self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", self.cron.id)]),
                           triggers, "the scheduled action is woken")
        self.assertIn("Launch queued for 12 contacts", self.flow.sudo().message_ids[0].body)
        with self.at(T0):
            self.assertEqual(self.run_cron(), 3, "12 contacts in batches of 5: three calls")
        # the last batch read the contacts to the last one, of the segment or not
        last_contact = self.env["res.partner"].sudo().with_context(active_test=False).search(
            [], order="id desc", limit=1)
        self.assertGreater(last_contact.id, self.partners[-1].id)
        self.assertRecordValues(launch, [{"state": "done", "enrolled_count": 12, "last_partner_id": last_contact.id}])
        self.assertEqual(self.flow.sudo().enrollment_ids.partner_id, self.partners)
        self.assertEqual(len(self.jobs_of(self.flow)), 12, "one first job each")
        self.assertIn("Launched for 12 contacts", self.flow.sudo().message_ids[0].body)

    def test_a_launch_goes_on_after_the_last_contact_it_enrolled_and_never_twice(self):
        with self.at(T0):
            self.launch()
            launch = self.Launch.search([("flow_id", "=", self.flow.id)])
            with patch.object(salesjet_flow, "LAUNCH_BATCH_SIZE", 5):
                self.Launch._launch_batch(5)
            self.assertEqual(launch.enrolled_count, 5)
            # a killed call loses its batch; the contacts a crash left enrolled are not enrolled again
            launch.last_partner_id = 0
            self.run_cron()
        self.assertEqual(launch.state, "done")
        self.assertEqual(len(self.flow.enrollment_ids), 12)
        self.assertEqual(launch.enrolled_count, 12, "the five already running were left alone")

    def test_the_same_segment_is_not_queued_twice_and_a_small_one_is_enrolled_at_once(self):
        self.launch()
        with self.assertRaises(UserError):
            self.launch()
        small = self.make_flow([self.tag_step(self.tag_b)], triggers=[
            {"trigger_type": "segment", "partner_domain": "[('city', '=', 'Elsewhere')]"}])
        _wizard, answer = self.launch(small)
        self.assertEqual(answer["params"]["type"], "success")
        self.assertEqual(len(small.enrollment_ids), 3)

    def test_a_flow_stopped_while_its_launch_waits_enrols_nobody_more(self):
        self.launch()
        launch = self.Launch.search([("flow_id", "=", self.flow.id)])
        self.flow.state = "stopped"
        self.run_cron()
        self.assertEqual(launch.state, "cancelled")
        self.assertFalse(self.flow.enrollment_ids)
        self.assertIn("no longer running", self.flow.message_ids[0].body)
