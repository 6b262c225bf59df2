import re

from odoo import http
from odoo.http import request
from odoo.tools import email_normalize

from ..models.salesjet_event import contains_nul
from ..tools.phone import phone_e164
from .common import BodyTooLarge, read_json_object, reply

API_MAX_BYTES = 64 * 1024
CODE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# an API key is printable ASCII: anything else (a NUL, non-ASCII text) never reaches the key lookup
BEARER_RE = re.compile(r"^bearer\s+([\x21-\x7e]{1,200})$", re.IGNORECASE | re.ASCII)


class SalesjetApi(http.Controller):

    @http.route("/salesjet/api/v1/events", type="http", auth="none", methods=["POST"], csrf=False,
                sitemap=False, save_session=False, max_content_length=API_MAX_BYTES)
    def post_event(self, **_kwargs):
        """Post an event from another system.

        ``Authorization: Bearer <API key>`` of a Flows user; body
        ``{"code": "...", "email" | "phone" | "partner_id": ..., "data": {...}, "external_id": "..."}``.
        Answers 201 ``{"id": event id}``, 200 with the same id for an external id already received,
        400 malformed, 401 bad key, 403 not a Flows user, 413 too large.
        """
        header = request.httprequest.headers.get("Authorization", "")
        match = BEARER_RE.match(header)
        if not match:
            return reply(401, payload={"error": "Send an API key: Authorization: Bearer <key>."})
        uid = request.env["res.users.apikeys"]._check_credentials(scope="rpc", key=match.group(1))
        if not uid:
            return reply(401, payload={"error": "Invalid API key."})
        request.update_env(user=uid)
        if not request.env.user.has_group("salesjet_flows.group_salesjet_user"):
            return reply(403, payload={"error": "This API key's user may not post flow events."})
        try:
            payload = read_json_object(API_MAX_BYTES)
        except BodyTooLarge:
            return reply(413, payload={"error": f"The body exceeds {API_MAX_BYTES} bytes."})
        except ValueError as e:
            return reply(400, payload={"error": f"Malformed request: {e}."})
        error, values = self._validate(payload)
        if error:
            return reply(400, payload={"error": error})
        Event = request.env["salesjet.event"]
        partner = None
        if values["partner_id"]:
            partner = self._partner(values)
            if not partner:
                return reply(400, payload={"error": "Unknown partner_id."})
        if values["external_id"]:
            # external ids are unique per company: the event's company (the contact's, else the API
            # user's), never another company's event with the same id
            company = (partner and partner.company_id) or request.env.company
            existing = Event._find_received("api", values["external_id"], company)
            if existing:
                return reply(200, payload={"id": existing.id, "state": existing.state, "replayed": True})
        partner = partner or self._partner(values)
        if not partner:
            return reply(400, payload={"error": "Unknown partner_id."})
        event = Event.post(values["code"], partner, data=values["data"], external_id=values["external_id"],
                           source="api")
        return reply(201, payload={"id": event.id, "state": event.state, "replayed": False})

    def _validate(self, payload):
        code, data, external_id = payload.get("code"), payload.get("data", {}), payload.get("external_id")
        email, phone, partner_id = payload.get("email"), payload.get("phone"), payload.get("partner_id")
        # PostgreSQL cannot store NUL: a clear 400 rather than a database error (tests/test_hostile_input.py)
        if contains_nul(payload):
            return "Values cannot contain NUL characters (\\u0000).", None
        if not isinstance(code, str) or not CODE_RE.match(code):
            return "“code” is required: letters, digits, _ . : - (at most 64).", None
        if not isinstance(data, dict):
            return "“data” must be a JSON object.", None
        if external_id is not None and (not isinstance(external_id, str) or not 0 < len(external_id) <= 200):
            return "“external_id” must be a string of at most 200 characters.", None
        if partner_id is not None and (not isinstance(partner_id, int) or isinstance(partner_id, bool)
                                       or partner_id <= 0):
            return "“partner_id” must be a positive integer.", None
        for name, value in (("email", email), ("phone", phone), ("name", payload.get("name"))):
            if value is not None and (not isinstance(value, str) or len(value) > 200):
                return f"“{name}” must be a string of at most 200 characters.", None
        if not (partner_id or (email or "").strip() or (phone or "").strip()):
            return "Give the contact: “email”, “phone” or “partner_id”.", None
        if email and not partner_id and not email_normalize(email):
            return "“email” is not a valid email address.", None
        if phone and not (partner_id or email) and not phone_e164(phone, request.env.company.country_id.code):
            return "“phone” is not a valid phone number: write it with its country prefix (+32...).", None
        return None, {"code": code, "data": data, "external_id": external_id, "email": email, "phone": phone,
                      "partner_id": partner_id, "name": payload.get("name")}

    def _partner(self, values):
        if values["partner_id"]:
            # the API user's own rights decide which contacts it may name
            partner = request.env["res.partner"].search([("id", "=", values["partner_id"])], limit=1)
            return partner
        return request.env["res.partner"]._salesjet_find_or_create(
            [{"email": values["email"], "phone": values["phone"], "name": values["name"]}],
            company=request.env.company)[0]
