from odoo import http
from odoo.http import request

from odoo.addons.mass_mailing.controllers.main import MassMailController

from ..models.mail_mail import LINK_PARAM, trace_link_signature
from .common import token_matches


class SalesjetMassMailController(MassMailController):

    @http.route()
    def full_url_redirect(self, code, mailing_trace_id, **post):
        """A click on a tracked link: with the signature a flow email's links carry, the browser's website
        visitor becomes the trace's contact (see README, Identity). Without it (or forged), as Odoo does."""
        response = super().full_url_redirect(code, mailing_trace_id, **post)
        signature = post.get(LINK_PARAM)
        if isinstance(signature, str) and token_matches(signature, trace_link_signature(request.env, mailing_trace_id)):
            trace = request.env["mailing.trace"].sudo().browse(mailing_trace_id).exists()
            if trace and trace.model == "res.partner" and trace.res_id:
                partner = request.env["res.partner"].sudo().browse(trace.res_id).exists()
                request.env["website.visitor"].sudo()._salesjet_link_request(partner)
        return response
