"""Loyalty events are facts Odoo records (a purchase, a sign-up): only its own code posts them."""
from odoo.exceptions import AccessError
from odoo.tests import new_test_user

from .common import LoyaltyCase


class TestLoyaltyEventRights(LoyaltyCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.flow = cls.make_flow([{"action_type": "loyalty_accrue", "loyalty_program_id": cls.program.id,
                                   "loyalty_points": 100, "loyalty_validity_days": 10}],
                                 triggers=[{"trigger_type": "loyalty_purchase"}], kind="loyalty",
                                 reentry_policy="always")
        cls.user = new_test_user(cls.env, "sj_loyalty_rights_user",
                                 groups="base.group_user,salesjet_flows.group_salesjet_user")
        cls.partner = cls.make_partners(1, prefix="SJ loyalty rights")

    def purchase_events(self):
        return self.Event.search([("kind", "=", "loyalty_purchase"), ("partner_id", "=", self.partner.id)])

    def test_flows_user_cannot_forge_a_purchase_and_earn_points(self):
        for kind in ("loyalty_purchase", "loyalty_registration"):
            with self.subTest(kind=kind), self.assertRaises(AccessError):
                self.Event.with_user(self.user).post("purchase", self.partner.id, kind=kind,
                                                     external_id="sale.order:forged")
        self.run_scheduler()
        self.assertFalse(self.purchase_events(), "nothing stored")
        self.assertFalse(self.jobs_of(self.flow))
        self.assertFalse(self.card_of(self.partner).points)

    def test_a_real_purchase_still_starts_the_scenario_whoever_confirms_the_order(self):
        # sale_loyalty writes the card's history with sudo when any salesperson confirms an order
        salesperson = new_test_user(self.env, "sj_loyalty_rights_sales", groups="base.group_user")
        card = self.env["loyalty.card"].create({"program_id": self.program.id, "partner_id": self.partner.id})
        self.env["loyalty.history"].with_user(salesperson).sudo().create({
            "card_id": card.id, "description": "S00077", "issued": 3, "order_model": "sale.order", "order_id": 77})
        self.run_scheduler()
        self.assertEqual(self.purchase_events().external_id, "sale.order:77")
        self.assertEqual(self.jobs_of(self.flow).state, "done")

    def test_a_sign_up_by_a_user_without_flow_rights_still_posts_its_registration(self):
        flow = self.make_flow([self.accrue_step()], triggers=[{"trigger_type": "loyalty_registration"}],
                              kind="loyalty")
        hr = new_test_user(self.env, "sj_loyalty_rights_hr",
                           groups="base.group_user,base.group_erp_manager,base.group_partner_manager")
        portal = self.env["res.users"].with_user(hr).with_context(no_reset_password=True).create({
            "name": "SJ new client", "login": "sj_new_client", "email": "new.client@example.com",
            "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])]})
        events = self.Event.search([("kind", "=", "loyalty_registration"), ("partner_id", "=", portal.partner_id.id)])
        self.assertEqual(len(events), 1)
        self.Event._cron_process_events()
        self.run_scheduler()
        self.assertEqual(self.jobs_of(flow, portal.partner_id).state, "done")
