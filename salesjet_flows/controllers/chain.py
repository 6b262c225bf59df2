import re
from urllib.parse import urlparse

from odoo import _, http
from odoo.http import request

from .common import token_matches, valid_csrf

# enrollment.message.button.signature in ASCII digits and hex: anything else (Arabic-Indic digits
# included, which \d would accept) is refused before any lookup
TOKEN_RE = re.compile(r"^([0-9]{1,12})\.([0-9]{1,12})\.([0-9]{1,12})\.([0-9a-f]{32})$", re.ASCII)
MAX_TOKEN_LENGTH = 128
ANSWER_ROUTE = "/salesjet/chain/answer/<string:token>"


class SalesjetChainController(http.Controller):

    def _short(self, message, status):
        return request.make_response(message, headers=[("Content-Type", "text/plain; charset=utf-8")], status=status)

    def _answer_target(self, token):
        """(enrollment, message, button) of a signed answer token, as superuser, or a short 4xx response.

        Garbled tokens get 400, forged ones 403, links to deleted messages 404.
        """
        match = TOKEN_RE.match(token) if isinstance(token, str) and len(token) <= MAX_TOKEN_LENGTH else None
        if not match:
            return self._short(_("This link is not valid."), 400)
        enrollment_id, message_id, button_id = (int(group) for group in match.groups()[:3])
        expected = request.env["salesjet.flow.step"].sudo()._chain_answer_token(enrollment_id, message_id, button_id)
        if not token_matches(token, expected):
            return self._short(_("This link is not valid."), 403)
        env = request.env(su=True)
        enrollment = env["salesjet.flow.enrollment"].browse(enrollment_id).exists()
        message = env["salesjet.chain.message"].browse(message_id).exists()
        button = env["salesjet.chain.button"].browse(button_id).exists()
        if not (enrollment and message and button) or button.message_id != message \
                or message.flow_id != enrollment.flow_id:
            return self._short(_("This link is no longer valid."), 404)
        return enrollment, message, button

    def _open_link(self, button):
        # a link is a way to a page, not an answer: it never uses up the client's one answer
        url = (button.url or "").strip()
        if urlparse(url).scheme in ("http", "https"):
            return request.redirect(url, local=False)
        return self._short(_("This link is no longer valid."), 404)

    def _render_answer(self, enrollment, answer, already):
        chosen = answer.button_id.with_context(lang=enrollment.partner_id.lang or None)
        return request.render("salesjet_flows.chain_answer_page", {
            "reply": chosen.reply_text or _("Thank you, your answer was recorded."),
            "already": already,
            "company": enrollment.company_id,
        })

    @http.route(ANSWER_ROUTE, type="http", auth="public", methods=["GET"], csrf=False, sitemap=False)
    def chain_answer(self, token, **_kwargs):
        """A client clicked a button of a chain message: open the page of a link button, or show the answer
        page, whose button sends the answer by POST. Nothing is recorded here: mail scanners and link
        previews follow links (GET, HEAD) without the client.
        """
        target = self._answer_target(token)
        if not isinstance(target, tuple):
            return target
        enrollment, message, button = target
        if request.httprequest.method == "HEAD":
            # link checkers and previews: answer without rendering anything
            return self._short("", 200)
        if button.kind == "link":
            return self._open_link(button)
        answer = request.env["salesjet.chain.answer"].sudo().search(
            [("enrollment_id", "=", enrollment.id), ("message_id", "=", message.id)], limit=1)
        if answer:
            return self._render_answer(enrollment, answer, already=True)
        return request.render("salesjet_flows.chain_answer_confirm_page", {
            "label": button.with_context(lang=enrollment.partner_id.lang or None).label,
            "company": enrollment.company_id,
            "csrf_token": request.csrf_token(),
        })

    # csrf is checked below rather than by Odoo's dispatcher: Odoo's check compares with consteq and
    # answers 500 (TypeError) for a token holding a non-ASCII character
    @http.route(ANSWER_ROUTE, type="http", auth="public", methods=["POST"], csrf=False, sitemap=False,
                max_content_length=4096)
    def chain_answer_post(self, token, **_kwargs):
        """The client sent the answer from the answer page: record it once (the first answer to a message
        wins), apply its segment and show its reply. A request without this session's CSRF token is 400.
        """
        if not valid_csrf(request.params.get("csrf_token")):
            return self._short(_("This page has expired: open the link in the message again."), 400)
        target = self._answer_target(token)
        if not isinstance(target, tuple):
            return target
        enrollment, _message, button = target
        if button.kind == "link":
            return self._open_link(button)
        answer, recorded = request.env["salesjet.chain.answer"].sudo()._record(enrollment, button)
        # the signed token proves the contact: this browser's website visitor is theirs
        request.env["website.visitor"].sudo()._salesjet_link_request(enrollment.partner_id)
        return self._render_answer(enrollment, answer, already=not recorded)
