import hashlib
import json
import re

from odoo import http
from odoo.http import request
from odoo.tools import SQL, email_normalize

from odoo.addons.base.models.res_users import INDEX_SIZE, KEY_CRYPT_CONTEXT

from ..models.salesjet_event import contains_nul
from ..tools.phone import phone_e164
from .common import BodyTooLarge, read_json_object, reply

API_MAX_BYTES = 64 * 1024
# a batch: at most this many events, each within API_MAX_BYTES, in a body of at most API_BATCH_MAX_BYTES
API_BATCH_MAX_EVENTS = 500
API_BATCH_MAX_BYTES = 4 * 1024 * 1024
# ids are PostgreSQL integers: a larger number names no contact (and must not reach a query)
PG_MAX_INT = 2 ** 31 - 1
CODE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# an API key is printable ASCII: anything else (a NUL, non-ASCII text) never reaches the key lookup
BEARER_RE = re.compile(r"^bearer\s+([\x21-\x7e]{1,200})$", re.IGNORECASE | re.ASCII)


# Keys this process has verified, as SHA-256 of (stored hash, key): see api_key_user
_verified_keys = set()
_VERIFIED_KEYS_MAX = 10000


def api_key_user(env, key):
    """The id of the user whose API key (scope ``rpc``) is ``key``, else None: what
    ``res.users.apikeys._check_credentials`` answers, without its key derivation on every request.

    Odoo stores a key as a PBKDF2-SHA512 hash of 6,000 rounds, which costs more CPU than the whole
    rest of an event's request (measured by bench/bench.py's HTTP part). The key's row is read on each
    request exactly as Odoo does (active user, scope, expiry: a revoked or expired key, or a deactivated
    user, is refused at once); only the derivation is skipped when this process already verified this
    key against this very stored hash. What is remembered is SHA-256(stored hash, key): a random key of
    160 bits, so it reveals nothing usable.
    """
    env.cr.execute(SQL(
        """
        SELECT user_id, key FROM res_users_apikeys INNER JOIN res_users u ON (u.id = user_id)
         WHERE u.active AND index = %s AND (scope IS NULL OR scope = 'rpc')
           AND (expiration_date IS NULL OR expiration_date >= now() at time zone 'utc')
        """, key[:INDEX_SIZE]))
    for user_id, stored in env.cr.fetchall():
        fingerprint = hashlib.sha256(f"{stored}\x00{key}".encode()).digest()
        if fingerprint in _verified_keys:
            return user_id
        if KEY_CRYPT_CONTEXT.verify(key, stored):
            if len(_verified_keys) >= _VERIFIED_KEYS_MAX:
                _verified_keys.clear()
            _verified_keys.add(fingerprint)
            return user_id
    return None


