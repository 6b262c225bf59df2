from odoo.exceptions import AccessError
from odoo.tests import new_test_user

from .common import SalesjetCase


class TestSecurity(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.flow = cls.make_flow([cls.tag_step(cls.tag_a)], triggers=[
            {"trigger_type": "segment", "partner_domain": "[('city', '=', 'Securityville')]"}])
        cls.user = new_test_user(cls.env, "sj_user", groups="base.group_user,salesjet_flows.group_salesjet_user")
        cls.manager = new_test_user(cls.env, "sj_manager",
                                    groups="base.group_user,salesjet_flows.group_salesjet_manager")
        cls.stranger = new_test_user(cls.env, "sj_stranger", groups="base.group_user")

    def test_flows_user_can_read_but_not_change_or_launch_a_flow(self):
        flow = self.flow.with_user(self.user)
        self.assertEqual(flow.name, "Test flow")
        self.assertTrue(flow.step_ids.summary)
        with self.assertRaises(AccessError):
            flow.write({"name": "Hacked"})
        with self.assertRaises(AccessError):
            flow.step_ids.write({"delay_value": 5})
        with self.assertRaises(AccessError):
            self.env["salesjet.flow"].with_user(self.user).create({"name": "Mine"})
        with self.assertRaises(AccessError):
            flow.unlink()
        partner = self.make_partners(1, city="Securityville")
        with self.assertRaises(AccessError):
            self.env["salesjet.flow.launch"].with_user(self.user).create(
                {"flow_id": flow.id, "trigger_id": flow.trigger_ids.id}).action_launch()
        self.assertFalse(self.flow.enrollment_ids)
        # launching is for Flows administrators
        self.env["salesjet.flow.launch"].with_user(self.manager).create(
            {"flow_id": flow.id, "trigger_id": flow.trigger_ids.id}).action_launch()
        self.assertEqual(self.flow.enrollment_ids.partner_id, partner)
        self.assertEqual(len(flow.enrollment_ids), 1, "the user sees the runs")

    def test_flows_administrator_configures_flows(self):
        flow = self.flow.with_user(self.manager)
        flow.write({"name": "Renamed"})
        flow.step_ids.write({"delay_value": 5})
        self.assertEqual(self.flow.name, "Renamed")

    def test_internal_user_without_flows_group_sees_nothing(self):
        with self.assertRaises(AccessError):
            self.env["salesjet.flow"].with_user(self.stranger).search([])
        with self.assertRaises(AccessError):
            self.env["salesjet.flow.job"].with_user(self.stranger).search([])

    def test_user_of_another_company_does_not_see_the_flows(self):
        other = self.env["res.company"].create({"name": "SJ Other Co"})
        flow_b = self.make_flow([self.tag_step(self.tag_a)], company_id=other.id)
        partner = self.make_partners(1)
        flow_b._enroll(partner.ids)
        visible = self.env["salesjet.flow"].with_user(self.user).search([("id", "in", (self.flow | flow_b).ids)])
        self.assertEqual(visible, self.flow)
        self.assertFalse(self.env["salesjet.flow.job"].with_user(self.user).search([("flow_id", "=", flow_b.id)]))
        self.assertFalse(self.env["salesjet.flow.enrollment"].with_user(self.user).search(
            [("flow_id", "=", flow_b.id)]))
