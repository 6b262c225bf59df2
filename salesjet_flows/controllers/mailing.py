from odoo import http
from odoo.http import request

from odoo.addons.link_tracker.controller.main import LinkTracker
from odoo.addons.mass_mailing.controllers.main import MassMailController

from ..models.website_visitor import LINK_PARAM, partner_link_proof, trace_link_signature
from .common import token_matches


def link_visitor(partner_id):
    partner = request.env["res.partner"].sudo().browse(partner_id).exists()
    if partner:
        request.env["website.visitor"].sudo()._salesjet_link_request(partner)


class SalesjetMassMailController(MassMailController):

    @http.route()
    def full_url_redirect(self, code, mailing_trace_id, **post):
        """A click on a tracked link of an email: with the signature a flow email's links carry, the
        browser's website visitor becomes the trace's contact (docs/user-guide.md, Identity). Without it (or forged),
        as Odoo does."""
        response = super().full_url_redirect(code, mailing_trace_id, **post)
        signature = post.get(LINK_PARAM)
        if isinstance(signature, str) and token_matches(signature, trace_link_signature(request.env, mailing_trace_id)):
            trace = request.env["mailing.trace"].sudo().browse(mailing_trace_id).exists()
            if trace and trace.model == "res.partner" and trace.res_id:
                link_visitor(trace.res_id)
        return response


class SalesjetLinkTracker(LinkTracker):

    @http.route()
    def full_url_redirect(self, code, **post):
        """A click on a tracked link of a flow SMS (``?sj=<contact id>.<signature>``): the browser's
        website visitor becomes that contact. Without the proof (or forged), as Odoo does."""
        response = super().full_url_redirect(code, **post)
        proof = post.get(LINK_PARAM)
        if isinstance(proof, str) and len(proof) <= 40 and proof.partition(".")[0].isdigit() \
                and proof.partition(".")[0].isascii():
            partner_id = int(proof.partition(".")[0])
            if token_matches(proof, partner_link_proof(request.env, partner_id)):
                link_visitor(partner_id)
        return response
