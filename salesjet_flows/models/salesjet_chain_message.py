from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..tools.placeholders import inline_to_qweb
from ..tools.timing import UNITS

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
    channel = fields.Selection(CHAIN_CHANNELS, required=True, default="email")
    subject = fields.Char(
        translate=True,
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
        for message, step in zip(messages, steps, strict=True):
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
