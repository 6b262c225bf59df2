from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from .salesjet_event import SHOP_EVENT_KINDS

SHOP_TRIGGER_TYPES = [key for key, _label in SHOP_EVENT_KINDS]

CART_BATCH_SIZE = 500


def _group_by_hours(rows):
    groups = {}
    for order_id, hours, external_id in rows:
        groups.setdefault(hours, []).append((order_id, external_id))
    return groups


class SalesjetFlowTrigger(models.Model):
    _inherit = "salesjet.flow.trigger"

    trigger_type = fields.Selection(selection_add=[
        ("abandoned_cart", "Abandoned cart"),
        ("order_paid", "Order paid"),
        ("product_purchased", "Product purchased"),
    ], ondelete={key: "cascade" for key in SHOP_TRIGGER_TYPES})
    cart_abandoned_hours = fields.Integer(
        string="Abandoned for (hours)", default=1,
        help="A shop cart of a known customer (not the website's anonymous visitor), with products, "
             "not confirmed and without a payment under way, that nobody changed for this many hours. "
             "Each cart is raised once per number of hours; carts left before this trigger was created are "
             "ignored. Put the later reminders (1 day, 3 days...) in the flow's steps as delays.",
    )
    sale_website_only = fields.Boolean(
        string="Online shop orders only", default=True,
        help="The online shop confirms an order once its payment is received (or authorised), so a confirmed "
             "shop order is a paid order. Untick to include orders confirmed by a salesperson.",
    )

    @api.depends("trigger_type", "event_code", "cart_abandoned_hours", "product_tmpl_ids", "product_categ_ids")
    def _compute_name(self):
        res = super()._compute_name()
        for trigger in self.filtered(lambda t: t.trigger_type in SHOP_TRIGGER_TYPES):
            if trigger.trigger_type == "abandoned_cart":
                trigger.name = f"{trigger.name}: {_('%s hours', trigger.cart_abandoned_hours)}"
            elif trigger.trigger_type == "product_purchased":
                names = trigger.product_tmpl_ids.mapped("name") + trigger.product_categ_ids.mapped("name")
                if names:
                    trigger.name = f"{trigger.name}: {', '.join(names)}"
        return res

    @api.constrains("trigger_type", "cart_abandoned_hours")
    def _check_cart_abandoned_hours(self):
        for trigger in self:
            if trigger.trigger_type == "abandoned_cart" and trigger.cart_abandoned_hours < 1:
                raise ValidationError(_("The abandoned cart trigger of flow “%s” needs a number of hours of at "
                                        "least 1.", trigger.flow_id.name))

    @api.model
    def _event_kinds(self):
        return {**super()._event_kinds(), **{key: key for key in SHOP_TRIGGER_TYPES}}

    # ------------------------------------------------------------------
    # Matching (the event kind already matched the trigger type)
    # ------------------------------------------------------------------

    def _match_abandoned_cart(self, event):
        return (event.data or {}).get("hours") == self.cart_abandoned_hours

    def _match_order_paid(self, event):
        return not self.sale_website_only or bool((event.data or {}).get("website_id"))

    def _match_product_purchased(self, event):
        return self._match_products(event)

    # ------------------------------------------------------------------
    # Abandoned carts
    # ------------------------------------------------------------------

    @api.model
    def _abandoned_carts_query(self, now, select, limit=None):
        """Carts abandoned for the hours of an abandoned-cart trigger, not yet raised for them.

        One statement for all triggers. A cart's last change is the latest of
        its order date and its lines' changes (adding, removing, changing a
        quantity); a pending, authorised or done payment means the customer
        is paying, so the cart is not chased.
        """
        return SQL(
            """
            WITH thresholds AS (
                SELECT t.cart_abandoned_hours AS hours, min(t.create_date) AS since
                  FROM salesjet_flow_trigger t
                  JOIN salesjet_flow f ON f.id = t.flow_id AND f.active AND f.state = 'running'
                 WHERE t.trigger_type = 'abandoned_cart' AND t.cart_abandoned_hours > 0
                 GROUP BY t.cart_abandoned_hours
            ), carts AS (
                SELECT so.id, GREATEST(so.date_order, max(l.write_date)) AS last_change
                  FROM sale_order so
                  JOIN website w ON w.id = so.website_id
                  JOIN res_users u ON u.id = w.user_id
                  JOIN sale_order_line l ON l.order_id = so.id AND l.product_id IS NOT NULL
                                        AND l.display_type IS NULL AND NOT COALESCE(l.is_delivery, FALSE)
                 WHERE so.state = 'draft' AND so.partner_id != u.partner_id
                   AND NOT EXISTS (SELECT 1 FROM sale_order_transaction_rel r
                                     JOIN payment_transaction tx ON tx.id = r.transaction_id
                                    WHERE r.sale_order_id = so.id AND tx.state IN ('pending', 'authorized', 'done'))
                 GROUP BY so.id
            ), due AS (
                SELECT c.id, th.hours, concat('abandoned_cart-', c.id, '-', th.hours) AS external_id
                  FROM carts c
                  JOIN thresholds th ON c.last_change <= %(now)s - th.hours * interval '1 hour'
                                    AND c.last_change >= th.since
            )
            SELECT %(select)s FROM due
             WHERE NOT EXISTS (SELECT 1 FROM salesjet_event e
                                WHERE e.kind = 'abandoned_cart' AND e.external_id = due.external_id)
            %(limit)s
            """,
            now=now, select=select, limit=SQL("ORDER BY due.id, due.hours LIMIT %s", limit) if limit else SQL(""),
        )

    @api.model
    def _cron_abandoned_carts(self, limit=CART_BATCH_SIZE):
        """Scheduled action: raise one "abandoned cart" event per cart and number of hours, for one call's
        time budget (the external id makes a cart counted twice post nothing twice)."""
        Event = self.env["salesjet.event"]

        def run_batch(batch):
            self.env.flush_all()
            self.env.cr.execute(self._abandoned_carts_query(
                fields.Datetime.now(), SQL("due.id, due.hours, due.external_id"), batch))
            rows = self.env.cr.fetchall()
            for hours, group in _group_by_hours(rows).items():
                orders = self.env["sale.order"].sudo().browse([order_id for order_id, _external_id in group])
                Event._post_order_events(
                    "abandoned_cart", orders, external_ids=dict(group), only_if_listened=False,
                    extra={order.id: {"hours": hours, "cart_url": order._salesjet_cart_url()} for order in orders})
            return len(rows)

        def remaining():
            self.env.flush_all()
            return self.env["salesjet.cron"]._count_capped(self._abandoned_carts_query(fields.Datetime.now(), SQL("1")))

        return self.env["salesjet.cron"]._run_batches(run_batch, remaining, limit, key="abandoned_cart")
