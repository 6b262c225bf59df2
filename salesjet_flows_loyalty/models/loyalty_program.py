"""Special offers as personal coupon codes: Odoo's own way to give one customer a discount.

A special offer step of the core makes a personal pricelist, which Odoo keeps off websites. With
"as a personal coupon code", the step instead keeps a discount programme of its own (a ``loyalty.program`` of
type coupons on the offer's products) and gives each contact a coupon (``loyalty.card``) valid until the offer's
end. The code works wherever Odoo takes coupon codes: quotations (sale_loyalty) and the website shop's cart
(website_sale_loyalty). Messages place it with ``{{ object.salesjet_offer_coupon().code }}``.
"""
from odoo import fields, models


class LoyaltyProgram(models.Model):
    _inherit = "loyalty.program"

    salesjet_offer_step_id = fields.Many2one(
        "salesjet.flow.step", string="SalesJet offer step", ondelete="set null", index="btree_not_null",
        readonly=True, help="The special offer step whose personal coupons this programme holds.")
