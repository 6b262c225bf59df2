from datetime import timedelta

from odoo.exceptions import ValidationError
from odoo.tests import Form, users

from odoo.addons.salesjet_flows.tests.common import T0

from .common import SalesjetShopCase


class TestAbandonedCart(SalesjetShopCase):

    def cart_flow(self, hours, steps=None):
        return self.make_flow(steps or [self.tag_step(self.tag_a)], reentry_policy="always",
                              triggers=[{"trigger_type": "abandoned_cart", "cart_abandoned_hours": hours}])

    def test_unpaid_cart_is_raised_once_per_threshold_and_enrols_the_customer(self):
        with self.at(T0):
            after_hour, after_day = self.cart_flow(1), self.cart_flow(24)
            cart = self.make_order(self.customer, self.spade | self.seeds)
            anonymous = self.make_order(self.website.user_id.partner_id, self.spade)
            empty = self.make_order(self.make_partners(1), self.env["product.product"])
            offline = self.make_order(self.make_partners(1), self.spade, website=False)
        with self.at(T0 + timedelta(minutes=50)):
            self.cart_cron.method_direct_trigger()
            self.assertFalse(self.runs_of(after_hour), "not an hour yet")
        with self.at(T0 + timedelta(hours=1, minutes=5)):
            self.cart_cron.method_direct_trigger()
        run = self.runs_of(after_hour)
        self.assertEqual(run.partner_id, self.customer)
        self.assertFalse(self.runs_of(after_day))
        data = run.data
        self.assertEqual((data["order_id"], data["order_name"], data["hours"]), (cart.id, cart.name, 1))
        self.assertEqual(data["products"], "SJ Spade, SJ Seeds")
        self.assertEqual(data["amount_total"], cart.amount_total)
        self.assertTrue(data["cart_url"].endswith(f"/shop/cart?access_token={cart.access_token}"))
        with self.at(T0 + timedelta(hours=5)):
            self.cart_cron.method_direct_trigger()
        self.assertEqual(len(self.runs_of(after_hour)), 1, "raised once for 1 hour, although the flow accepts re-entry")
        with self.at(T0 + timedelta(hours=24, minutes=5)):
            self.cart_cron.method_direct_trigger()
        self.assertEqual(self.runs_of(after_day).partner_id, self.customer)
        events = self.Event.search([("kind", "=", "abandoned_cart")])
        self.assertEqual(sorted(events.mapped("external_id")),
                         [f"abandoned_cart-{cart.id}-1", f"abandoned_cart-{cart.id}-24"])
        self.assertFalse(events.filtered(lambda e: e.data["order_id"] in (anonymous | empty | offline).ids))

    def test_a_changed_cart_waits_again(self):
        with self.at(T0):
            flow = self.cart_flow(1)
            cart = self.make_order(self.customer, self.spade)
        with self.at(T0 + timedelta(minutes=50)):
            cart.order_line.product_uom_qty = 2
            self.env.flush_all()  # written when the request ends, as on the website
        with self.at(T0 + timedelta(hours=1, minutes=5)):
            self.cart_cron.method_direct_trigger()
            self.assertFalse(self.runs_of(flow), "changed 15 minutes ago")
        with self.at(T0 + timedelta(hours=1, minutes=55)):
            self.cart_cron.method_direct_trigger()
            self.assertEqual(self.runs_of(flow).partner_id, self.customer)

    def test_carts_left_before_the_trigger_existed_are_ignored(self):
        with self.at(T0):
            self.make_order(self.customer, self.spade)
        with self.at(T0 + timedelta(days=30)):
            flow = self.cart_flow(1)
            self.cart_cron.method_direct_trigger()
        self.assertFalse(self.runs_of(flow))

    def test_paying_the_order_stops_its_abandoned_cart_run(self):
        with self.at(T0):
            later = self.tag_step(self.tag_b, timing="delay", delay_value=1, delay_unit="days")
            flow = self.cart_flow(1, steps=[self.tag_step(self.tag_a), later])
            cart = self.make_order(self.customer, self.spade)
        with self.at(T0 + timedelta(hours=1, minutes=5)):
            self.cart_cron.method_direct_trigger()
            self.run_scheduler()
        run = self.runs_of(flow)
        self.assertEqual(self.jobs_of(flow).mapped("state"), ["done", "pending"])
        with self.at(T0 + timedelta(hours=3)):
            cart.action_confirm()
        self.assertEqual(run.state, "stopped")
        waiting = self.jobs_of(flow)[1]
        self.assertEqual((waiting.state, waiting.result), ("cancelled", f"Order {cart.name} was confirmed."))
        with self.at(T0 + timedelta(days=2)):
            self.cart_cron.method_direct_trigger()
            self.run_scheduler()
        self.assertEqual(len(self.runs_of(flow)), 1, "a confirmed order is no longer a cart")
        self.assertTags(self.customer, present=self.tag_a, absent=self.tag_b)

    def test_a_payment_under_way_is_not_chased(self):
        with self.at(T0):
            flow = self.cart_flow(1)
            cart = self.make_order(self.customer, self.spade)
            provider = self.env["payment.provider"].create({"name": "SJ wire", "code": "none", "state": "test"})
            self.env["payment.transaction"].create({
                "provider_id": provider.id, "payment_method_id": self.env.ref("payment.payment_method_unknown").id,
                "reference": "SJ-TX-1", "amount": cart.amount_total, "currency_id": cart.currency_id.id,
                "partner_id": self.customer.id, "sale_order_ids": [(6, 0, cart.ids)], "state": "pending",
            })
        with self.at(T0 + timedelta(hours=2)):
            self.cart_cron.method_direct_trigger()
        self.assertFalse(self.runs_of(flow))

    def test_cancelling_the_order_stops_its_run(self):
        with self.at(T0):
            later = self.tag_step(self.tag_a, timing="delay", delay_value=1, delay_unit="days")
            flow = self.cart_flow(1, steps=[later])
            cart = self.make_order(self.customer, self.spade)
        with self.at(T0 + timedelta(hours=2)):
            self.cart_cron.method_direct_trigger()
            cart._action_cancel()
        self.assertEqual(self.runs_of(flow).state, "stopped")

    @users("user_flows_admin")
    def test_abandoned_cart_trigger_needs_hours(self):
        with self.assertRaisesRegex(ValidationError, "at least 1"):
            self.cart_flow(0)


