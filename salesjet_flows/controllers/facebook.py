import hashlib
import hmac
import logging

from odoo import http
from odoo.http import request
from odoo.osv import expression

from .common import BodyTooLarge, MalformedBody, parse_json, read_body, reply, token_matches

_logger = logging.getLogger(__name__)

FACEBOOK_MAX_BYTES = 256 * 1024
MAX_LEADS_PER_CALL = 500


def _digits(value, max_len=32):
    """A Facebook id as a string of digits, or None."""
    value = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return value if value.isascii() and value.isdigit() and len(value) <= max_len else None


class SalesjetFacebook(http.Controller):

    @http.route("/salesjet/facebook/webhook", type="http", auth="public", methods=["GET", "POST"], csrf=False,
                sitemap=False, save_session=False, max_content_length=FACEBOOK_MAX_BYTES)
    def facebook_webhook(self, **_kwargs):
        if request.httprequest.method == "GET":
            return self._facebook_handshake()
        return self._facebook_notification()

    def _facebook_handshake(self):
        """Facebook checks the callback URL: echo hub.challenge when hub.verify_token is ours."""
        args = request.httprequest.args
        expected = request.env["ir.config_parameter"].sudo().get_param("salesjet_flows.facebook_verify_token") or ""
        token, challenge = args.get("hub.verify_token", ""), args.get("hub.challenge", "")
        if args.get("hub.mode") != "subscribe" or not token_matches(token, expected):
            return reply(403, "Verification failed.")
        if not challenge or len(challenge) > 200:
            return reply(400, "Missing hub.challenge.")
        return reply(200, challenge)

    def _facebook_notification(self):
        """A signed leadgen notification: store one event per lead (idempotent on the lead's id).

        Each lead is read from the Graph API when its event is processed; a Graph failure leaves the
        event stored as failed and the event cron retries it, so the notification is never lost.
        """
        secret = request.env["ir.config_parameter"].sudo().get_param("salesjet_flows.facebook_app_secret") or ""
        try:
            body = read_body(FACEBOOK_MAX_BYTES)
        except BodyTooLarge:
            return reply(413, "Body too large.")
        signature = request.httprequest.headers.get("X-Hub-Signature-256", "")
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not secret or not token_matches(signature, expected):
            return reply(403, "Missing or wrong signature.")
        try:
            payload = parse_json(body)
        except MalformedBody as e:
            return reply(400, f"Malformed JSON: {e}.")
        leads = self._extract_leads(payload)
        if leads is None:
            return reply(400, "Not a leadgen notification: expected {\"object\": \"page\", \"entry\": [...]}.")
        forms = self._find_forms(leads)
        Event = request.env["salesjet.event"].sudo()
        received, ignored = [], 0
        for leadgen_id, page_id, form_id in leads:
            form = forms.get((page_id, form_id))
            if not form:
                _logger.info("SalesJet: Facebook lead %s of unknown form %s/%s ignored", leadgen_id, page_id, form_id)
                ignored += 1
                continue
            event = Event.with_company(form.company_id).post(
                None, kind="facebook_lead", source=f"facebook:{form.id}", external_id=f"facebook:{leadgen_id}",
                data={"leadgen_id": leadgen_id, "page_id": page_id, "form_id": form_id, "facebook_form_id": form.id},
            )
            received.append(event.id)
        return reply(200, payload={"received": len(received), "ignored": ignored})

    def _extract_leads(self, payload):
        """[(leadgen id, page id, form id)] of a notification, or None if it is not one."""
        if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
            return None
        leads = []
        for entry in payload["entry"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("changes", []), list):
                return None
            for change in entry.get("changes", []):
                if not isinstance(change, dict) or change.get("field") != "leadgen":
                    continue
                value = change.get("value")
                if not isinstance(value, dict):
                    return None
                ids = (_digits(value.get("leadgen_id")), _digits(value.get("page_id") or entry.get("id")),
                       _digits(value.get("form_id")))
                if None in ids:
                    return None
                leads.append(ids)
        if len(leads) > MAX_LEADS_PER_CALL:
            return None
        return leads

    def _find_forms(self, leads):
        pairs = {(page_id, form_id) for _lead, page_id, form_id in leads}
        if not pairs:
            return {}
        domain = expression.OR([[("page_id", "=", page_id), ("form_id", "=", form_id)] for page_id, form_id in pairs])
        forms = request.env["salesjet.facebook.form"].sudo().search(domain)
        return {(form.page_id, form.form_id): form for form in forms}