class SalesjetApi(http.Controller):

    def _authenticated_payload(self, max_bytes):
        """(refusal, None) for a bad key (401/403), a body over ``max_bytes`` (413) or a malformed one (400);
        else (None, the body's JSON object)."""
        refused = self._authenticate()
        if refused:
            return refused, None
        try:
            return None, read_json_object(max_bytes)
        except BodyTooLarge:
            return reply(413, payload={"error": f"The body exceeds {max_bytes} bytes."}), None
        except ValueError as e:
            return reply(400, payload={"error": f"Malformed request: {e}."}), None

    @http.route("/salesjet/api/v1/events", type="http", auth="none", methods=["POST"], csrf=False,
                sitemap=False, save_session=False, max_content_length=API_MAX_BYTES)
    def post_event(self, **_kwargs):
        """Post an event from another system.

        ``Authorization: Bearer <API key>`` of a Flows user; body
        ``{"code": "...", "email" | "phone" | "partner_id": ..., "data": {...}, "external_id": "..."}``.
        Answers 201 ``{"id": event id}``, 200 with the same id for an external id already received,
        400 malformed, 401 bad key, 403 not a Flows user, 413 too large.
        """
        refused, payload = self._authenticated_payload(API_MAX_BYTES)
        if refused:
            return refused
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

    @http.route("/salesjet/api/v1/events/batch", type="http", auth="none", methods=["POST"], csrf=False,
                sitemap=False, save_session=False, max_content_length=API_BATCH_MAX_BYTES)
    def post_events_batch(self, **_kwargs):
        """Post up to API_BATCH_MAX_EVENTS events in one request, each answered on its own.

        Same key and rights as ``post_event``; body ``{"events": [<event as post_event takes it>, ...]}``.
        Answers 200 ``{"results": [{"status", "id", "state", "replayed"} | {"status", "error"}, ...],
        "created", "replayed", "rejected"}`` in the order sent: per event 201 stored, 200 external id
        already received (or given earlier in the batch), 400 refused (the others are stored), 413 over
        API_MAX_BYTES. The whole request: 400 malformed envelope, 401 / 403 as ``post_event``, 413 over
        API_BATCH_MAX_EVENTS events or API_BATCH_MAX_BYTES.
        """
        refused, payload = self._authenticated_payload(API_BATCH_MAX_BYTES)
        if refused:
            return refused
        events = payload.get("events")
        if not isinstance(events, list) or not events:
            return reply(400, payload={"error": "“events” must be a non-empty list of events."})
        if len(events) > API_BATCH_MAX_EVENTS:
            return reply(413, payload={"error": f"At most {API_BATCH_MAX_EVENTS} events a request "
                                                f"({len(events)} sent): send them in several requests."})
        results = [None] * len(events)
        accepted = []  # (index, values)
        # an event can only exceed API_MAX_BYTES in a body that does
        measure = len(request.httprequest.get_data()) > API_MAX_BYTES
        for index, item in enumerate(events):
            if not isinstance(item, dict):
                results[index] = {"status": 400, "error": "Each event must be a JSON object."}
                continue
            if measure and len(json.dumps(item, ensure_ascii=False).encode()) > API_MAX_BYTES:
                results[index] = {"status": 413, "error": f"The event exceeds {API_MAX_BYTES} bytes."}
                continue
            error, values = self._validate(item)
            if error:
                results[index] = {"status": 400, "error": error}
            else:
                accepted.append((index, values))
        items = []
        for (index, values), partner in zip(accepted, self._partners([values for _i, values in accepted]),
                                            strict=True):
            if not partner:
                results[index] = {"status": 400, "error": "Unknown partner_id."}
            else:
                items.append((index, {**values, "partner": partner}))
        if items:
            posted = request.env["salesjet.event"]._post_api_batch([values for _i, values in items])
            for (index, _values), (event, replayed) in zip(items, posted, strict=True):
                results[index] = {"status": 200 if replayed else 201, "id": event.id, "state": event.state,
                                  "replayed": replayed}
        return reply(200, payload={
            "results": results,
            "created": sum(1 for result in results if result["status"] == 201),
            "replayed": sum(1 for result in results if result["status"] == 200),
            "rejected": sum(1 for result in results if result["status"] >= 400),
        })

    def _authenticate(self):
        """Set the request's user from the API key; the refusal to answer (401, 403), else None."""
        header = request.httprequest.headers.get("Authorization", "")
        match = BEARER_RE.match(header)
        if not match:
            return reply(401, payload={"error": "Send an API key: Authorization: Bearer <key>."})
        uid = api_key_user(request.env, match.group(1))
        if not uid:
            return reply(401, payload={"error": "Invalid API key."})
        request.update_env(user=uid)
        if not request.env.user.has_group("salesjet_flows.group_salesjet_user"):
            return reply(403, payload={"error": "This API key's user may not post flow events."})
        return None

    def _partners(self, values_list):
        """The contact of each of ``values_list`` (``_validate``'s values), set-based: one search of the
        ids named (with the API user's rights), one find-or-create of the others; an empty record for an
        unknown id."""
        ids = {values["partner_id"] for values in values_list if values["partner_id"]}
        known = {}
        if ids:
            known = {partner.id: partner for partner in request.env["res.partner"].search([("id", "in", list(ids))])}
        others = [values for values in values_list if not values["partner_id"]]
        found = iter(request.env["res.partner"]._salesjet_find_or_create(
            [{"email": values["email"], "phone": values["phone"], "name": values["name"]} for values in others],
            company=request.env.company) if others else [])
        empty = request.env["res.partner"]
        return [known.get(values["partner_id"], empty) if values["partner_id"] else next(found)
                for values in values_list]

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
                                       or not 0 < partner_id <= PG_MAX_INT):
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
