from odoo.tests import users

from .common import SalesjetShopCase


class TestAbandonedCartTemplate(SalesjetShopCase):

    @users("user_flows_admin")
    def test_abandoned_cart_template_sends_four_emails_after_1_hour_1_3_and_6_days(self):
        flow = self.env.ref("salesjet_flows_sale.flow_template_abandoned_cart")._create_flows()
        trigger = flow.trigger_ids
        self.assertEqual((trigger.trigger_type, trigger.cart_abandoned_hours), ("abandoned_cart", 1))
        self.assertEqual(flow.step_ids.mapped("action_type"), ["email"] * 4)
        self.assertEqual(flow.step_ids.mapped("delay_value")[1:], [1, 2, 3], "1 + 2 + 3 days after the first")
        self.assertTrue(all(step.mail_template_id for step in flow.step_ids))

    def test_demo_abandoned_cart_flow_is_the_template_archived(self):
        if not self.env.ref("base.module_salesjet_flows_sale").demo:
            self.skipTest("installed without demo data")
        demo = self.env.ref("salesjet_flows_sale.flow_abandoned_cart")
        self.assertFalse(demo.active)
        self.assertEqual(len(demo.step_ids), 4)
