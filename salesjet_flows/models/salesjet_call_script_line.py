from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..tools.placeholders import check_placeholder_policy
from .salesjet_call_template import MAX_PAUSE, SCRIPT_LINE_KINDS


class SalesjetCallScriptLine(models.Model):
    _name = "salesjet.call.script.line"
    _inherit = ["salesjet.translation.check.mixin"]
    _description = "Call Script Line"
    _order = "template_id, sequence, id"

    template_id = fields.Many2one("salesjet.call.template", string="Call template", required=True,
                                  ondelete="cascade", index=True)
    company_id = fields.Many2one(related="template_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    kind = fields.Selection(SCRIPT_LINE_KINDS, string="Do", required=True, default="say")
    text = fields.Text(
        string="Message", translate=True,
        help="What the call says. Placeholders allowed: Hello {{ object.name ||| there }}, "
             "{{ lead.name }}, {{ event.get('key') ||| default }}.",
    )
    number = fields.Char(help="The number to connect the contact to, e.g. +1 415 555 0100.")
    seconds = fields.Integer(default=2, help="How long to wait, in seconds (at most 600).")

    @api.constrains("kind", "text", "number", "seconds")
    def _check_line(self):
        Render = self.env["mail.render.mixin"]
        sample = self.env.user.partner_id
        for line in self:
            name = line.template_id.name
            if line.kind == "say":
                if not (line.text or "").strip():
                    raise ValidationError(_("Call template “%s”: write the message of each “say” line.", name))
                check_placeholder_policy(self.env, line.text, _("Call template “%s”", name))
                try:
                    Render._render_template(line.text, "res.partner", sample.ids,
                                            add_context={"lead": self.env["crm.lead"], "event": {},
                                                         "company": self.env.company})
                except Exception as e:  # noqa: BLE001 - any rendering error is the user's to fix
                    raise ValidationError(_(
                        "Call template “%(name)s”: the message “%(text)s” does not render: %(error)s. Check its "
                        "placeholders, e.g. {{ object.name }}.", name=name, text=line.text, error=e)) from e
            elif line.kind == "connect":
                if not (line.number or "").strip():
                    raise ValidationError(_("Call template “%s”: give the number each “connect” line transfers to.",
                                            name))
                if not line.template_id._normalise(line.number):
                    raise ValidationError(_(
                        "Call template “%(name)s”: “%(number)s” is not a valid number to connect to; write it in "
                        "international form, e.g. +1 415 555 0100.", name=name, number=line.number))
            elif line.kind == "pause" and not 1 <= line.seconds <= MAX_PAUSE:
                raise ValidationError(_("Call template “%(name)s”: a pause lasts from 1 to %(max)s seconds.",
                                        name=name, max=MAX_PAUSE))
