from contextlib import contextmanager
from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command

from odoo.addons.salesjet_flows.tests.common import SalesjetCase, factory


class SalesjetShopCase(SalesjetCase):
    """A website, products in a small category tree and a customer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.website = cls.env.ref("website.default_website")
        Category = cls.env["product.category"]
        cls.categ_garden = Category.create({"name": "SJ Garden"})
        cls.categ_tools = Category.create({"name": "SJ Tools", "parent_id": cls.categ_garden.id})
        Product = cls.env["product.product"]
        cls.spade = Product.create({"name": "SJ Spade", "list_price": 30.0, "categ_id": cls.categ_tools.id,
                                    "is_published": True, "sale_ok": True})
        cls.seeds = Product.create({"name": "SJ Seeds", "list_price": 5.0, "categ_id": cls.categ_garden.id,
                                    "is_published": True, "sale_ok": True})
        cls.book = Product.create({"name": "SJ Book", "list_price": 12.0, "is_published": True, "sale_ok": True})
        cls.customer = cls.env["res.partner"].create({"name": "SJ Customer", "email": "customer@example.com"})
        cls.cart_cron = cls.env.ref("salesjet_flows_sale.ir_cron_salesjet_abandoned_carts")

    @contextmanager
    def at(self, when):
        """Freeze time, and the transaction's NOW too: create and write dates follow it."""
        with freeze_time(when), patch.object(self.env.cr, "now", lambda: when):
            yield

    @factory
    def make_order(cls, partner, products, website=True):
        """A cart (or an order) as the shop leaves it at the end of a request: written to the database."""
        order = cls.env["sale.order"].create({
            "partner_id": partner.id,
            "website_id": cls.website.id if website else False,
            "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 1}) for product in products],
        })
        cls.env.flush_all()
        return order

    def runs_of(self, flow):
        flow.invalidate_recordset(["enrollment_ids"])
        return flow.enrollment_ids
