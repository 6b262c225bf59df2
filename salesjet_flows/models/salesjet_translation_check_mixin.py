from odoo import models


class SalesjetTranslationCheckMixin(models.AbstractModel):
    """Records whose translated texts hold placeholders: a translation is checked like the text itself.

    Constraints only see the current language, so a placeholder refused in English
    must not run from its French translation (see tests/test_templates_sandbox.py).
    """
    _name = "salesjet.translation.check.mixin"
    _description = "Checks translated texts like the text itself"

    def _update_field_translations(self, field_name, translations, digest=None, source_lang=None):
        res = super()._update_field_translations(field_name, translations, digest=digest, source_lang=source_lang)
        for lang in translations:
            self.with_context(lang=lang)._validate_fields([field_name])
        return res
