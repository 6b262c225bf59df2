import re

from lxml import etree
from markupsafe import escape

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..tools.phone import to_e164

SCRIPT_LINE_KINDS = [
    ("say", "Say a message"),
    ("connect", "Connect to another number"),
    ("pause", "Pause"),
    ("hangup", "Hang up"),
]

# Characters XML 1.0 cannot carry at all (lxml refuses them): dropped from spoken texts.
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

MAX_PAUSE = 600


class SalesjetCallTemplate(models.Model):
    _name = "salesjet.call.template"
    _description = "Call Template"
    _order = "name, id"

    name = fields.Char(required=True, translate=True)
    description = fields.Text(translate=True, help="What this call is for, for your colleagues.")
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", string="Company", index=True, default=lambda self: self.env.company,
        help="Leave empty to share the template between companies.",
    )
    from_number = fields.Char(
        string="Call from",
        help="The number the call comes from, in international form (+1 415 555 0100). With a telephony "
             "provider it must be a number of your account; it is shown to the salesperson otherwise.",
    )
    record = fields.Boolean(
        string="Record the call",
        help="Ask the telephony provider to record the call. Tell your contacts and follow your local law.",
    )
    language = fields.Char(
        string="Voice language",
        help="Language of the spoken messages as the provider names it, e.g. en-US, fr-FR; "
             "empty: the provider's default.",
    )
    line_ids = fields.One2many("salesjet.call.script.line", "template_id", string="Script", copy=True)
    line_count = fields.Integer(string="Lines", compute="_compute_line_count")

    @api.depends("line_ids")
    def _compute_line_count(self):
        for template in self:
            template.line_count = len(template.line_ids)

    @api.model_create_multi
    def create(self, vals_list):
        templates = super().create(vals_list)
        templates._check_script()
        return templates

    @api.constrains("line_ids")
    def _check_script(self):
        for template in self:
            if not template.line_ids:
                raise ValidationError(_(
                    "Call template “%s” has no script: add at least one line, e.g. a message to say.",
                    template.name))

    @api.constrains("from_number", "company_id")
    def _check_from_number(self):
        for template in self.filtered("from_number"):
            if not template._normalise(template.from_number):
                raise ValidationError(_(
                    "Call template “%(name)s”: “%(number)s” is not a valid number to call from; write it in "
                    "international form, e.g. +1 415 555 0100.", name=template.name, number=template.from_number))

    def _country_code(self):
        return (self.company_id or self.env.company).country_id.code

    def _normalise(self, number):
        """``number`` in E.164, read with the template company's country, or None."""
        return to_e164(number, self._country_code())

    # ------------------------------------------------------------------
    # Scripts
    # ------------------------------------------------------------------

    def _say_lines(self):
        return self.line_ids.filtered(lambda line: line.kind == "say")

    def _twiml(self, texts):
        """The script as TwiML for one call.

        :param dict texts: {script line id: rendered text} of the "say" lines
        :return str: an XML document; every text is escaped by the XML serializer
        """
        self.ensure_one()
        response = etree.Element("Response")
        for line in self.line_ids:
            if line.kind == "say":
                say = etree.SubElement(response, "Say")
                if self.language:
                    say.set("language", self.language.strip())
                say.text = XML_INVALID.sub("", texts.get(line.id) or "")
            elif line.kind == "connect":
                dial = etree.SubElement(response, "Dial")
                if self.from_number:
                    dial.set("callerId", self._normalise(self.from_number) or "")
                dial.text = self._normalise(line.number) or line.number
            elif line.kind == "pause":
                etree.SubElement(response, "Pause", length=str(line.seconds))
            elif line.kind == "hangup":
                etree.SubElement(response, "Hangup")
        return etree.tostring(response, xml_declaration=True, encoding="UTF-8").decode()

    def _script_html(self, texts, number):
        """The script as a note for a salesperson who makes the call by hand."""
        self.ensure_one()
        items = []
        for line in self.line_ids:
            if line.kind == "say":
                items.append(_("Say: %s", texts.get(line.id) or ""))
            elif line.kind == "connect":
                items.append(_("Transfer to %s", self._normalise(line.number) or line.number))
            elif line.kind == "pause":
                items.append(_("Pause %s seconds", line.seconds))
            else:
                items.append(_("Hang up"))
        header = _("Call %s", number)
        if self.from_number:
            header = _("Call %(to)s from %(from)s", to=number, **{"from": self.from_number})
        lines = "".join(f"<li>{escape(item)}</li>" for item in items)
        return f"<p>{escape(header)}</p><ol>{lines}</ol>"

    def action_open_test_call(self):
        """Open the wizard that places one call with this template."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Test call"),
            "res_model": "salesjet.call.test",
            "view_mode": "form",
            "target": "new",
            "context": {"default_template_id": self.id},
        }
