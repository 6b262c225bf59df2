from odoo import _, fields, models
from odoo.exceptions import ValidationError


class SalesjetFlowConditionEmail(models.AbstractModel):
    _name = "salesjet.flow.condition.email"
    _description = "Flow condition: email activity"

    mail_step_id = fields.Many2one(
        "salesjet.flow.step", string="Email of step", ondelete="cascade",
        check_company=True,
        domain=[("action_type", "=", "email")],
        help="The email sent by this step (of any flow). Leave empty to use a template instead.",
    )
    mail_template_id = fields.Many2one(
        "mail.template", string="Email template", ondelete="cascade", domain=[("model", "=", "res.partner")],
        help="Any email sent from this template by a flow step.",
    )

    def _check_email_opened(self):
        if not self.mail_step_id and not self.mail_template_id:
            raise ValidationError(_("The email condition of step “%s” needs the step or the template whose "
                                    "email it looks at.", self.step_id.display_name))

    _check_email_clicked = _check_email_opened

    def _email_trace_domain(self, activity_domain):
        steps = self.mail_step_id or self.env["salesjet.flow.step"].search(
            [("mail_template_id", "=", self.mail_template_id.id), ("action_type", "=", "email")])
        mailings = steps.mailing_id
        trace_query = self.env["mailing.trace"].sudo()._search([
            ("mass_mailing_id", "in", mailings.ids),
            ("model", "=", "res.partner"),
            *activity_domain,
        ])
        return [("id", "in", trace_query.subselect("res_id"))]

    def _domain_email_opened(self):
        # a click or a reply proves the mail was opened even when the pixel was blocked
        return self._email_trace_domain([
            "|", "|", ("open_datetime", "!=", False), ("links_click_datetime", "!=", False),
            ("trace_status", "in", ("open", "reply")),
        ])

    def _domain_email_clicked(self):
        return self._email_trace_domain([("links_click_datetime", "!=", False)])
