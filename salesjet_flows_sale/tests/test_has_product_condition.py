from .common import SalesjetShopCase


class TestHasProductCountsPurchases(SalesjetShopCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.step = cls.make_flow([cls.tag_step(cls.tag_a)]).step_ids
        cls.buyer, cls.granted, cls.browser = cls.make_partners(3, prefix="SJ has product")
        cls.env["salesjet.product.access"]._grant(cls.granted.ids, cls.spade.ids)

    def condition(self, how=None):
        vals = {"step_id": self.step.id, "condition_type": "has_product",
                "access_product_ids": [(6, 0, self.spade.ids)]}
        if how:
            vals["has_product_how"] = how
        return self.env["salesjet.flow.condition"].create(vals)

    def contacts(self):
        return self.buyer | self.granted | self.browser

    def test_has_product_after_a_confirmed_order_or_a_grant_by_default(self):
        line = self.condition()
        self.assertEqual(line.has_product_how, "either")
        self.assertEqual(line._filter(self.contacts()), self.granted, "before any purchase: the grant only")
        self.make_order(self.browser, self.spade)  # a cart is not a purchase
        self.make_order(self.buyer, self.spade, website=False).action_confirm()
        self.assertEqual(line._filter(self.contacts()), self.buyer | self.granted)
        self.assertIn("bought or has access to", line.name)
        line.negate = True
        self.assertEqual(line._filter(self.contacts()), self.browser)

    def test_bought_only_and_access_only(self):
        self.make_order(self.buyer, self.spade, website=False).action_confirm()
        bought = self.condition("bought")
        self.assertEqual(bought._filter(self.contacts()), self.buyer)
        self.assertIn("bought", bought.name)
        access = self.condition("access")
        self.assertEqual(access._filter(self.contacts()), self.granted)
        self.assertIn("has access to", access.name)

    def test_another_product_bought_does_not_count(self):
        self.make_order(self.buyer, self.seeds, website=False).action_confirm()
        self.assertEqual(self.condition("bought")._filter(self.contacts()), self.env["res.partner"])

    def test_a_batch_is_filtered_in_one_query(self):
        self.make_order(self.buyer, self.spade, website=False).action_confirm()
        line = self.condition()
        partners = self.make_partners(50) | self.contacts()
        self.env.flush_all()
        with self.assertQueryCount(1):
            self.assertEqual(line._filter(partners), self.buyer | self.granted)
