"""Event sources: the kinds of events that real Odoo happenings raise, and how
an event whose contact is not known yet (a website form's lead, a Facebook
lead) finds or creates it when it is processed, so that a failure there leaves
the event stored and retried by the event cron instead of losing it."""
import logging
from urllib.parse import urlsplit

from odoo import _, api, fields, models
from odoo.tools import email_normalize

from .salesjet_flow_step_sms import to_e164

_logger = logging.getLogger(__name__)

SOURCE_KINDS = [
    ("website_form", "Website form submitted"),
    ("page_visit", "Page visited"),
    ("page_leave", "Page left"),
    ("file_download", "File downloaded"),
    ("email_open", "Email opened"),
    ("email_click", "Link clicked in an email"),
    ("email_reply", "Email replied"),
    ("email_bounce", "Email bounced"),
    ("facebook_lead", "Facebook lead ad"),
    ("list_subscribe", "Subscribed to a mailing list"),
    ("signup", "Account created"),
]


def normalize_path(path):
    """A page path as flows compare it: no scheme/host, query or fragment, no trailing slash.

    ``https://shop.example.com/pricing/?a=1`` and ``/pricing`` both give ``/pricing``.
    """
    path = (path or "").strip()
    if "://" in path:
        path = urlsplit(path).path
    path = path.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        path = "/" + path
    return path.rstrip("/") or "/"


def path_matches(pattern, path):
    """Whether ``path`` is the page ``pattern`` names; a trailing ``*`` matches every page under a prefix."""
    pattern = (pattern or "").strip()
    if not pattern:
        return True
    if pattern.endswith("*"):
        prefix = normalize_path(pattern[:-1]) if pattern[:-1].strip() else "/"
        return prefix == "/" or path == prefix or path.startswith(prefix.rstrip("/") + "/")
    return normalize_path(pattern) == normalize_path(path)


def phone_e164(number, country_code=None):
    """``number`` in E.164 (+32470123456), read in ``country_code`` when it has no prefix; None if impossible."""
    return to_e164(number, country_code, strict=False)


class SalesjetEvent(models.Model):
    _inherit = "salesjet.event"

    kind = fields.Selection(selection_add=SOURCE_KINDS, ondelete={key: "cascade" for key, _label in SOURCE_KINDS})

    def _dispatch(self):
        # events that arrive without a contact find it first: an error here (a
        # Graph API outage) leaves the event failed and retried, never lost
        if not self._get_partner():
            resolver = getattr(self, f"_resolve_{self.kind}", None)
            if resolver:
                resolver()
        return super()._dispatch()

    def _resolve_website_form(self):
        """Find or create the contact of the form's lead, by email then phone, and link the lead to it."""
        lead = self.lead_id.sudo()
        if not lead:
            return
        partner = self.env["res.partner"]._salesjet_find_or_create([{
            "email": lead.email_from, "phone": lead.phone, "name": lead.contact_name or lead.partner_name,
            "country_id": lead.country_id.id,
        }], company=lead.company_id)[0]
        if partner:
            lead.partner_id = partner
            self.partner_id = partner
            # website_crm put the visitor of the request that sent the form on its lead: it is this contact
            lead.visitor_ids._salesjet_link_partner(partner)


class ResPartner(models.Model):
    _inherit = "res.partner"

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
            created = dict(zip(to_create, Partner.create(list(to_create.values()))))
            result = [created[item] if isinstance(item, str) else item for item in result]
        return [partner.with_env(self.env) for partner in result]
