from odoo import models

from ..tools.placeholders import check_templates_used_by_steps


class SmsTemplate(models.Model):
    _inherit = "sms.template"

    # ---- SMS templates ----
    def write(self, vals):
        res = super().write(vals)
        if {"body"} & set(vals):
            self._salesjet_check_step_placeholders()
        return res

    def _update_field_translations(self, fname, translations, digest=None, source_lang=None):
        res = super()._update_field_translations(fname, translations, digest=digest, source_lang=source_lang)
        self._salesjet_check_step_placeholders()
        return res

    def _salesjet_check_step_placeholders(self):
        """As for email templates (``mail.template._salesjet_check_step_placeholders``)."""
        def where(template, step):
            return self.env._("SMS template “%(template)s”, used by the flow step “%(step)s”",
                              template=template.display_name, step=step.display_name)

        check_templates_used_by_steps(self, "sms_template_id", [("body", "inline_template")], where)
