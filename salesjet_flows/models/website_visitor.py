"""Identity: which contact a website visitor is.

Odoo links a visitor to a contact only at login (its access token becomes the
contact's id). SalesJet also links the anonymous visitor of a browser session
when a server-side fact proves who it is: the lead its website form created,
a signed tracked link of a flow email, a signed chain answer. Nothing the
client sends (no contact id, no email) is ever taken as proof on its own.
The visitor keeps its access token (its session), so its later page views are
its own; its earlier ones count for the contact at once, since conditions read
``website.track`` through ``website.visitor.partner_id``.
"""
import time

from odoo import api, models
from odoo.http import request
from odoo.tools.misc import hmac

from ..tools.http import _logger
from ..tools.paths import request_page_path
from .salesjet_event import VISIT_WINDOW

# the query parameter of signed tracked links (flow emails: /r/<code>/m/<trace>?sj=<signature>; flow SMS:
# /r/<code>?sj=<contact id>.<signature>)
LINK_PARAM = "sj"

# the contact a signed link proved, waiting in the (server-side) session for the
# visitor that the first tracked page of this session creates
SESSION_KEY = "salesjet_visitor_partner_id"


def trace_link_signature(env, trace_id):
    """The signature a flow email's tracked links carry for their trace."""
    return hmac(env(su=True), "salesjet-visitor-link", int(trace_id))[:24]


def partner_link_proof(env, partner_id):
    """``<contact id>.<signature>``: what a flow SMS's tracked links carry (an SMS has no trace; kept short)."""
    return f"{int(partner_id)}.{hmac(env(su=True), 'salesjet-visitor-sms', int(partner_id))[:16]}"


def is_login_visitor(visitor):
    """Whether the visitor is a logged-in user's (Odoo's access token is then the contact id)."""
    return len(visitor.access_token or "") != 32


class WebsiteVisitor(models.Model):
    _inherit = "website.visitor"

    def _salesjet_link_partner(self, partner):
        """Link these (anonymous) visitors to ``partner`` and merge the contact's other anonymous visitors.

        Call it only on a server-side proof. A visitor already linked to another contact keeps it (the
        first proof wins) and a logged-in user's visitor follows its account (Odoo's rule). The contact's
        anonymous visitors merge into one, as Odoo merges visitors at login (``_merge_visitor``: pages,
        leads... follow): the current request's visitor if it is one of them, else the most recent.

        :return: the visitor the contact's anonymous visits now live on (empty if nothing was linked)
        """
        partner = partner.sudo()
        visitors = self.sudo().exists().filtered(lambda v: not is_login_visitor(v))
        if not partner or not visitors:
            return self.browse()
        visitors = visitors.filtered(lambda v: not v.partner_id or v.partner_id == partner)
        if not visitors:
            return self.browse()
        visitors.filtered(lambda v: not v.partner_id).write({"partner_id": partner.id})
        siblings = self.sudo().search([("partner_id", "=", partner.id)]).filtered(
            lambda v: not is_login_visitor(v))
        current = self._salesjet_request_visitor()
        target = current if current in siblings else siblings.sorted(
            lambda v: (v.last_connection_datetime or v.create_date, v.id))[-1:]
        for other in siblings - target:
            other._merge_visitor(target)
        return target

    @api.model
    def _salesjet_request_visitor(self):
        """The visitor of the current request, without creating one (empty outside a request)."""
        if not request:
            return self.browse()
        try:
            return self.sudo()._get_visitor_from_request() or self.browse()
        except (AttributeError, RuntimeError):  # a request without website nor session
            return self.browse()

    @api.model
    def _salesjet_link_request(self, partner):
        """Link the current request's visitor to ``partner``, which a server-side fact of this request
        proved (a signed link, a signed token). Without a visitor yet (a link opened in a new browser), the
        contact waits in the server-side session and the first tracked page of the session links it."""
        if not request or not partner:
            return
        if not request.env.user._is_public():
            return  # a logged-in user's visitor is the account's (Odoo)
        visitor = self._salesjet_request_visitor()
        if visitor:
            visitor._salesjet_link_partner(partner)
        else:
            request.session[SESSION_KEY] = partner.id

    def _salesjet_link_pending(self):
        """Link the request's visitor (just created or updated by a tracked page) to the contact a signed
        link of this session proved earlier, if any."""
        partner_id = request.session.get(SESSION_KEY) if request else None
        if not partner_id:
            return
        visitor = self._salesjet_request_visitor()
        if not visitor:
            return
        request.session.pop(SESSION_KEY, None)
        partner = self.env["res.partner"].sudo().browse(int(partner_id)).exists()
        if partner:
            visitor._salesjet_link_partner(partner)

    # ---- Event sources ----
    def _handle_webpage_dispatch(self, website_page):
        res = super()._handle_webpage_dispatch(website_page)
        try:
            # before the visit event: the first page after a signed link is already the contact's
            self._salesjet_link_pending()
            self._salesjet_post_page_visit(website_page)
        except Exception:  # noqa: BLE001 - a page view must never fail for a flow
            _logger.exception("SalesJet: could not record a page visit")
        return res

    def _salesjet_post_page_visit(self, website_page):
        """One ``page_visit`` event per tracked view of an identified visitor (a visitor with a contact)."""
        company_id = request.website.company_id.id
        if company_id not in self.env["salesjet.flow.trigger"]._listening_company_ids("page_visit"):
            return
        path = request_page_path()
        # a cached check, no query: funnel lines of website pages hold the page's path too
        if not self.env["salesjet.flow.trigger"]._page_rows_matching("page_visit", company_id, path):
            return  # no flow watches this page: no event
        visitor = self._get_visitor_from_request()
        if not visitor or not visitor.partner_id:
            return
        data = {
            "path": path,
            "url": request.httprequest.url[:2000],
            "page_id": website_page.id if website_page else False,
            "visitor_id": visitor.id,
        }
        # one event per contact and page per 30 minutes, as Odoo counts a visit (website.visitor._add_tracking)
        bucket = int(time.time() // VISIT_WINDOW)
        self.env["salesjet.event"]._post_safely(
            [(visitor.partner_id, data, f"visit:{visitor.partner_id.id}:{path}:{bucket}")], "page_visit", "website",
            company=request.website.company_id)
