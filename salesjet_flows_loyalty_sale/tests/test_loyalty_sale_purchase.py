from odoo.tests import users

from .common import LoyaltySaleCase


class TestLoyaltySalePurchase(LoyaltySaleCase):
    """"After buying a fish, start the fish chain" on a plain Sales + Loyalty install (no shop)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.chain = cls.make_chain([{"channel": "email", "subject": "Your new fish", "body": "<p>Hello</p>"}],
                                   code=False)
        cls.scenario = cls.make_flow(
            [{"action_type": "chain_start", "chain_flow_id": cls.chain.id}],
            triggers=[{"trigger_type": "loyalty_purchase", "product_categ_ids": [(6, 0, cls.fish.ids)]}],
            kind="loyalty", name="SJ after buying a fish", reentry_policy="always")

    @users("user_sales")
    def test_a_fish_bought_through_a_sale_order_starts_the_chain_once(self):
        without_card, with_card, dog_owner = self.make_partners(3)
        card = self.env["loyalty.card"].sudo().create({"program_id": self.club.id, "partner_id": with_card.id})
        order = self.order(without_card, self.goldfish)
        carded = self.order(with_card, self.goldfish)
        self.order(dog_owner, self.dog_food)
        self.run_scheduler()
        self.assertTrue(self.env["loyalty.history"].search([("card_id", "=", card.id),
                                                            ("order_id", "=", carded.id)]),
                        "the order moved the card (sale_loyalty)")
        self.assertEqual(self.jobs_of(self.chain).partner_id, without_card | with_card,
                         "a fish starts the chain, card or not; dog food does not")
        self.assertEqual(self.Event.search([("kind", "=", "loyalty_purchase"), ("partner_id", "=", with_card.id)])
                         .external_id, f"sale.order:{carded.id}", "one event per order, card history or not")

        # confirmed again after a cancel: the same order starts nothing twice (sale_loyalty lets only
        # Sales administrators cancel an order that moved loyalty points)
        order = order.sudo()
        order._action_cancel()
        order.action_draft()
        order.action_confirm()
        order._action_confirm()
        self.run_scheduler()
        self.assertEqual(len(self.jobs_of(self.scenario, without_card)), 1)
        self.assertEqual(len(self.jobs_of(self.chain, without_card)), 1)
