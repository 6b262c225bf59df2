import re
from urllib.parse import urlparse

from odoo import _, http
from odoo.http import request
from odoo.tools.misc import consteq

from ..models.salesjet_flow_step_chain import answer_payload

# enrollment.message.button.signature: anything else is refused before any lookup
TOKEN_RE = re.compile(r"^(\d{1,12})\.(\d{1,12})\.(\d{1,12})\.([0-9a-f]{32})$")
MAX_TOKEN_LENGTH = 128


class SalesjetChainController(http.Controller):

    def _short(self, message, status):
        return request.make_response(message, headers=[("Content-Type", "text/plain; charset=utf-8")], status=status)

    @http.route("/salesjet/chain/answer/<string:token>", type="http", auth="public", methods=["GET"],
                csrf=False, sitemap=False)
    def chain_answer(self, token, **_kwargs):
        """A client clicked a button of a chain message: open the page of a link button, or record the
        answer once and show its reply.

        Garbled tokens get 400, forged ones 403, links to deleted messages 404; nothing is stored for them.
        """
        match = TOKEN_RE.match(token or "") if len(token or "") <= MAX_TOKEN_LENGTH else None
        if not match:
            return self._short(_("This link is not valid."), 400)
        enrollment_id, message_id, button_id = (int(group) for group in match.groups()[:3])
        Step = request.env["salesjet.flow.step"].sudo()
        expected = Step._chain_answer_token(enrollment_id, message_id, button_id)
        if not consteq(expected, token):
            return self._short(_("This link is not valid."), 403)
        env = request.env(su=True)
        enrollment = env["salesjet.flow.enrollment"].browse(enrollment_id).exists()
        message = env["salesjet.chain.message"].browse(message_id).exists()
        button = env["salesjet.chain.button"].browse(button_id).exists()
        if not (enrollment and message and button) or button.message_id != message \
                or message.flow_id != enrollment.flow_id:
            return self._short(_("This link is no longer valid."), 404)
        if request.httprequest.method == "HEAD":
            # link checkers and previews: answer without recording anything
            return self._short("", 200)
        if button.kind == "link":
            # a link is a way to a page, not an answer: it never uses up the client's one answer
            url = (button.url or "").strip()
            if urlparse(url).scheme in ("http", "https"):
                return request.redirect(url, local=False)
            return self._short(_("This link is no longer valid."), 404)
        answer, recorded = env["salesjet.chain.answer"]._record(enrollment, button)
        chosen = answer.button_id.with_context(lang=enrollment.partner_id.lang or None)
        return request.render("salesjet_flows.chain_answer_page", {
            "reply": chosen.reply_text or _("Thank you, your answer was recorded."),
            "already": not recorded,
            "company": enrollment.company_id,
        })
