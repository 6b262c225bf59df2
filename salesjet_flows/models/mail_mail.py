"""Signed tracked links: a flow email's shortened links carry a signature of their trace, so that a
click proves which contact opened the link and the browser's website visitor can be linked to it
(``website.visitor._salesjet_link_request``); an unsigned or forged ``/r/<code>/m/<trace>`` links nothing."""
import re

from odoo import models

from .website_visitor import LINK_PARAM, trace_link_signature


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _prepare_outgoing_body(self):
        body = super()._prepare_outgoing_body()
        trace = self.mailing_trace_ids[:1]
        if not (body and self.mailing_id and trace and trace.model == "res.partner" and trace.res_id):
            return body
        # only the emails of flow steps (their technical tracking mailing)
        if not self.env["salesjet.flow.step"].sudo().search_count([("mailing_id", "=", self.mailing_id.id)],
                                                                   limit=1):
            return body
        signature = trace_link_signature(self.env, trace.id)
        # mass_mailing turned each shortened link into .../r/<code>/m/<trace id>
        pattern = re.compile(rf"(/r/[A-Za-z0-9]+/m/{trace.id})(?=[\"'])")
        return body.__class__(pattern.sub(rf"\1?{LINK_PARAM}={signature}", str(body)))
