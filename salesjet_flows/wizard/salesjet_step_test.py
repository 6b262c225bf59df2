from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.tools import email_normalize

from ..tools.phone import to_e164


class SalesjetStepTest(models.TransientModel):
    _name = "salesjet.step.test"
    _description = "Send a Step's Message to a Test Address"

    step_id = fields.Many2one("salesjet.flow.step", string="Step", required=True, ondelete="cascade")
    action_type = fields.Selection(related="step_id.action_type")
    partner_id = fields.Many2one(
        "res.partner", string="Render for", required=True, default=lambda self: self.env.user.partner_id,
        help="The contact whose data fills the placeholders.",
    )
    email_to = fields.Char(string="Send to email", default=lambda self: self.env.user.email)
    phone_to = fields.Char(string="Send to phone", help="In international form, e.g. +32 470 12 34 56.")

    def action_send(self):
        """Render the step for the chosen contact and really send it to the test address."""
        self.ensure_one()
        step = self.step_id
        # the step's own rendering, for a job of the chosen contact that is never saved: what is tested is
        # what the flow sends, only the recipient differs
        job = self.env["salesjet.flow.job"].new({"step_id": step.id, "partner_id": self.partner_id.id})
        if step.action_type == "email":
            if not email_normalize(self.email_to or ""):
                raise UserError(_("Give a valid email address to send the test to."))
            mail = self.env["mail.mail"].sudo().create(step._email_values(job, test_to=self.email_to)[0])
            mail.send()
            failed = mail.state == "exception"
            message = mail.failure_reason if failed else _("Test email sent to %s.", self.email_to)
        elif step.action_type == "sms":
            number = to_e164(self.phone_to, self.partner_id.country_id.code or self.env.company.country_id.code)
            if not number:
                raise UserError(_("Give a valid phone number to send the test to, e.g. +32 470 12 34 56."))
            body = step._sms_bodies(job, track=False)[job.id]
            sms = self.env["sms.sms"].sudo().create({"number": number, "body": body, "partner_id": self.partner_id.id})
            sms.send()
            failed = sms.state == "error"
            message = (_("The SMS could not be sent (%s).", sms.failure_type) if failed
                       else _("Test SMS sent to %s.", number))
        else:
            raise UserError(_("Only email and SMS steps can send a test."))
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "danger" if failed else "success", "message": message,
                       "next": {"type": "ir.actions.act_window_close"}},
        }
