from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class SalesjetFlowConditionProduct(models.AbstractModel):
    _name = "salesjet.flow.condition.product"
    _description = "Flow condition: products"

    access_product_ids = fields.Many2many(
        "product.product", "salesjet_flow_condition_access_product_rel", "condition_id", "product_id",
        check_company=True,
        string="Products", help="The contact has an active access to at least one of these products "
                                "(with the sales bridge: or bought one, as chosen on the line).")

    def _describe_has_product(self):
        return self._has_product_text(", ".join(self.access_product_ids.mapped("display_name")) or "?")

    def _has_product_text(self, products):
        """The line's text: what "has product" counts (the sales bridge adds purchases)."""
        return _("has access to %s", products)

    @api.constrains("condition_type", "access_product_ids")
    def _check_product_settings(self):
        for line in self.filtered(lambda c: c.condition_type == "has_product"):
            line._check_has_product()

    def _check_has_product(self):
        if not self.access_product_ids:
            raise ValidationError(_("Choose at least one product for the condition “has product” of step “%s”.",
                                    self.step_id.display_name))

    def _domain_has_product(self):
        accesses = self.env["salesjet.product.access"].sudo()._search([
            ("state", "=", "active"), ("product_id", "in", self.access_product_ids.ids)])
        return [("id", "in", accesses.subselect("partner_id"))]
