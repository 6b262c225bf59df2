import logging
from urllib.parse import urlsplit

from odoo.http import request

from odoo.addons.website_crm.controllers.website_form import WebsiteForm

from ..models.salesjet_source_hooks import request_page_path

_logger = logging.getLogger(__name__)

MAX_FIELDS = 50
MAX_VALUE = 1000
HIDDEN_FIELDS = {"csrf_token", "website_form_signature", "context", "model_name"}


class SalesjetWebsiteForm(WebsiteForm):

    def insert_record(self, request, model, values, custom, meta=None):
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
        if company.id not in request.env["salesjet.flow.trigger"].sudo()._listening_company_ids("website_form"):
            return
        referrer = request.httprequest.referrer or ""
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
