from odoo import models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def _action_confirm(self):
        """Post the loyalty "purchase" event of each confirmed order, card or not.

        The external id ``sale.order:<id>`` is the one the loyalty card's history posts
        (salesjet_flows_loyalty/models/loyalty_history.py) when the order also moves a card,
        so an order starts a scenario once, however often it is confirmed.
        """
        result = super()._action_confirm()
        Event = self.env["salesjet.event"].sudo()
        Trigger = self.env["salesjet.flow.trigger"].sudo()
        for order in self.sudo():
            # no event stored per order unless a scenario of the company listens to purchases
            if order.partner_id and Trigger._cached_triggers("loyalty_purchase", order.company_id.id):
                Event._post_loyalty_purchase(order.partner_id, order._name, order.id)
        return result
