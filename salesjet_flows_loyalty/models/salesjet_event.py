from odoo import api, fields, models

LOYALTY_EVENTS = [
    ("loyalty_purchase", "Purchase"),
    ("loyalty_registration", "Registration"),
    ("loyalty_date", "Contact date (birthday)"),
]


class SalesjetEvent(models.Model):
    _inherit = "salesjet.event"

    kind = fields.Selection(selection_add=LOYALTY_EVENTS, ondelete={key: "cascade" for key, _label in LOYALTY_EVENTS})

    @api.model
    def _post_loyalty_purchase(self, partner, order_model, order_id, extra=None):
        """Post the "purchase" event of an order (sale, point of sale, ...) about ``partner``, with the
        products and categories the trigger's filters read.

        External id ``<model>:<id>``: an order starts a scenario once, whoever posts it first (its
        confirmation or its loyalty card's history). Posted with sudo: Odoo's code posts these facts.
        """
        data = {"order_model": order_model, "order_id": order_id}
        order = self.env[order_model].sudo().browse(order_id).exists() if order_model in self.env else None
        company = self.env.company
        if order:
            lines = order["order_line"] if "order_line" in order else order["lines"] if "lines" in order else None
            products = lines.product_id if lines is not None else self.env["product.product"]
            # the products' categories and all their parents, so a trigger on a parent category matches
            categories = {int(categ_id) for path in products.categ_id.mapped("parent_path")
                          for categ_id in (path or "").split("/") if categ_id}
            data.update(order_name=order.display_name,
                        products=", ".join(dict.fromkeys(products.mapped("display_name"))),
                        product_template_ids=products.product_tmpl_id.ids,
                        product_category_ids=sorted(categories))
            company = order["company_id"] if "company_id" in order else company
        return self.sudo().with_company(company).post(
            "purchase", partner, kind="loyalty_purchase", external_id=f"{order_model}:{order_id}",
            source=order_model, data={**data, **(extra or {})})

    @api.model
    def _demo_history_facts(self, partners, rng):
        # one demo contact in six buys at the pet shop: the purchase scenario's bonus points, club and chain
        facts = super()._demo_history_facts(partners, rng)
        for partner in partners:
            if rng.random() < 1 / 6:
                facts.append((rng.uniform(0.1, 0.95),
                              lambda partner=partner: self._post_loyalty_purchase(partner, "demo.order", partner.id)))
        return facts
