from odoo import api, models

from .salesjet_loyalty_accrual import INTERNAL


class LoyaltyHistory(models.Model):
    """Odoo's loyalty card ledger: spent points consume bonus accruals, orders post purchase events."""
    _inherit = "loyalty.history"

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        if self.env.context.get(INTERNAL):
            return lines
        used = {}
        for line in lines.filtered(lambda hist: hist.used > 0):
            used[line.card_id.id] = used.get(line.card_id.id, 0.0) + line.used
        self.env["salesjet.loyalty.accrual"].sudo()._consume(used)
        self._post_purchase_events(lines)
        return lines

    @api.model
    def _post_purchase_events(self, lines):
        """One "purchase" event per order whose loyalty card moved.

        With sale installed, sale_loyalty writes these lines when an order is
        confirmed; the point of sale and eCommerce do too. The external id
        ``<model>:<id>`` keeps an order from starting a scenario twice.
        """
        orders = {}
        for line in lines.filtered(lambda hist: hist.order_model and hist.order_id and hist.card_id.partner_id):
            orders.setdefault((line.order_model, line.order_id), line)
        Event = self.env["salesjet.event"].sudo()
        for (order_model, order_id), line in orders.items():
            Event._post_loyalty_purchase(line.card_id.partner_id, order_model, order_id,
                                         extra={"points_issued": line.issued, "points_used": line.used,
                                                "program": line.card_id.program_id.name})
