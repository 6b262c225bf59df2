from odoo import _, fields, models
from odoo.tools import SQL


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def _action_confirm(self):
        """Post "order paid" and "product purchased", and stop the abandoned-cart runs they end.

        Every confirmation goes through here: the shop confirms an order when
        its payment is done or authorised (payment.transaction
        ``_check_amount_and_confirm_order``) or when nothing is left to pay
        (``_validate_order``); a salesperson's Confirm button does too.
        """
        result = super()._action_confirm()
        orders = self.sudo()
        Event = self.env["salesjet.event"]
        external_ids = {order.id: f"order_paid-{order.id}" for order in orders}
        Event._post_order_events("order_paid", orders, external_ids=external_ids)
        with_products = orders.filtered(lambda o: o.website_order_line.filtered("product_id"))
        Event._post_order_events("product_purchased", with_products,
                                 external_ids={order.id: f"product_purchased-{order.id}" for order in orders})
        orders._salesjet_stop_cart_runs(_("Order %s was confirmed.", ", ".join(orders.mapped("name"))),
                                        customers=True)
        return result

    def _action_cancel(self):
        result = super()._action_cancel()
        self.sudo()._salesjet_stop_cart_runs(_("Order %s was cancelled.", ", ".join(self.mapped("name"))))
        return result

    def _salesjet_cart_url(self):
        """The link that reopens this cart in the shop (website_sale's own recovery link)."""
        self.ensure_one()
        return f"{self.get_base_url()}/shop/cart?access_token={self._portal_ensure_token()}"

    def _salesjet_stop_cart_runs(self, reason, customers=False):
        """Stop the running abandoned-cart runs of these orders and cancel their waiting steps.

        :param customers: also stop the abandoned-cart runs of these orders'
            customers for their other carts: a customer who just paid is not
            chased about an older cart.
        """
        if not self:
            return
        self.env.flush_all()
        by_customer = SQL("OR e.partner_id = ANY(%s)", self.partner_id.ids) if customers else SQL("")
        self.env.cr.execute(SQL(
            """
            SELECT e.id FROM salesjet_flow_enrollment e
              JOIN salesjet_event ev ON ev.id = e.event_id AND ev.kind = 'abandoned_cart'
             WHERE e.state = 'running'
               AND ((ev.data->>'order_id')::int = ANY(%(orders)s) %(by_customer)s)
            """,
            orders=self.ids, by_customer=by_customer,
        ))
        enrollments = self.env["salesjet.flow.enrollment"].sudo().browse([row[0] for row in self.env.cr.fetchall()])
        if not enrollments:
            return
        # a waiting job another worker is running right now stays locked: its run is
        # stopped all the same, and the scheduler cancels jobs of ended runs
        self.env.cr.execute(SQL(
            """
            UPDATE salesjet_flow_job SET state = 'cancelled', date_done = %(now)s, result = %(why)s
             WHERE id IN (SELECT id FROM salesjet_flow_job
                           WHERE enrollment_id = ANY(%(ids)s) AND state = 'pending'
                             FOR UPDATE SKIP LOCKED)
            """,
            now=fields.Datetime.now(), why=reason, ids=enrollments.ids,
        ))
        self.env["salesjet.flow.job"].invalidate_model(["state", "date_done", "result"])
        enrollments._finish("stopped")
