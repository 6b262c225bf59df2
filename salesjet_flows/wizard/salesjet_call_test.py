import requests

from odoo import _, fields, models
from odoo.exceptions import UserError

from ..tools.http import PermanentError, RetryableHttpError
from ..tools.phone import to_e164


class SalesjetCallTest(models.TransientModel):
    _name = "salesjet.call.test"
    _description = "Place a Test Call"

    template_id = fields.Many2one("salesjet.call.template", string="Call template", required=True,
                                  ondelete="cascade")
    number = fields.Char(string="Number to call", required=True,
                         help="In international form, e.g. +32 470 12 34 56.")
    partner_id = fields.Many2one(
        "res.partner", string="Render for", required=True, default=lambda self: self.env.user.partner_id,
        help="The contact whose data fills the placeholders of the script.",
    )
    provider = fields.Selection(selection=lambda self: self.env["salesjet.call.provider"]._providers(),
                                string="Through", readonly=True,
                                default=lambda self: self.env["salesjet.call.provider"]._current())

    def _render_texts(self):
        partner = self.partner_id
        Render = self.env["mail.render.mixin"].with_context(lang=partner.lang)
        context = {"lead": self.env["crm.lead"], "event": {}}
        return {
            line.id: Render._render_template(line.text or "", "res.partner", partner.ids,
                                             add_context=context)[partner.id]
            for line in self.template_id.with_context(lang=partner.lang)._say_lines()
        }

    def action_call(self):
        """Place one call with the template through the configured provider and say how it went."""
        self.ensure_one()
        template = self.template_id
        number = to_e164(self.number, self.partner_id.country_id.code or template._country_code())
        if not number:
            raise UserError(_("“%s” is not a valid phone number; write it in international form, "
                              "e.g. +32 470 12 34 56.", self.number))
        texts = self._render_texts()
        Provider = self.env["salesjet.call.provider"]
        if Provider._current() == "twilio":
            settings = Provider._twilio_settings()
            from_number = template._normalise(template.from_number or "")
            if not from_number:
                raise UserError(_("Set the number to call from on the template: a number of your telephony account."))
            try:
                with Provider._twilio_session() as session:
                    sid, status, _http, _excerpt = Provider._twilio_call(
                        session, settings, number, from_number, template._twiml(texts), template.record)
            except (PermanentError, RetryableHttpError) as e:
                raise UserError(_("The test call failed: %s", e)) from e
            except requests.RequestException as e:
                raise UserError(_("The telephony API could not be reached: %s", e)) from e
            message = _("Test call to %(number)s placed: %(sid)s (%(status)s).", number=number, sid=sid,
                        status=status)
        else:
            user = self.env.user
            self.env["mail.activity"].create({
                "res_model_id": self.env["ir.model"]._get_id("res.partner"),
                "res_id": self.partner_id.id,
                "activity_type_id": self.env.ref("mail.mail_activity_data_call").id,
                "summary": _("[Test] %s", template.name),
                "note": template._script_html(texts, number),
                "user_id": user.id,
                "date_deadline": fields.Date.context_today(self),
            })
            message = _("No telephony provider is set: a call activity with the script was planned for you "
                        "on %s.", self.partner_id.display_name)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "success", "message": message, "next": {"type": "ir.actions.act_window_close"}},
        }
