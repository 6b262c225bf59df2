from odoo import _, api, fields, models
from odoo.tools import SQL


class SalesjetFlowCondition(models.Model):
    _inherit = "salesjet.flow.condition"

    condition_type = fields.Selection(selection_add=[
        ("purchased_product", "Purchased a product"),
    ], ondelete={"purchased_product": "cascade"})
    product_tmpl_ids = fields.Many2many(
        "product.template", "salesjet_flow_condition_product_template_rel", "condition_id", "product_tmpl_id",
        check_company=True,
        ondelete="restrict",  # never widen a filter silently: a used record cannot be deleted
        string="Purchased products", help="At least one of these products (any variant). Leave products and categories "
                                "empty for any product.",
    )
    product_categ_ids = fields.Many2many(
        "product.category", "salesjet_flow_condition_product_category_rel", "condition_id", "categ_id",
        ondelete="restrict",
        string="Product categories", help="Or a product of one of these categories or of their sub-categories.",
    )

    has_product_how = fields.Selection(
        [("either", "Bought it or has access"), ("bought", "Bought it"), ("access", "Has access")],
        string="Counts", default="either",
        help="What “Has product” counts: a confirmed order line or a paid invoice line of the product for the "
             "contact's company, an active access granted by a flow, or either.",
    )

    @api.depends("condition_type", "negate", "tag_ids", "field_id", "operator", "value",
                 "product_tmpl_ids", "product_categ_ids", "access_product_ids", "has_product_how")
    def _compute_name(self):
        res = super()._compute_name()
        for line in self.filtered(lambda cond: cond.condition_type == "purchased_product"):
            names = line.product_tmpl_ids.mapped("name") + line.product_categ_ids.mapped("name")
            text = _("purchased %s", ", ".join(names) or _("any product"))
            line.name = _("NOT %s", text) if line.negate else text
        return res

    def _product_domain(self, product_field):
        """Lines of the chosen products or categories (any product when none is chosen)."""
        domains = []
        if self.product_tmpl_ids:
            domains.append([(f"{product_field}.product_tmpl_id", "in", self.product_tmpl_ids.ids)])
        if self.product_categ_ids:
            domains.append([(f"{product_field}.categ_id", "child_of", self.product_categ_ids.ids)])
        if not domains:
            return [(product_field, "!=", False)]
        return domains[0] if len(domains) == 1 else ["|", *domains[0], *domains[1]]

    def _has_product_text(self, products):
        if self.has_product_how == "bought":
            return _("bought %s", products)
        if self.has_product_how == "either":
            return _("bought or has access to %s", products)
        return super()._has_product_text(products)

    def _domain_has_product(self):
        """Granted access (the core's domain), a purchase of one of the products, or either."""
        how = self.has_product_how or "either"
        bought = self._bought_domain([("product_id", "in", self.access_product_ids.ids)])
        if how == "bought":
            return bought
        access = super()._domain_has_product()
        return access if how == "access" else ["|", *access, *bought]

    def _domain_purchased_product(self):
        return self._bought_domain(self._product_domain("product_id"))

    def _bought_domain(self, product_domain):
        """The contact's company (commercial partner) has a confirmed order line or a paid invoice line
        whose product matches ``product_domain`` (on ``product_id``): one query with two subselects."""
        sale_lines = self.env["sale.order.line"].sudo()._search([
            ("state", "=", "sale"), ("display_type", "=", False), *product_domain])
        buyers = self.env["res.partner"].sudo().with_context(active_test=False)._search(
            [("id", "in", sale_lines.subselect(SQL.identifier(sale_lines.table, "order_partner_id")))])
        invoice_lines = self.env["account.move.line"].sudo()._search([
            ("move_id.move_type", "=", "out_invoice"), ("parent_state", "=", "posted"),
            ("move_id.payment_state", "in", ("paid", "in_payment")), ("display_type", "=", "product"),
            *product_domain])
        return [
            "|",
            ("commercial_partner_id", "in", buyers.subselect(SQL.identifier(buyers.table, "commercial_partner_id"))),
            ("commercial_partner_id", "in", invoice_lines.subselect(SQL.identifier(invoice_lines.table, "partner_id"))),
        ]
