from odoo.addons.salesjet_flows_loyalty.tests.common import LoyaltyCase


class LoyaltySaleCase(LoyaltyCase):
    """Sales + Loyalty without a shop: a fish category tree, a fish and dog food, a loyalty club that
    sale orders move, and a factory for confirmed orders."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Category = cls.env["product.category"]
        cls.fish = Category.create({"name": "SJ fish"})
        cls.goldfish = cls.env["product.product"].create({
            "name": "SJ goldfish", "categ_id": Category.create({"name": "SJ cold water", "parent_id": cls.fish.id}).id,
            "list_price": 5})
        cls.dog_food = cls.env["product.product"].create({"name": "SJ dog food", "list_price": 20})
        cls.club = cls.env["loyalty.program"].create({
            "name": "SJ club", "program_type": "loyalty", "trigger": "auto", "applies_on": "both",
            "rule_ids": [(0, 0, {"reward_point_mode": "order", "reward_point_amount": 1})],
            "reward_ids": [(0, 0, {"reward_type": "discount", "discount": 5, "required_points": 100})]})

    def order(self, partner, product):
        """A sale order of one product, confirmed (as a salesperson's Confirm button)."""
        order = self.env["sale.order"].create({
            "partner_id": partner.id, "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 1})]})
        order.action_confirm()
        return order
