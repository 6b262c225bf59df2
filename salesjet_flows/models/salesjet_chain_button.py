from urllib.parse import urlparse

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .salesjet_chain_message import BUTTON_KINDS


class SalesjetChainButton(models.Model):
    _name = "salesjet.chain.button"
    _description = "Chain Message Button"
    _order = "message_id, sequence, id"

    message_id = fields.Many2one("salesjet.chain.message", string="Message", required=True, ondelete="cascade",
                                 index=True)
    company_id = fields.Many2one(related="message_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    label = fields.Char(required=True, translate=True, help="The text on the button.")
    kind = fields.Selection(
        BUTTON_KINDS, string="Does", required=True, default="reply",
        help="Link to a page: the click opens your page (only http and https addresses).\n"
             "Text reply: the client's answer is recorded and the reply text is shown.\n"
             "Reply and add to a segment: the same, and the client joins the segment.")
    url = fields.Char(string="Page address", help="e.g. https://shop.example.com/fish-care")
    reply_text = fields.Text(
        string="Reply shown", translate=True,
        help="Shown to the client after the click, e.g. “Thank you, see you soon!”.")
    tag_id = fields.Many2one(
        "res.partner.category", string="Segment", ondelete="restrict",
        help="The segment (contact tag) the client joins by clicking.")
    answer_count = fields.Integer(string="Clicks", compute="_compute_answer_count")

    @api.constrains("kind", "url", "tag_id")
    def _check_button(self):
        for button in self:
            if button.kind == "link":
                parsed = urlparse((button.url or "").strip())
                if parsed.scheme not in ("http", "https") or not parsed.netloc:
                    raise ValidationError(_("Button “%s”: give a full http:// or https:// address.", button.label))
            if button.kind == "segment" and not button.tag_id:
                raise ValidationError(_("Button “%s”: choose the segment the client joins.", button.label))

    def _compute_answer_count(self):
        data = dict(self.env["salesjet.chain.answer"]._read_group(
            [("button_id", "in", self.ids)], ["button_id"], ["__count"]))
        for button in self:
            button.answer_count = data.get(button, 0)
