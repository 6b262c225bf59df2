from datetime import timedelta
from unittest import SkipTest

from odoo import Command
from odoo.exceptions import ValidationError

from odoo.addons.salesjet_flows.tests.common import T0, SalesjetCase


class TestOfferAsPersonalCoupon(SalesjetCase):
    """A special offer given as a personal coupon code: the customer uses it in a quotation and in the shop."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if "_try_apply_code" not in dir(cls.env.registry.get("sale.order", object)):
            raise SkipTest("sale_loyalty (coupons on sale orders) is not installed")
        cls.env.company.email = "shop@example.com"
        Product = cls.env["product.product"]
        cls.kibble = Product.create({"name": "SJ Kibble", "list_price": 40.0, "sale_ok": True, "taxes_id": False})
        cls.leash = Product.create({"name": "SJ Leash", "list_price": 10.0, "sale_ok": True, "taxes_id": False})
        cls.website = cls.env["website"].search([], limit=1)

    def offer_step(self, **vals):
        return {"action_type": "offer_create", "offer_product_ids": [(6, 0, self.kibble.ids)],
                "offer_price_type": "discount", "offer_discount": 25.0, "offer_validity": "days",
                "offer_valid_days": 7, "offer_as_coupon": True, **vals}

    def email_step(self):
        return {"action_type": "email", "email_source": "custom", "email_subject": "Your offer",
                "email_body": "<p>Your code: {{ object.salesjet_offer_coupon().code ||| none }}</p>"}

    def order_with_code(self, partner, code, website=None):
        order = self.env["sale.order"].create({
            "partner_id": partner.id,
            "website_id": website.id if website else False,
            "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 1})
                           for product in (self.kibble, self.leash)],
        })
        result = order._try_apply_code(code)
        self.assertNotIn("error", result, result.get("error"))
        for coupon, rewards in result.items():
            order._apply_program_reward(rewards[:1], coupon)
        return order

    def test_offer_code_in_the_message_gives_the_discount_in_a_quotation_and_in_the_shop(self):
        flow = self.make_flow([self.offer_step(), self.email_step()])
        alice, bob = self.make_partners(2, prefix="SJ coupon")
        with self.at(T0):
            self.Event.post("sj_test", alice)
            self.Event.post("sj_test", bob)
            self.run_scheduler()
        offer_job = self.jobs_of(flow, alice)[0]
        card = self.env["loyalty.card"].browse(offer_job.res_id)
        self.assertEqual((offer_job.state, offer_job.res_model, card.partner_id), ("done", "loyalty.card", alice))
        self.assertEqual(card.expiration_date, (T0 + timedelta(days=7)).date())
        with self.at(T0):
            self.assertEqual(alice.salesjet_offer_coupon(), card)
            self.assertTrue(bob.salesjet_offer_coupon().code)
            self.assertNotEqual(card.code, bob.salesjet_offer_coupon().code, "each contact has a code of its own")
        mail = self.env["mail.mail"].browse(self.jobs_of(flow, alice)[1].res_id)
        self.assertIn(f"Your code: {card.code}", str(mail.body_html), "the message carries the personal code")
        self.assertFalse(alice.property_product_pricelist.salesjet_partner_id,
                         "a coupon offer leaves the contact's pricelist alone")
        with self.at(T0 + timedelta(days=1)):
            quotation = self.order_with_code(alice, card.code)
            # 25% off the kibble only: 40 + 10 - 10
            self.assertAlmostEqual(quotation.amount_total, 40.0)
            shop_order = self.order_with_code(bob, bob.salesjet_offer_coupon().code, website=self.website)
            self.assertAlmostEqual(shop_order.amount_total, 40.0, msg="the same kind of code works in a shop order")
            quotation.action_confirm()
            card.invalidate_recordset(["points"])
            self.assertEqual(card.points, 0, "the personal coupon is used once")
            self.assertEqual(alice.salesjet_offer_coupon(), self.env["loyalty.card"])

    def test_running_the_step_again_renews_the_same_coupon(self):
        flow = self.make_flow([self.offer_step()], reentry_policy="always")
        alice = self.make_partners(1, prefix="SJ renew")
        with self.at(T0):
            self.Event.post("sj_test", alice)
            self.run_scheduler()
            first = alice.salesjet_offer_coupon()
        self.assertTrue(first)
        with self.at(T0 + timedelta(days=3)):
            self.Event.post("sj_test", alice)
            self.run_scheduler()
            again = alice.salesjet_offer_coupon()
        self.assertEqual(again, first)
        self.assertEqual(again.expiration_date, (T0 + timedelta(days=10)).date())
        self.assertEqual(flow.step_ids.offer_program_id.coupon_ids, first)

    def test_remove_offer_step_ends_the_coupon(self):
        offer = self.offer_step()
        flow = self.make_flow([offer, {"action_type": "offer_remove"}])
        alice = self.make_partners(1, prefix="SJ end")
        with self.at(T0):
            self.Event.post("sj_test", alice)
            self.run_scheduler()
        remove_job = self.jobs_of(flow, alice)[1]
        self.assertEqual(remove_job.state, "done")
        self.assertIn("Personal coupon ended", remove_job.result)
        card = flow.step_ids[0].offer_program_id.coupon_ids
        self.assertTrue(card)
        with self.at(T0):
            self.assertFalse(alice.salesjet_offer_coupon())
            order = self.env["sale.order"].create({"partner_id": alice.id, "order_line": [
                Command.create({"product_id": self.kibble.id})]})
            self.assertIn("error", order._try_apply_code(card.code))

    def test_a_fixed_price_cannot_be_a_coupon(self):
        with self.assertRaises(ValidationError):
            self.make_flow([self.offer_step(offer_price_type="fixed", offer_fixed_price=30.0)])

    def test_pricelist_offers_still_work_without_the_option(self):
        flow = self.make_flow([self.offer_step(offer_as_coupon=False)])
        alice = self.make_partners(1, prefix="SJ pricelist")
        with self.at(T0):
            self.Event.post("sj_test", alice)
            self.run_scheduler()
        self.assertEqual(self.jobs_of(flow, alice).res_model, "salesjet.special.offer")
        with self.at(T0):
            self.assertFalse(alice.salesjet_offer_coupon())
