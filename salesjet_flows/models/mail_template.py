from odoo import fields, models

from ..tools.placeholders import check_templates_used_by_steps
from .salesjet_flow_step_email import TEMPLATE_TEXTS


class MailTemplate(models.Model):
    _inherit = "mail.template"

    # ---- Email templates ----
    salesjet_step_id = fields.Many2one(
        "salesjet.flow.step", string="Flow step", ondelete="set null", index="btree_not_null",
        help="The flow step that owns this template (it was written in the step).",
    )

    def write(self, vals):
        res = super().write(vals)
        if {name for name, _engine in TEMPLATE_TEXTS} & set(vals):
            self._salesjet_check_step_placeholders()
        return res

    def _update_field_translations(self, fname, translations, digest=None, source_lang=None):
        res = super()._update_field_translations(fname, translations, digest=digest, source_lang=source_lang)
        self._salesjet_check_step_placeholders()
        return res

    def _salesjet_check_step_placeholders(self):
        """A template an email step uses is a step text: the scheduler renders it with the cron's rights.
        So whoever is not a Settings administrator may only write its texts (in any language) within the
        placeholder language; a Settings administrator's code is approved (docs/user-guide.md, "Placeholders")."""
        def where(template, step):
            return self.env._("Email template “%(template)s”, used by the flow step “%(step)s”",
                              template=template.display_name, step=step.display_name)

        check_templates_used_by_steps(self, "mail_template_id", TEMPLATE_TEXTS, where)
