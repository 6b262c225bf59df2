from datetime import timedelta

from odoo import _, api, fields, models
from odoo.osv import expression
from odoo.tools import SQL, email_normalize

from ..tools.phone import phone_e164
from .salesjet_flow_template import POPULAR_DAYS


class ResPartner(models.Model):
    _inherit = "res.partner"

    # ---- Finding contacts ----
    # Events (the API, website forms, lead ads, imports) find their contact by normalised email, else phone
    # (_salesjet_find_or_create). Odoo's mail and phone_validation store both without an index: each lookup
    # read every contact (26 ms at 114,000 contacts, measured; linear in the contacts). Indexed here.
    email_normalized = fields.Char(index="btree_not_null")
    phone_sanitized = fields.Char(index="btree_not_null")

    # ---- Product access ----
    salesjet_product_access_ids = fields.One2many(
        "salesjet.product.access", "partner_id", string="Product access",
        help="Products this contact was given access to by flows, with their history.")
    salesjet_product_access_count = fields.Integer(
        string="Product access count", compute="_compute_salesjet_product_access_count",
        help="How many products this contact has access to now.")

    def _compute_salesjet_product_access_count(self):
        data = dict(self.env["salesjet.product.access"]._read_group(
            [("partner_id", "in", self.ids), ("state", "=", "active")], ["partner_id"], ["__count"]))
        for partner in self:
            partner.salesjet_product_access_count = data.get(partner, 0)

    def action_view_salesjet_product_access(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("salesjet_flows.salesjet_product_access_action")
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"search_default_filter_active": 1}
        return action

    # ---- Special offers ----
    salesjet_offer_ids = fields.One2many(
        "salesjet.special.offer", "partner_id", string="Special offers",
        help="Special prices flows gave this contact, running and past.")
    salesjet_offer_count = fields.Integer(
        string="Special offer count", compute="_compute_salesjet_offer_count",
        help="How many special offers of this contact are running now.")

    def _compute_salesjet_offer_count(self):
        data = dict(self.env["salesjet.special.offer"]._read_group(
            [("partner_id", "in", self.ids), ("state", "=", "active")], ["partner_id"], ["__count"]))
        for partner in self:
            partner.salesjet_offer_count = data.get(partner, 0)

    def action_view_salesjet_offers(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("salesjet_flows.salesjet_special_offer_action")
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"search_default_filter_active": 1}
        return action

    # ---- Runs ----
    salesjet_enrollment_count = fields.Integer(
        string="Flows", compute="_compute_salesjet_enrollment_count",
        groups="salesjet_flows.group_salesjet_user",
        help="How many runs of flows this contact has had, running and ended.")

    def _compute_salesjet_enrollment_count(self):
        data = dict(self.env["salesjet.flow.enrollment"]._read_group(
            [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]))
        for partner in self:
            partner.salesjet_enrollment_count = data.get(partner, 0)

    def action_view_salesjet_enrollments(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("salesjet_flows.salesjet_flow_enrollment_action")
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {}
        return action

    # ---- Conditions ----
    salesjet_match_step_id = fields.Many2one(
        "salesjet.flow.step", string="Meets the conditions of step", compute="_compute_salesjet_match_step_id",
        search="_search_salesjet_match_step_id",
        help="Technical: search contacts with (this field, '=', step id) to get those who meet the step's "
             "conditions now. The list of a step's matching contacts uses it, so it is evaluated live.",
    )

    def _compute_salesjet_match_step_id(self):
        self.salesjet_match_step_id = False

    @api.model
    def _search_salesjet_match_step_id(self, operator, value):
        # who meets a step's conditions (e.g. who opened its email) is for flow users only
        if operator != "=" or not isinstance(value, int) or not self.env.user.has_group(
                "salesjet_flows.group_salesjet_user"):
            return expression.FALSE_DOMAIN
        step = self.env["salesjet.flow.step"].browse(value).exists()
        return step._match_domain() if step else expression.FALSE_DOMAIN

    # ---- Event sources ----
    @api.model
    def _salesjet_find_or_create(self, contacts, company=None):
        """Find the contact of each dict of ``contacts`` by email (normalised), then by phone (E.164),
        and create the missing ones, set-based: one search per key and one create.

        :param list contacts: dicts with ``email``, ``phone``, ``name`` and any other ``res.partner`` values
        :param company: the company whose contacts (and shared contacts) are searched
        :return: a list of ``res.partner`` records (empty for a dict without email, phone nor name), in order
        """
        Partner = self.sudo().with_context(active_test=False)
        company = company or self.env.company
        country_code = company.country_id.code
        keyed = []
        for values in contacts:
            values = dict(values)
            email = email_normalize(values.pop("email", None) or "") or None
            raw_phone = values.pop("phone", None) or None
            phone = phone_e164(raw_phone, self.env["res.country"].browse(values.get("country_id")).code or country_code)
            keyed.append((email, phone, raw_phone, values))
        company_domain = [("company_id", "in", [False, company.id])]
        by_email, by_phone = {}, {}
        emails = {email for email, *_rest in keyed if email}
        if emails:
            for partner in Partner.search([("email_normalized", "in", list(emails)), *company_domain], order="id desc"):
                by_email[partner.email_normalized] = partner  # the oldest contact wins
        phones = {phone for email, phone, *_rest in keyed if phone and not (email and email in by_email)}
        if phones:
            for partner in Partner.search([("phone_sanitized", "in", list(phones)), *company_domain], order="id desc"):
                by_phone[partner.phone_sanitized] = partner
        to_create, result = {}, []
        for email, phone, raw_phone, values in keyed:
            partner = (email and by_email.get(email)) or (phone and by_phone.get(phone))
            if partner:
                result.append(partner)
                continue
            key = email or phone or values.get("name")
            if not key:
                result.append(Partner.browse())
                continue
            if key not in to_create:
                vals = {k: v for k, v in values.items() if v not in (None, False, "")}
                vals.setdefault("name", (email or raw_phone or "").strip() or _("Unknown"))
                if email:
                    vals["email"] = email
                if phone or raw_phone:
                    vals["phone"] = phone or raw_phone
                to_create[key] = vals
            result.append(key)
        if to_create:
            created = dict(zip(to_create, Partner.create(list(to_create.values())), strict=True))
            result = [created[item] if isinstance(item, str) else item for item in result]
        return [partner.with_env(self.env) for partner in result]

    # ---- Templates ----
    def salesjet_popular_products(self, limit=3):
        """The products most sold (confirmed orders) or most granted by flows in the last 90 days.

        For emails: ``{{ object.salesjet_popular_products(1).name ||| our bestseller }}``. Without the
        Sales app and without product grants, the newest products that can be sold. Never the contact's
        own business: the same list for every contact, so a batch renders it from cache.
        """
        limit = max(1, min(int(limit or 3), 20))
        since = fields.Datetime.now() - timedelta(days=POPULAR_DAYS)
        Product = self.env["product.product"].sudo()
        ids = []
        if "sale.order.line" in self.env:
            self.env["sale.order.line"].flush_model(["product_id", "state", "create_date", "product_uom_qty"])
            self.env.cr.execute(SQL(
                """
                SELECT l.product_id FROM sale_order_line l
                  JOIN product_product p ON p.id = l.product_id AND p.active
                 WHERE l.state = 'sale' AND l.create_date >= %s
                 GROUP BY l.product_id ORDER BY sum(l.product_uom_qty) DESC, l.product_id LIMIT %s
                """, since, limit))
            ids = [row[0] for row in self.env.cr.fetchall()]
        if len(ids) < limit:
            self.env["salesjet.product.access"].flush_model()
            self.env.cr.execute(SQL(
                """
                SELECT a.product_id FROM salesjet_product_access a
                  JOIN product_product p ON p.id = a.product_id AND p.active
                 WHERE a.date_granted >= %s AND NOT a.product_id = ANY(%s)
                 GROUP BY a.product_id ORDER BY count(*) DESC, a.product_id LIMIT %s
                """, since, ids or [0], limit - len(ids)))
            ids += [row[0] for row in self.env.cr.fetchall()]
        if len(ids) < limit:
            ids += Product.search([("sale_ok", "=", True), ("id", "not in", ids)], order="create_date desc, id desc",
                                  limit=limit - len(ids)).ids
        return Product.browse(ids).sudo(False)