class TestOrderTriggers(SalesjetShopCase):

    def order_flow(self, trigger_type, **trigger):
        return self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": trigger_type, **trigger}])

    def test_a_confirmed_shop_order_starts_the_order_paid_flow(self):
        flow = self.order_flow("order_paid")
        order = self.make_order(self.customer, self.spade)
        order.action_confirm()
        run = self.runs_of(flow)
        self.assertEqual(run.partner_id, self.customer)
        self.assertEqual((run.data["order_name"], run.data["amount_total"]), (order.name, order.amount_total))
        self.run_scheduler()
        self.assertTags(self.customer, present=self.tag_a)

    def test_order_paid_leaves_back_office_orders_out_unless_asked(self):
        shop_only = self.order_flow("order_paid")
        every_order = self.order_flow("order_paid", sale_website_only=False)
        self.make_order(self.customer, self.spade, website=False).action_confirm()
        self.assertFalse(self.runs_of(shop_only))
        self.assertEqual(self.runs_of(every_order).partner_id, self.customer)

    def test_product_purchased_trigger_filters_products_and_categories(self):
        by_product = self.order_flow("product_purchased", product_tmpl_ids=[(6, 0, self.spade.product_tmpl_id.ids)])
        by_parent_category = self.order_flow("product_purchased", product_categ_ids=[(6, 0, self.categ_garden.ids)])
        other_product = self.order_flow("product_purchased", product_tmpl_ids=[(6, 0, self.book.product_tmpl_id.ids)])
        any_product = self.order_flow("product_purchased")
        self.make_order(self.customer, self.spade | self.seeds).action_confirm()
        self.assertEqual(self.runs_of(by_product).partner_id, self.customer)
        self.assertEqual(self.runs_of(by_parent_category).partner_id, self.customer,
                         "the spade's category is a sub-category of Garden")
        self.assertFalse(self.runs_of(other_product))
        self.assertEqual(len(self.runs_of(any_product)), 1, "one event per order, not per line")
        self.assertEqual(len(self.Event.search([("kind", "=", "product_purchased")])), 1)

    @users("user_flows_admin")
    def test_trigger_form_shows_only_the_fields_of_the_chosen_type(self):
        flow = self.make_flow([], triggers=[])
        trigger = Form(self.env["salesjet.flow.trigger"].with_context(default_flow_id=flow.id))
        trigger.trigger_type = "abandoned_cart"
        with self.assertRaises(AssertionError):
            trigger.product_tmpl_ids.add(self.spade.product_tmpl_id)  # invisible for this type
        trigger.cart_abandoned_hours = 24
        self.assertEqual(trigger.save().name, "Abandoned cart: 24 hours")
        trigger = Form(self.env["salesjet.flow.trigger"].with_context(default_flow_id=flow.id))
        trigger.trigger_type = "product_purchased"
        trigger.product_tmpl_ids.add(self.spade.product_tmpl_id)
        self.assertEqual(trigger.save().name, "Product purchased: SJ Spade")
