from odoo import fields, models
from odoo.tools import SQL


class ProductPricelist(models.Model):
    _inherit = "product.pricelist"

    # ---- Special offers ----
    salesjet_partner_id = fields.Many2one(
        "res.partner", string="Special offers of", ondelete="cascade", index="btree_not_null", readonly=True,
        help="This pricelist carries the special offers of this contact only; flows manage it.")
    salesjet_previous_pricelist_id = fields.Many2one(
        "product.pricelist", string="Pricelist before the offers", ondelete="set null", readonly=True,
        help="The contact's own pricelist before its first running offer (empty: the default one); "
             "it is given back when the contact's last offer ends.")

    def init(self):
        self.env.cr.execute(SQL("""
            CREATE UNIQUE INDEX IF NOT EXISTS product_pricelist_salesjet_partner_uniq
                ON product_pricelist (salesjet_partner_id, COALESCE(company_id, 0))
             WHERE salesjet_partner_id IS NOT NULL
        """))

    def _salesjet_base_item(self):
        """The rule that prices everything at the contact's previous pricelist (maybe empty)."""
        self.ensure_one()
        return self.item_ids.filtered(lambda i: not i.salesjet_offer_id and i.base == "pricelist")[:1]

    def _get_partner_pricelist_multi_search_domain_hook(self, company_id):
        # a contact's personal pricelist is never anyone's default
        return super()._get_partner_pricelist_multi_search_domain_hook(company_id) + [
            ("salesjet_partner_id", "=", False)]
