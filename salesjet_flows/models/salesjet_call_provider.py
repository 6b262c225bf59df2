import json

from odoo import _, api, models
from odoo.exceptions import UserError

from ..tools.http import EXCERPT_SIZE, PermanentError, classify, new_session, read_body

DEFAULT_TWILIO_BASE = "https://api.twilio.com"

TWILIO_TIMEOUT = 15


class SalesjetCallProvider(models.AbstractModel):
    """Who places the calls of call steps, chosen in the settings (``salesjet_flows.call_provider``).

    A provider ``key`` is one entry of ``_providers()`` and one method
    ``_place_calls_<key>(step, calls)`` on ``salesjet.flow.step``, where
    ``calls`` is a list of dicts (job, number, texts by script line id).
    """
    _name = "salesjet.call.provider"
    _description = "Phone Call Provider"

    @api.model
    def _providers(self):
        return [
            ("activity", _("An activity for the salesperson (no telephony)")),
            ("twilio", _("Twilio-compatible telephony API")),
        ]

    @api.model
    def _current(self):
        key = self.env["ir.config_parameter"].sudo().get_param("salesjet_flows.call_provider") or "activity"
        return key if key in dict(self._providers()) else "activity"

    @api.model
    def _twilio_settings(self):
        """Account SID, auth token and API base URL; a UserError says what is missing."""
        params = self.env["ir.config_parameter"].sudo()
        sid = (params.get_param("salesjet_flows.twilio_account_sid") or "").strip()
        token = (params.get_param("salesjet_flows.twilio_auth_token") or "").strip()
        base = (params.get_param("salesjet_flows.twilio_base_url") or DEFAULT_TWILIO_BASE).strip().rstrip("/")
        if not sid or not token:
            raise UserError(_("Phone calls go through a Twilio-compatible API: set its account SID and auth token "
                              "in Flows › Configuration › Settings."))
        if not base.startswith(("https://", "http://")):
            raise UserError(_("The telephony API base URL must start with https://, e.g. %s.", DEFAULT_TWILIO_BASE))
        return {"sid": sid, "token": token, "base": base}

    @api.model
    def _twilio_session(self):
        # the API address is the administrator's choice, not a user's: no address guard
        return new_session(guarded=False)

    @api.model
    def _twilio_call(self, session, settings, to, from_, twiml, record):
        """Place one call; return (call sid, status, HTTP status, answer excerpt).

        Raises ``requests`` errors and ``RetryableHttpError`` (retried by the
        engine) or ``PermanentError`` for a refused request (4xx).
        """
        url = f"{settings['base']}/2010-04-01/Accounts/{settings['sid']}/Calls.json"
        data = {"To": to, "From": from_, "Twiml": twiml}
        if record:
            data["Record"] = "true"
        response = session.post(url, data=data, auth=(settings["sid"], settings["token"]),
                                timeout=TWILIO_TIMEOUT, allow_redirects=False, stream=True)
        body = read_body(response)
        excerpt = body[:EXCERPT_SIZE]
        classify(response, body, _("The telephony API"))
        try:
            answer = json.loads(body)
            sid, status = answer["sid"], answer.get("status") or "queued"
        except (ValueError, KeyError, TypeError) as e:
            raise PermanentError(_("The telephony API accepted the call but its answer has no call sid: %s",
                                   excerpt[:200]), response.status_code, excerpt) from e
        return sid, status, response.status_code, excerpt
