from odoo import fields, models


class ProductPricelistItem(models.Model):
    _inherit = "product.pricelist.item"

    # ---- Special offers ----
    salesjet_offer_id = fields.Many2one(
        "salesjet.special.offer", string="Special offer", ondelete="cascade", index="btree_not_null",
        help="The contact's special offer this rule applies.")
