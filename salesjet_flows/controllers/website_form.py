import json
import logging
from urllib.parse import urlsplit

from odoo import SUPERUSER_ID, _, http
from odoo.exceptions import ValidationError
from odoo.http import request

from odoo.addons.website_crm.controllers.website_form import WebsiteForm

from ..tools.paths import request_page_path

_logger = logging.getLogger(__name__)

MAX_FIELDS = 50
MAX_VALUE = 1000
IDENTITY_KINDS = ("website_form", "page_visit", "page_leave", "file_download")
HIDDEN_FIELDS = {"csrf_token", "website_form_signature", "context", "model_name"}


class SalesjetWebsiteForm(WebsiteForm):

    @http.route()
    def website_form(self, model_name, **kwargs):
        # Odoo checks a logged-in visitor's CSRF token with consteq, which raises TypeError (a 500) on
        # non-ASCII text: such a token is no token, and the form answers 400 as for a wrong one
        token = request.params.get("csrf_token")
        if token is not None and not (isinstance(token, str) and token.isascii()):
            request.params["csrf_token"] = ""
        return super().website_form(model_name, **kwargs)

    def _handle_website_form(self, model_name, **kwargs):
        # Odoo reads the signature of a mail.mail form without checking it is there (KeyError, a 500)
        if model_name == "mail.mail" and not isinstance(kwargs.get("website_form_signature"), str):
            return json.dumps({"error": _("This form cannot be sent: reload the page and try again.")})
        return super()._handle_website_form(model_name, **kwargs)

    def extract_data(self, model, values):
        data = super().extract_data(model, values)
        # Odoo lists the missing required fields only along with a badly typed one: a form without them
        # reached the database, whose NOT NULL refusal answered 500. Refused as Odoo refuses the others.
        authorized = model.with_user(SUPERUSER_ID)._get_form_writable_fields(values)
        missing = [name for name, field in authorized.items() if field["required"] and name not in data["record"]]
        if missing:
            raise ValidationError(missing)
        return data

    def insert_record(self, request, model, values, custom, meta=None):
        # its own savepoint: a value the database refuses (an SQL constraint) raises IntegrityError, which
        # Odoo's form answers with ``false``; without the savepoint the transaction stayed aborted and Odoo's
        # form controller answered 500
        with request.env.cr.savepoint():
            record_id = super().insert_record(request, model, values, custom, meta=meta)
        if model.sudo().model == "crm.lead" and record_id:
            try:
                # its own savepoint: the lead is kept whatever happens to the event
                with request.env.cr.savepoint():
                    self._salesjet_post_form_event(record_id)
            except Exception:  # noqa: BLE001
                _logger.exception("SalesJet: could not store the website form event of lead %s", record_id)
        return record_id

    def _salesjet_post_form_event(self, lead_id):
        """Store a ``website_form`` event with the page, the form's fields and the lead.

        The contact is found or created when the event is processed (``_resolve_website_form``),
        so an error there leaves the event failed and retried by the event cron.
        """
        company = request.website.company_id
        Trigger = request.env["salesjet.flow.trigger"].sudo()
        referrer = request.httprequest.referrer or ""
        # the form identifies its visitor (the event finds the contact), which the flows on page visits, page
        # left and downloads need too; and it is a registration when sent from a landing page of a chain's trigger
        landing = any(page.lower() in referrer.lower() for page in Trigger._landing_pages(company.id))
        if not landing and not any(company.id in Trigger._listening_company_ids(kind) for kind in IDENTITY_KINDS):
            return
        path = request_page_path(urlsplit(referrer).path) if referrer else ""
        form_fields = {}
        for name, value in request.params.items():
            if name in HIDDEN_FIELDS or hasattr(value, "filename") or len(form_fields) >= MAX_FIELDS:
                continue
            form_fields[str(name)[:100]] = str(value)[:MAX_VALUE]
        request.env["salesjet.event"].sudo().with_company(company).post(
            None, lead=lead_id, kind="website_form", source="website_form",
            data={"path": path, "url": referrer[:2000], "fields": form_fields, "lead_id": lead_id},
        )
