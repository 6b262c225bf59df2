from urllib.parse import urlparse

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from .salesjet_flow_step import UNITS
from .salesjet_flow_step_render import inline_to_qweb

CHAIN_CHANNELS = [
    ("email", "Email"),
    ("sms", "SMS"),
]

BUTTON_KINDS = [
    ("link", "Link to a page"),
    ("reply", "Text reply"),
    ("segment", "Reply and add to a segment"),
]


class SalesjetChainMessage(models.Model):
    """One message of a message chain (a flow of kind "message chain").

    Each message owns one generated step of its flow (``action_type``
    ``chain_message``): the engine schedules, sends, retries and logs the
    messages like any other step, message N+1 being scheduled when message N
    was sent, after its own delay.
    """
    _name = "salesjet.chain.message"
    _check_company_auto = True
    _inherit = ["salesjet.translation.check.mixin"]
    _description = "Chain Message"
    _order = "flow_id, sequence, id"

    flow_id = fields.Many2one(
        "salesjet.flow", string="Chain", required=True, ondelete="cascade", index=True,
        domain=[("kind", "=", "chain")])
    company_id = fields.Many2one(related="flow_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    delay_value = fields.Integer(
        string="Delay", default=0,
        help="How long after the previous message (after the start of the chain for the first one) "
             "this message is sent. 0 sends it at once.")
    delay_unit = fields.Selection(UNITS, string="Delay unit", required=True, default="hours")
    channel = fields.Selection(CHAIN_CHANNELS, string="Channel", required=True, default="email")
    subject = fields.Char(
        string="Subject", translate=True,
        help="Subject of the email. Placeholders allowed: Hello {{ object.name ||| friend }}")
    body = fields.Html(
        string="Text", translate=True, sanitize=True,
        help="The message. Placeholders allowed: {{ object.name ||| friend }}, {{ event.get('key') ||| default }}. "
             "An SMS gets its plain text, followed by the buttons as short links.")
    points = fields.Float(
        string="Points to accrue",
        help="Bonus points the client gets with this message. Effective only when the loyalty bridge "
             "(SalesJet Flows - Loyalty) is installed and a loyalty programme is chosen.")
    button_ids = fields.One2many("salesjet.chain.button", "message_id", string="Buttons", copy=True)
    step_id = fields.Many2one(
        "salesjet.flow.step", string="Step", readonly=True, copy=False, ondelete="set null",
        check_company=True,
        help="The flow step that sends this message (generated; it follows the message).")
    answer_count = fields.Integer(string="Answers", compute="_compute_answer_count")

    _sql_constraints = [
        ("delay_positive", "CHECK(delay_value >= 0)", "A message's delay cannot be negative."),
    ]

    @api.depends("subject", "sequence", "channel")
    def _compute_display_name(self):
        channels = dict(self._fields["channel"]._description_selection(self.env))
        for message in self:
            message.display_name = message.subject or _("%s message", channels.get(message.channel, ""))

    def _compute_answer_count(self):
        data = dict(self.env["salesjet.chain.answer"]._read_group(
            [("message_id", "in", self.ids)], ["message_id"], ["__count"]))
        for message in self:
            message.answer_count = data.get(message, 0)

    @api.constrains("channel", "subject", "body", "flow_id")
    def _check_message(self):
        for message in self:
            if message.flow_id.kind != "chain":
                raise ValidationError(_("Messages belong to message chains: set the kind of flow “%s” to "
                                        "“Message chain”.", message.flow_id.name))
            if message.channel == "email" and not (message.subject or "").strip():
                raise ValidationError(_("Chain “%s”: write the subject of each email message.", message.flow_id.name))
            step = self.env["salesjet.flow.step"].new({"flow_id": message.flow_id.id, "name": message.display_name})
            if message.channel == "email":
                step._check_renders(message.subject, _("subject"))
            step._check_renders(inline_to_qweb(message.body), _("text"), engine="qweb")

    # ------------------------------------------------------------------
    # The generated steps
    # ------------------------------------------------------------------

    def _step_values(self):
        self.ensure_one()
        return {
            "flow_id": self.flow_id.id,
            "sequence": self.sequence,
            "name": self.display_name,
            "action_type": "chain_message",
            "chain_message_id": self.id,
            "timing": "delay" if self.delay_value else "immediate",
            "delay_value": self.delay_value,
            "delay_unit": self.delay_unit,
            "delay_from": "previous",
        }

    @api.model_create_multi
    def create(self, vals_list):
        messages = super().create(vals_list)
        steps = self.env["salesjet.flow.step"].sudo().create([message._step_values() for message in messages])
        for message, step in zip(messages, steps):
            message.step_id = step
        return messages

    def write(self, vals):
        res = super().write(vals)
        if {"sequence", "delay_value", "delay_unit", "subject", "channel", "flow_id"} & set(vals):
            for message in self:
                message.step_id.sudo().write(message._step_values())
        return res

    def unlink(self):
        steps = self.step_id
        res = super().unlink()
        steps.sudo().unlink()
        return res

    def action_view_answers(self):
        self.ensure_one()
        return self.env["salesjet.chain.answer"]._action_open([("message_id", "=", self.id)])


