from datetime import timedelta

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL, format_datetime, formatLang

from .salesjet_cron import REMAINING_COUNT_CAP

OFFER_STATES = [
    ("active", "Active"),
    ("ended", "Ended"),
    ("expired", "Expired"),
]

PRICE_TYPES = [
    ("fixed", "Fixed price"),
    ("discount", "Discount"),
]

EXPIRY_BATCH_SIZE = 1000


def offer_value_error(env, price_type, fixed_price, discount):
    """The sentence saying what is wrong with an offer's price, or None (shared by steps and offers)."""
    if price_type == "fixed" and fixed_price < 0:
        return env._("a fixed price cannot be negative; enter 0 or more.")
    if price_type == "discount" and not 0 < discount <= 100:
        return env._("a discount is a percentage: enter more than 0 and at most 100.")
    return None


class SalesjetSpecialOffer(models.Model):
    """A contact's special price on some products, for a limited time.

    The price is real: each contact with offers gets a personal pricelist
    (``product.pricelist`` with ``salesjet_partner_id``) whose first rule falls
    back to the pricelist the contact had before, so every other product keeps
    its price, and whose product rules carry the offers (one rule per offered
    product, ending at the offer's end). The contact's pricelist is set to it
    while an offer runs, and restored when the contact's last offer ends.
    """
    _name = "salesjet.special.offer"
    _description = "Special Offer"
    _inherit = ["mail.thread"]
    _order = "date_start desc, id desc"

    partner_id = fields.Many2one(
        "res.partner", string="Contact", required=True, ondelete="cascade", index=True, readonly=True)
    product_ids = fields.Many2many(
        "product.product", "salesjet_special_offer_product_rel", "offer_id", "product_id", string="Products",
        readonly=True, help="The products this contact gets at the special price.")
    price_type = fields.Selection(
        PRICE_TYPES, string="Price", required=True, default="fixed", readonly=True,
        help="Fixed price: the contact pays this price for each product.\n"
             "Discount: the contact gets this percentage off the price it would pay otherwise.")
    fixed_price = fields.Float(string="Offer price", digits="Product Price", readonly=True)
    discount = fields.Float(string="Discount (%)", digits=(16, 2), readonly=True)
    currency_id = fields.Many2one(related="pricelist_id.currency_id", string="Currency")
    date_start = fields.Datetime(string="Starts on", required=True, default=fields.Datetime.now, readonly=True)
    valid_until = fields.Datetime(
        string="Valid until", required=True, readonly=True,
        help="After this moment the products are back at the contact's usual price.")
    date_ended = fields.Datetime(string="Ended on", readonly=True)
    state = fields.Selection(
        OFFER_STATES, string="Status", required=True, default="active", readonly=True,
        help="Active: the special price applies now (until its validity ends).\n"
             "Ended: removed by a flow step or by hand before its end.\n"
             "Expired: its validity is over.")
    flow_id = fields.Many2one(
        "salesjet.flow", string="Flow", ondelete="set null", index="btree_not_null", readonly=True)
    step_id = fields.Many2one(
        "salesjet.flow.step", string="Step", ondelete="set null", index="btree_not_null", readonly=True,
        help="The step that created the offer. Running that step again for the contact updates this offer.")
    company_id = fields.Many2one("res.company", string="Company", required=True, index=True, readonly=True)
    pricelist_id = fields.Many2one(
        "product.pricelist", string="Personal pricelist", ondelete="set null", readonly=True,
        help="The contact's own pricelist that carries its special offers.")
    previous_pricelist_id = fields.Many2one(
        related="pricelist_id.salesjet_previous_pricelist_id", string="Pricelist before the offers")
    item_ids = fields.One2many(
        "product.pricelist.item", "salesjet_offer_id", string="Pricelist rules", readonly=True)
    price_label = fields.Char(string="Special price", compute="_compute_price_label")

    def init(self):
        # Running a step again for a contact updates its offer instead of adding one.
        self.env.cr.execute(SQL("""
            CREATE UNIQUE INDEX IF NOT EXISTS salesjet_special_offer_step_active_uniq
                ON salesjet_special_offer (partner_id, step_id) WHERE state = 'active' AND step_id IS NOT NULL
        """))

    @api.depends("partner_id", "product_ids")
    def _compute_display_name(self):
        for offer in self:
            offer.display_name = _("%(products)s for %(contact)s",
                                   products=", ".join(offer.product_ids.mapped("display_name")) or _("Special offer"),
                                   contact=offer.partner_id.display_name)

    @api.depends("price_type", "fixed_price", "discount", "currency_id")
    def _compute_price_label(self):
        for offer in self:
            offer.price_label = offer._price_text(offer.price_type, offer.fixed_price, offer.discount,
                                                  offer.currency_id)

    def _price_text(self, price_type, fixed_price, discount, currency):
        if price_type == "discount":
            return _("%s%% off", formatLang(self.env, discount))
        return formatLang(self.env, fixed_price, currency_obj=currency or self.env.company.currency_id)

    @api.constrains("price_type", "fixed_price", "discount", "product_ids", "date_start", "valid_until")
    def _check_offer(self):
        for offer in self:
            if not offer.product_ids:
                raise ValidationError(_("Special offer for %s: choose at least one product.",
                                        offer.partner_id.display_name))
            error = offer_value_error(self.env, offer.price_type, offer.fixed_price, offer.discount)
            if error:
                raise ValidationError(_("Special offer for %(contact)s: %(error)s",
                                        contact=offer.partner_id.display_name, error=error))
            if offer.valid_until <= offer.date_start:
                raise ValidationError(_("Special offer for %s: its end must come after its start.",
                                        offer.partner_id.display_name))

    # ------------------------------------------------------------------
    # Creating and updating offers for a batch of contacts
    # ------------------------------------------------------------------

    @api.model
    def _upsert_for_step(self, step, partner_ids, valid_until):
        """Create or update the offer of ``step`` for each of ``partner_ids``, with bounded queries.

        A contact who already has an active offer from this step gets it updated
        (new price, products and end); the others get a new offer. Their
        personal pricelists are created (in one call) or re-activated.

        :return: dict {partner_id: (offer, created)}
        """
        company = step.company_id
        now = fields.Datetime.now()
        Offer = self.sudo().with_context(tracking_disable=True, mail_create_nolog=True, mail_create_nosubscribe=True)
        partner_ids = list(dict.fromkeys(partner_ids))
        pricelists = self._ensure_personal_pricelists(self.env["res.partner"].browse(partner_ids), company)
        existing = Offer.search([("step_id", "=", step.id), ("partner_id", "in", partner_ids),
                                 ("state", "=", "active")])
        vals = {
            "product_ids": [(6, 0, step.offer_product_ids.ids)],
            "price_type": step.offer_price_type,
            "fixed_price": step.offer_fixed_price if step.offer_price_type == "fixed" else 0.0,
            "discount": step.offer_discount if step.offer_price_type == "discount" else 0.0,
            "valid_until": valid_until,
        }
        if existing:
            existing.item_ids.unlink()
            existing.write(vals)
            # the pricelist may have been replaced since (e.g. archived by hand, then a new one made)
            for pricelist, offers in existing.grouped(lambda o: pricelists[o.partner_id.id]).items():
                offers.write({"pricelist_id": pricelist.id})
        have = set(existing.partner_id.ids)
        created = Offer.create([{
            **vals,
            "partner_id": partner_id,
            "date_start": now,
            "step_id": step.id,
            "flow_id": step.flow_id.id,
            "company_id": company.id,
            "pricelist_id": pricelists[partner_id].id,
        } for partner_id in partner_ids if partner_id not in have])
        offers = existing | created
        offers._create_items()
        price = self._price_text(step.offer_price_type, step.offer_fixed_price, step.offer_discount,
                                 offers[:1].currency_id)
        until = format_datetime(self.env, valid_until)
        names = ", ".join(step.offer_product_ids.mapped("display_name"))
        params = {"flow": step.flow_id.name, "products": names, "price": price, "until": until}
        Offer.browse(created.ids)._message_log_batch(bodies=dict.fromkeys(created.ids, Markup(_(
            "Created by flow <b>%(flow)s</b>: %(products)s at %(price)s until %(until)s.")) % params))
        Offer.browse(existing.ids)._message_log_batch(bodies=dict.fromkeys(existing.ids, Markup(_(
            "Updated by flow <b>%(flow)s</b>: %(products)s at %(price)s until %(until)s.")) % params))
        result = {offer.partner_id.id: (offer.with_env(self.env), False) for offer in existing}
        result.update({offer.partner_id.id: (offer.with_env(self.env), True) for offer in created})
        return result

    def _item_vals(self):
        """Values of the pricelist rules that give this offer's price."""
        self.ensure_one()
        base = self.pricelist_id._salesjet_base_item()
        vals = {
            "pricelist_id": self.pricelist_id.id,
            "salesjet_offer_id": self.id,
            "date_start": self.date_start,
            "date_end": self.valid_until,
            "min_quantity": 0,
        }
        if self.price_type == "fixed":
            vals.update(compute_price="fixed", fixed_price=self.fixed_price)
        else:
            # off what the contact would pay without the offer, not off the list price
            vals.update(compute_price="percentage", percent_price=self.discount,
                        base="pricelist" if base else "list_price", base_pricelist_id=base.base_pricelist_id.id)
        return [{
            **vals, "applied_on": "0_product_variant", "product_id": product.id,
            "product_tmpl_id": product.product_tmpl_id.id,
        } for product in self.product_ids]

    def _create_items(self):
        self.env["product.pricelist.item"].sudo().create([vals for offer in self for vals in offer._item_vals()])

    @api.model
    def _ensure_personal_pricelists(self, partners, company):
        """Give each of ``partners`` its personal pricelist in ``company`` and make it theirs.

        The first time, the pricelist is created (one ``create`` for the batch)
        with a rule that prices everything at the contact's current pricelist.
        A contact whose pricelist is not (or no longer) its personal one has its
        current pricelist remembered, to be restored when its last offer ends.

        :return: dict {partner_id: product.pricelist}
        """
        Pricelist = self.env["product.pricelist"].sudo().with_context(active_test=False, tracking_disable=True)
        partners = partners.with_company(company).sudo()
        personal = {
            pricelist.salesjet_partner_id.id: pricelist
            for pricelist in Pricelist.search([("salesjet_partner_id", "in", partners.ids),
                                               ("company_id", "=", company.id)])
        }
        switching = partners.filtered(lambda p: not personal.get(p.id) or not personal[p.id].active
                                      or p.specific_property_product_pricelist != personal[p.id])
        if not switching:
            return personal
        # what each contact pays now: the base of its personal pricelist
        current = {partner.id: partner.property_product_pricelist for partner in switching}
        own = {partner.id: partner.specific_property_product_pricelist for partner in switching}
        missing = switching.filtered(lambda p: p.id not in personal)
        extra = {"website_id": False} if "website_id" in Pricelist._fields else {}  # never offered on a shop
        new = Pricelist.create([{
            "name": _("Special offer – %s", partner.display_name),
            "salesjet_partner_id": partner.id,
            "company_id": company.id,
            "currency_id": (current[partner.id].currency_id or company.currency_id).id,
            "sequence": 1000,
            **extra,
        } for partner in missing])
        personal.update(zip(missing.ids, new, strict=True))
        reused = Pricelist.browse([personal[p.id].id for p in switching - missing])
        reused.filtered(lambda pl: not pl.active).write({"active": True})
        for partner in switching:
            pricelist = personal[partner.id]
            if pricelist.currency_id != (current[partner.id].currency_id or company.currency_id):
                pricelist.currency_id = current[partner.id].currency_id or company.currency_id
        # remember the contact's own pricelist, one write per distinct previous pricelist
        by_previous = {}
        for partner in switching:
            by_previous.setdefault(own[partner.id].id, []).append(personal[partner.id].id)
        for previous_id, pricelist_ids in by_previous.items():
            Pricelist.browse(pricelist_ids).write({"salesjet_previous_pricelist_id": previous_id or False})
        # base rules: everything at the price of the contact's current pricelist
        pricelists = Pricelist.browse([personal[p.id].id for p in switching])
        pricelists.item_ids.filtered(lambda i: not i.salesjet_offer_id).unlink()
        self.env["product.pricelist.item"].sudo().create([{
            "pricelist_id": personal[partner.id].id,
            "applied_on": "3_global",
            "compute_price": "formula",
            "base": "pricelist",
            "base_pricelist_id": current[partner.id].id,
            "price_discount": 0,
        } for partner in switching if current[partner.id] and current[partner.id] != personal[partner.id]])
        self._set_partner_pricelists(company, {partner.id: personal[partner.id].id for partner in switching})
        return personal

    @api.model
    def _set_partner_pricelists(self, company, pricelist_by_partner):
        """Set each contact's own pricelist in ``company`` (None: back to the default), in one statement.

        The ORM writes a company-dependent value per contact; this writes the
        jsonb column of the whole batch at once, as the ORM would store it.
        """
        if not pricelist_by_partner:
            return
        Partner = self.env["res.partner"]
        Partner.flush_model(["specific_property_product_pricelist"])
        self.env.cr.execute(SQL(
            """
            UPDATE res_partner p
               SET specific_property_product_pricelist = CASE
                   WHEN v.pricelist_id IS NULL
                   THEN COALESCE(p.specific_property_product_pricelist, '{}'::jsonb) - %(company)s
                   ELSE COALESCE(p.specific_property_product_pricelist, '{}'::jsonb)
                        || jsonb_build_object(%(company)s, v.pricelist_id)
                   END
              FROM unnest(%(partners)s::int[], %(pricelists)s::int[]) AS v(partner_id, pricelist_id)
             WHERE p.id = v.partner_id
            """,
            company=str(company.id), partners=list(pricelist_by_partner),
            pricelists=[pricelist_id or None for pricelist_id in pricelist_by_partner.values()],
        ))
        Partner.browse(list(pricelist_by_partner)).invalidate_recordset(
            ["specific_property_product_pricelist", "property_product_pricelist"])

    # ------------------------------------------------------------------
    # Ending offers
    # ------------------------------------------------------------------

    def _end(self, state="ended"):
        """End these active offers (``ended`` by a step or by hand, ``expired`` when their time is over).

        Their pricelist rules stop at once (an ended offer's rules end now, an
        expired one's already ended), and contacts with no other running offer
        get back the pricelist they had before.
        """
        offers = self.sudo().filtered(lambda o: o.state == "active").with_context(tracking_disable=True)
        if not offers:
            return
        now = fields.Datetime.now()
        if state == "ended":
            items = offers.item_ids.filtered(lambda i: not i.date_end or i.date_end > now)
            # an offer created this very second: its rule must still start before it ends
            items.filtered(lambda i: i.date_start and i.date_start >= now).write(
                {"date_start": now - timedelta(seconds=1)})
            items.write({"date_end": now})
        offers.write({"state": state, "date_ended": now})
        text = _("Ended.") if state == "ended" else _("Expired: its validity is over.")
        offers._message_log_batch(bodies=dict.fromkeys(offers.ids, text))
        for company, company_offers in offers.grouped("company_id").items():
            self._restore_pricelists(company, company_offers.partner_id)

    @api.model
    def _restore_pricelists(self, company, partners):
        """Give back their previous pricelist to ``partners`` who have no running offer left in ``company``.

        Only contacts whose pricelist is still their personal one: a pricelist a
        salesperson chose meanwhile is kept. The personal pricelists are archived.
        """
        still = self.sudo().search([("partner_id", "in", partners.ids), ("company_id", "=", company.id),
                                    ("state", "=", "active")]).partner_id
        done = partners - still
        if not done:
            return
        Pricelist = self.env["product.pricelist"].sudo().with_context(active_test=False, tracking_disable=True)
        personal = Pricelist.search([("salesjet_partner_id", "in", done.ids), ("company_id", "=", company.id)])
        by_partner = {pricelist.salesjet_partner_id.id: pricelist for pricelist in personal}
        restore = {
            partner.id: by_partner[partner.id].salesjet_previous_pricelist_id.id
            for partner in done.with_company(company).sudo()
            if partner.id in by_partner and partner.specific_property_product_pricelist == by_partner[partner.id]
        }
        self._set_partner_pricelists(company, restore)
        personal.filtered("active").write({"active": False})

    @api.model
    def _cron_expire_offers(self):
        """Scheduled action: expire offers whose validity is over, for one call's time budget."""
        Offer = self.sudo()

        def due():
            return [("state", "=", "active"), ("valid_until", "<=", fields.Datetime.now())]

        def run_batch(limit):
            offers = Offer.search(due(), limit=limit, order="valid_until, id")
            offers._end("expired")
            return len(offers)

        return self.env["salesjet.cron"]._run_batches(
            run_batch, lambda: Offer.search_count(due(), limit=REMAINING_COUNT_CAP), EXPIRY_BATCH_SIZE)

    # ------------------------------------------------------------------
    # UI
    # ------------------------------------------------------------------

    def action_end(self):
        """End these offers now (button): prices are back to normal at once."""
        self.check_access("write")
        self._end("ended")
        return True
