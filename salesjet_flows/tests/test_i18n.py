from pathlib import Path

from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase
from odoo.tools.translate import PoFileReader, TranslationModuleReader

LANGUAGES = ("es", "it", "ru")


class TestTranslations(TransactionCase):
    """The module's interface is fully translated in SalesJet's help languages, and stays so.

    The terms are read from the installed code and data as Odoo's own export reads
    them, so a new label or message without a translation fails this test.
    """

    def test_every_term_has_a_spanish_italian_and_russian_translation(self):
        modules = self.env["ir.module.module"].search(
            [("name", "=like", "salesjet_flows%"), ("state", "=", "installed")]).mapped("name")
        self.assertIn("salesjet_flows", modules)
        for module in modules:
            terms = {
                source for term_module, _type, _name, _res_id, source, _value, _comments
                in TranslationModuleReader(self.env.cr, modules=[module])
                if term_module == module and source.strip()
            }
            if module == "salesjet_flows":  # (a glue module such as salesjet_flows_loyalty_sale has almost none)
                self.assertGreater(len(terms), 10, f"{module} has translatable terms")
            for lang in LANGUAGES:
                path = Path(get_module_path(module)) / "i18n" / f"{lang}.po"
                with self.subTest(module=module, lang=lang):
                    self.assertTrue(path.exists(), f"{path} is missing")
                    # read as Odoo reads it (through the module's .pot: a term missing there is obsolete,
                    # an entry without its "module:" comment breaks the whole file)
                    translated = {row["src"] for row in PoFileReader(str(path)) if row["value"]}
                    missing = sorted(terms - translated)
                    self.assertFalse(missing, f"{len(missing)} terms of {module} are not translated in {lang}.po "
                                              f"(run scripts/i18n.sh), e.g. {missing[:3]}")