class SalesjetChainButton(models.Model):
    _name = "salesjet.chain.button"
    _description = "Chain Message Button"
    _order = "message_id, sequence, id"

    message_id = fields.Many2one("salesjet.chain.message", string="Message", required=True, ondelete="cascade",
                                 index=True)
    company_id = fields.Many2one(related="message_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    label = fields.Char(string="Label", required=True, translate=True, help="The text on the button.")
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


class SalesjetChainAnswer(models.Model):
    """A client's answer to one chain message: recorded once, by the first button clicked."""
    _name = "salesjet.chain.answer"
    _description = "Chain Answer"
    _order = "date desc, id desc"
    _rec_name = "button_id"

    enrollment_id = fields.Many2one("salesjet.flow.enrollment", string="Run", required=True, ondelete="cascade",
                                    index=True)
    message_id = fields.Many2one("salesjet.chain.message", string="Message", required=True, ondelete="cascade",
                                 index=True)
    button_id = fields.Many2one("salesjet.chain.button", string="Answer", required=True, ondelete="cascade")
    flow_id = fields.Many2one("salesjet.flow", string="Chain", required=True, ondelete="cascade", index=True)
    partner_id = fields.Many2one("res.partner", string="Contact", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one("res.company", string="Company", required=True, index=True)
    date = fields.Datetime(string="Answered on", required=True, default=fields.Datetime.now)

    _sql_constraints = [
        ("answer_once", "UNIQUE(enrollment_id, message_id)", "A client answers each chain message once."),
    ]

    @api.model
    def _record(self, enrollment, button):
        """Record ``button`` as the answer of ``enrollment`` to its message, unless one is already recorded.

        One statement, safe against double clicks arriving at once.

        :return: (the answer of record, True if it was recorded by this call)
        """
        message = button.message_id
        self.env.cr.execute(SQL(
            """
            INSERT INTO salesjet_chain_answer
                (enrollment_id, message_id, button_id, flow_id, partner_id, company_id, date,
                 create_uid, create_date, write_uid, write_date)
            VALUES (%(e)s, %(m)s, %(b)s, %(f)s, %(p)s, %(c)s, %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s)
            ON CONFLICT (enrollment_id, message_id) DO NOTHING
            RETURNING id
            """,
            e=enrollment.id, m=message.id, b=button.id, f=enrollment.flow_id.id, p=enrollment.partner_id.id,
            c=enrollment.company_id.id, now=fields.Datetime.now(), uid=self.env.uid,
        ))
        row = self.env.cr.fetchone()
        if row:
            answer = self.browse(row[0])
            if button.kind == "segment" and button.tag_id:
                enrollment.partner_id.sudo().write({"category_id": [(4, button.tag_id.id)]})
            return answer, True
        answer = self.search([("enrollment_id", "=", enrollment.id), ("message_id", "=", message.id)], limit=1)
        return answer, False

    @api.model
    def _action_open(self, domain):
        """The list of answers matching ``domain`` (of a message, of a flow)."""
        return {
            "type": "ir.actions.act_window",
            "name": _("Answers"),
            "res_model": self._name,
            "view_mode": "list,form",
            "domain": domain,
        }
