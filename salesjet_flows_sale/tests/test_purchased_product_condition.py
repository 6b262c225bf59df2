from .common import SalesjetShopCase


class TestPurchasedProductCondition(SalesjetShopCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.step = cls.make_flow([cls.tag_step(cls.tag_a)]).step_ids
        cls.company = cls.env["res.partner"].create({"name": "SJ Buyer Co", "is_company": True})
        cls.buyer, cls.colleague = cls.make_partners(2, prefix="SJ buyer", parent_id=cls.company.id)
        cls.window_shopper = cls.make_partners(1, prefix="SJ window")
        cls.make_order(cls.buyer, cls.spade).action_confirm()
        cls.make_order(cls.window_shopper, cls.seeds)  # a cart, never confirmed

    def condition(self, **vals):
        return self.env["salesjet.flow.condition"].create({
            "step_id": self.step.id, "condition_type": "purchased_product", **vals})

    def contacts(self):
        return self.buyer | self.colleague | self.window_shopper

    def test_confirmed_order_line_of_the_product(self):
        spade = self.condition(product_tmpl_ids=[(6, 0, self.spade.product_tmpl_id.ids)])
        self.assertEqual(spade._filter(self.contacts()), self.buyer | self.colleague,
                         "the buyer's company bought it")
        spade.negate = True
        self.assertEqual(spade._filter(self.contacts()), self.window_shopper)

    def test_a_cart_is_not_a_purchase(self):
        seeds = self.condition(product_tmpl_ids=[(6, 0, self.seeds.product_tmpl_id.ids)])
        self.assertFalse(seeds._filter(self.contacts()))

    def test_category_and_any_product(self):
        garden = self.condition(product_categ_ids=[(6, 0, self.categ_garden.ids)])
        self.assertEqual(garden._filter(self.contacts()), self.buyer | self.colleague)
        anything = self.condition()
        self.assertEqual(anything._filter(self.contacts()), self.buyer | self.colleague)
        self.assertIn("any product", anything.name)

    def test_paid_invoice_line_counts_as_a_purchase(self):
        book = self.condition(product_tmpl_ids=[(6, 0, self.book.product_tmpl_id.ids)])
        invoice = self.env["account.move"].create({
            "move_type": "out_invoice", "partner_id": self.window_shopper.id,
            "invoice_line_ids": [(0, 0, {"product_id": self.book.id, "quantity": 1, "price_unit": 12.0})],
        })
        invoice.action_post()
        self.assertFalse(book._filter(self.contacts()), "posted but not paid")
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids).create({})._create_payments()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(book._filter(self.contacts()), self.window_shopper)

    def test_a_batch_is_filtered_in_one_query(self):
        spade = self.condition(product_tmpl_ids=[(6, 0, self.spade.product_tmpl_id.ids)],
                               product_categ_ids=[(6, 0, self.categ_tools.ids)])
        partners = self.make_partners(50) | self.contacts()
        self.env.flush_all()
        with self.assertQueryCount(1):
            self.assertEqual(spade._filter(partners), self.buyer | self.colleague)
