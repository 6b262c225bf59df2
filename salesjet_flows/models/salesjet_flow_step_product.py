from dateutil.relativedelta import relativedelta

from odoo import _, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import format_datetime

from ..tools.preview import preview_rows
from .salesjet_special_offer import offer_value_error

PRODUCT_ACTIONS = ("product_grant", "product_revoke", "offer_create", "offer_remove")


class SalesjetFlowStepProduct(models.AbstractModel):
    """Actions on products: give or take back access, create or remove a special offer."""
    _name = "salesjet.flow.step.product"
    _description = "Flow step: products and offers"

    # product access
    access_product_ids = fields.Many2many(
        "product.product", "salesjet_flow_step_access_product_rel", "step_id", "product_id",
        check_company=True,
        string="Products to give access to",
        help="Add product: the contact gets access to these products (a course, a membership...).\n"
             "Remove product access: the contact's access to these products ends; its history is kept.")
    # special offers
    offer_product_ids = fields.Many2many(
        "product.product", "salesjet_flow_step_offer_product_rel", "step_id", "product_id",
        check_company=True,
        string="Products on offer", help="The products the contact gets at the special price.")
    offer_price_type = fields.Selection(
        [("fixed", "Fixed price"), ("discount", "Discount")], string="Special price", default="discount",
        help="Fixed price: the contact pays this price for each product.\n"
             "Discount: a percentage off the price the contact would pay otherwise.")
    offer_fixed_price = fields.Float(string="Offer price", digits="Product Price")
    offer_discount = fields.Float(string="Discount (%)", digits=(16, 2), default=10.0)
    offer_validity = fields.Selection(
        [("days", "For a number of days"), ("date", "Until a date")], string="Valid", default="days",
        help="For a number of days: counted from the moment the step runs for the contact.\n"
             "Until a date: the same end for every contact.")
    offer_valid_days = fields.Integer(string="Offer valid for (days)", default=7)
    offer_valid_until = fields.Datetime(string="Valid until")
    offer_source_step_id = fields.Many2one(
        "salesjet.flow.step", string="Offer of step", ondelete="set null",
        check_company=True,
        domain=[("action_type", "=", "offer_create")],
        help="Remove special offer: end only the offer this step created (in any flow). "
             "Leave empty to end all the contact's running special offers.")

    def _display_details_product_grant(self):
        products = self.offer_product_ids if self.action_type == "offer_create" else self.access_product_ids
        return ", ".join(products.mapped("display_name"))

    _display_details_product_revoke = _display_details_offer_create = _display_details_product_grant

    def _settings_fields(self):
        return super()._settings_fields() + [
            "access_product_ids", "offer_product_ids", "offer_price_type", "offer_fixed_price", "offer_discount",
            "offer_validity", "offer_valid_days", "offer_valid_until", "offer_source_step_id",
        ]

    def _check_action_product_grant(self):
        if not self.access_product_ids:
            raise ValidationError(_("Step “%s”: choose the products to give access to.", self.display_name))
        self._check_products_company(self.access_product_ids)

    def _check_action_product_revoke(self):
        if not self.access_product_ids:
            raise ValidationError(_("Step “%s”: choose the products whose access ends.", self.display_name))

    def _check_action_offer_create(self):
        if not self.offer_product_ids:
            raise ValidationError(_("Step “%s”: choose the products on offer.", self.display_name))
        self._check_products_company(self.offer_product_ids)
        if not self.offer_price_type:
            raise ValidationError(_("Step “%s”: choose a fixed price or a discount.", self.display_name))
        error = offer_value_error(self.env, self.offer_price_type, self.offer_fixed_price, self.offer_discount)
        if error:
            raise ValidationError(_("Step “%(step)s”: %(error)s", step=self.display_name, error=error))
        if self.offer_validity == "days" and self.offer_valid_days < 1:
            raise ValidationError(_("Step “%s”: the offer must be valid for at least 1 day.", self.display_name))
        if self.offer_validity == "date" and not self.offer_valid_until:
            raise ValidationError(_("Step “%s”: set the date until which the offer is valid.", self.display_name))
        if not self.offer_validity:
            raise ValidationError(_("Step “%s”: say how long the offer is valid.", self.display_name))

    def _check_action_offer_remove(self):
        source = self.offer_source_step_id
        if source and source.action_type != "offer_create":
            raise ValidationError(_("Step “%s”: the offer to end must be the offer of a “Create special offer” "
                                    "step.", self.display_name))

    def _check_products_company(self, products):
        company = self.flow_id.company_id
        foreign = products.filtered(lambda p: p.company_id and p.company_id != company)
        if foreign:
            raise ValidationError(_("Step “%(step)s”: %(products)s belong to another company than the flow; "
                                    "choose products of %(company)s or shared ones.", step=self.display_name,
                                    products=", ".join(foreign.mapped("display_name")), company=company.name))

    # ------------------------------------------------------------------
    # Product access
    # ------------------------------------------------------------------

    def _action_product_grant(self, jobs):
        """Give every contact of the batch access to the products: one INSERT ... ON CONFLICT."""
        products = self.access_product_ids
        granted = self.env["salesjet.product.access"].sudo()._grant(jobs.partner_id.ids, products.ids, step=self)
        names = {product.id: product.display_name for product in products}
        for job in jobs:
            new = [names[pid] for pid in names if (job.partner_id.id, pid) in granted]
            had = [names[pid] for pid in names if (job.partner_id.id, pid) not in granted]
            if not new:
                job._set_result(_("Already had access to %s: nothing to do.", ", ".join(had)))
            elif had:
                job._set_result(_("Access given to %(new)s; already had %(had)s.",
                                  new=", ".join(new), had=", ".join(had)))
            else:
                job._set_result(_("Access given to %s.", ", ".join(new)))

    def _action_product_revoke(self, jobs):
        """End the contacts' access to the products: one UPDATE; history is kept."""
        products = self.access_product_ids
        revoked = self.env["salesjet.product.access"].sudo()._revoke(jobs.partner_id.ids, products.ids, step=self)
        names = {product.id: product.display_name for product in products}
        for job in jobs:
            gone = [names[pid] for pid in names if (job.partner_id.id, pid) in revoked]
            kept = [names[pid] for pid in names if (job.partner_id.id, pid) not in revoked]
            if not gone:
                job._mark_skipped(_("No access to revoke: the contact has no access to %s.", ", ".join(kept)))
            elif kept:
                job._set_result(_("Access to %(gone)s revoked; had no access to %(kept)s.",
                                  gone=", ".join(gone), kept=", ".join(kept)))
            else:
                job._set_result(_("Access to %s revoked.", ", ".join(gone)))

    # ------------------------------------------------------------------
    # Special offers
    # ------------------------------------------------------------------

    def _offer_end_date(self, now):
        if self.offer_validity == "date":
            return self.offer_valid_until
        return now + relativedelta(days=self.offer_valid_days)

    def _action_offer_create(self, jobs):
        """Create or update each contact's special offer and its personal pricelist, for the whole batch."""
        now = fields.Datetime.now()
        valid_until = self._offer_end_date(now)
        if valid_until <= now:
            jobs._mark_skipped(_("The offer was valid until %s: that date has passed.",
                                 format_datetime(self.env, valid_until)))
            return
        offers = self.env["salesjet.special.offer"]._upsert_for_step(self, jobs.partner_id.ids, valid_until)
        until = format_datetime(self.env, valid_until)
        for job in jobs:
            offer, created = offers[job.partner_id.id]
            if created:
                job._set_result(_("Special offer created: %(price)s until %(until)s.",
                                  price=offer.price_label, until=until), offer)
            else:
                job._set_result(_("Special offer updated: %(price)s until %(until)s.",
                                  price=offer.price_label, until=until), offer)

    def _action_offer_remove(self, jobs):
        """End the contacts' running special offers (or only those of the chosen step)."""
        domain = [("partner_id", "in", jobs.partner_id.ids), ("state", "=", "active"),
                  ("company_id", "=", self.company_id.id)]
        if self.offer_source_step_id:
            domain.append(("step_id", "=", self.offer_source_step_id.id))
        offers = self.env["salesjet.special.offer"].sudo().search(domain)
        offers._end("ended")
        by_partner = offers.grouped("partner_id")
        for job in jobs:
            ended = by_partner.get(job.partner_id)
            if ended:
                job._set_result(_("Special offer ended: %s.", ", ".join(ended.mapped("display_name"))), ended[:1])
            else:
                job._mark_skipped(_("No running special offer to end."))

    def _preview_product_grant(self, partner, data):
        return preview_rows([(_("Product access granted"), ", ".join(self.access_product_ids.mapped("display_name")))])

    def _preview_product_revoke(self, partner, data):
        return preview_rows([(_("Product access removed"), ", ".join(self.access_product_ids.mapped("display_name")))])

    def _preview_offer_create(self, partner, data):
        price = (_("%s (fixed price)", self.offer_fixed_price) if self.offer_price_type == "fixed"
                 else _("%s%% off", self.offer_discount))
        return preview_rows([
            (_("Special offer on"), ", ".join(self.offer_product_ids.mapped("display_name"))),
            (_("Price"), price),
        ])
