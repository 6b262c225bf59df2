from odoo import api, fields, models
from odoo.tools import format_amount

SHOP_EVENT_KINDS = [
    ("abandoned_cart", "Abandoned cart"),
    ("order_paid", "Order paid"),
    ("product_purchased", "Product purchased"),
]


class SalesjetEvent(models.Model):
    _inherit = "salesjet.event"

    kind = fields.Selection(selection_add=SHOP_EVENT_KINDS,
                            ondelete={key: "cascade" for key, _label in SHOP_EVENT_KINDS})

    @api.model
    def _order_event_data(self, order):
        """What an order event carries for placeholders, e.g. ``{{ event.get('cart_url') }}``."""
        lines = order.website_order_line.filtered("product_id")
        products = lines.product_id
        categories = {int(categ_id) for path in products.categ_id.mapped("parent_path")
                      for categ_id in (path or "").split("/") if categ_id}
        return {
            "order_id": order.id,
            "order_name": order.name,
            "amount_total": order.amount_total,
            "currency": order.currency_id.name,
            "amount": format_amount(self.env, order.amount_total, order.currency_id),
            "products": ", ".join(dict.fromkeys(products.mapped("display_name"))),
            "product_ids": products.ids,
            "product_template_ids": products.product_tmpl_id.ids,
            # the products' categories and all their parents, so a trigger on a parent matches
            "product_category_ids": sorted(categories),
            "website_id": order.website_id.id or False,
        }

    @api.model
    def _post_order_events(self, kind, orders, external_ids=None, extra=None, only_if_listened=True):
        """Post one ``kind`` event per order, about its customer.

        Stored only when an active flow of the customer's company listens to
        ``kind`` (the cached trigger table answers without a query), unless
        ``only_if_listened`` is False.

        :param dict external_ids: {order id: external id}
        :param dict extra: {order id: dict of more data}
        """
        Trigger = self.env["salesjet.flow.trigger"].sudo()
        events = self.sudo().browse()
        for order in orders.sudo():
            partner = order.partner_id
            company = partner.company_id or order.company_id
            if only_if_listened and not Trigger._cached_triggers(kind, company.id):
                continue
            data = {**self._order_event_data(order), **((extra or {}).get(order.id) or {})}
            events |= self.sudo().with_company(order.company_id).post(
                kind, partner, data=data, external_id=(external_ids or {}).get(order.id),
                source="website_sale", kind=kind)
        return events
