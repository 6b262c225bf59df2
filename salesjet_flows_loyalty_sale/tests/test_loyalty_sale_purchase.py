from odoo.addons.salesjet_flows.tests.common import SalesjetCase


class TestLoyaltySalePurchase(SalesjetCase):
    """"After buying a fish, start the fish chain" on a plain Sales + Loyalty install (no shop)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Category = cls.env["product.category"]
        cls.fish = Category.create({"name": "SJ fish"})
        cls.goldfish = cls.env["product.product"].create({
            "name": "SJ goldfish", "categ_id": Category.create({"name": "SJ cold water", "parent_id": cls.fish.id}).id,
            "list_price": 5})
        cls.dog_food = cls.env["product.product"].create({"name": "SJ dog food", "list_price": 20})
        cls.chain = cls.env["salesjet.flow"].create({"name": "SJ fish chain", "kind": "chain"})
        cls.env["salesjet.chain.message"].create({"flow_id": cls.chain.id, "channel": "email",
                                                  "subject": "Your new fish", "body": "<p>Hello</p>"})
        cls.scenario = cls.make_flow(
            [{"action_type": "chain_start", "chain_flow_id": cls.chain.id}],
            triggers=[{"trigger_type": "loyalty_purchase", "product_categ_ids": [(6, 0, cls.fish.ids)]}],
            kind="loyalty", name="SJ after buying a fish", reentry_policy="always")
        cls.program = cls.env["loyalty.program"].create({
            "name": "SJ club", "program_type": "loyalty", "trigger": "auto", "applies_on": "both",
            "rule_ids": [(0, 0, {"reward_point_mode": "order", "reward_point_amount": 1})],
            "reward_ids": [(0, 0, {"reward_type": "discount", "discount": 5, "required_points": 100})]})

    def order(self, partner, product):
        order = self.env["sale.order"].create({
            "partner_id": partner.id, "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 1})]})
        order.action_confirm()
        return order

    def test_a_fish_bought_through_a_sale_order_starts_the_chain_once(self):
        without_card, with_card, dog_owner = self.make_partners(3)
        card = self.env["loyalty.card"].create({"program_id": self.program.id, "partner_id": with_card.id})
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

        # confirmed again after a cancel: the same order starts nothing twice
        order._action_cancel()
        order.action_draft()
        order.action_confirm()
        order._action_confirm()
        self.run_scheduler()
        self.assertEqual(len(self.jobs_of(self.scenario, without_card)), 1)
        self.assertEqual(len(self.jobs_of(self.chain, without_card)), 1)
