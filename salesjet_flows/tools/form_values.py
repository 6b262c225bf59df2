from datetime import datetime

from odoo import _

# field types a form value converts to
MAPPABLE_TTYPES = ("char", "text", "html", "selection", "integer", "float", "monetary", "boolean", "date",
                   "datetime", "many2one")


# contact fields a public form must never set: who the contact is, who owns it, what it may access
PROTECTED_FIELDS = {"id", "company_id", "user_id", "user_ids", "parent_id", "commercial_partner_id", "active",
                    "create_uid", "write_uid", "create_date", "write_date", "employee", "is_company",
                    "partner_share", "signup_token", "signup_type", "signup_expiration", "property_account_payable_id",
                    "property_account_receivable_id", "property_product_pricelist", "team_id",
                    "message_main_attachment_id"}


TRUE_WORDS = ("1", "true", "yes", "y", "on", "checked", "x")


FALSE_WORDS = ("0", "false", "no", "n", "off", "")


def convert_form_value(env, field, raw, company=None):  # noqa: C901 - one flat branch per field type, each short; splitting it is out of issue 22's scope
    """The value of ``raw`` (the form's text) for the ``res.partner`` field ``field`` (an ORM field).

    :raise FormValueError: with a sentence saying why the value does not fit
    """
    text = str(raw).strip()
    ttype = field.type
    if ttype in ("char", "text", "html"):
        return text[:field.size] if getattr(field, "size", None) else text
    if ttype == "selection":
        options = field._description_selection(env)
        for key, _label in options:
            if text == key:
                return key
        folded = text.casefold()
        for key, label in options:
            if folded in (str(key).casefold(), str(label).casefold()):
                return key
        raise FormValueError(_("“%(value)s” is none of %(options)s", value=text,
                               options=", ".join(label for _key, label in options)))
    if ttype == "integer":
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            raise FormValueError(_("“%s” is not a whole number", text)) from None
        if not number.is_integer():
            raise FormValueError(_("“%s” is not a whole number", text))
        return int(number)
    if ttype in ("float", "monetary"):
        cleaned = text.replace(" ", "").replace("\u00a0", "")
        if "," in cleaned and "." not in cleaned:
            cleaned = cleaned.replace(",", ".")
        try:
            return float(cleaned)
        except ValueError:
            raise FormValueError(_("“%s” is not a number", text)) from None
    if ttype == "boolean":
        if text.casefold() in TRUE_WORDS:
            return True
        if text.casefold() in FALSE_WORDS:
            return False
        raise FormValueError(_("“%s” is neither yes nor no", text))
    if ttype in ("date", "datetime"):
        value = None
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            lang = env["res.lang"]._get_data(code=env.lang or "en_US")
            formats = [lang.date_format] if lang and lang.date_format else []
            for fmt in [*formats, "%d/%m/%Y", "%d.%m.%Y"]:
                try:
                    value = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if value is None:
            raise FormValueError(_("“%s” is not a date (write it as 2026-12-31)", text))
        if value.tzinfo:
            value = (value - value.utcoffset()).replace(tzinfo=None)  # stored in UTC
        return value.date() if ttype == "date" else value
    if ttype == "many2one":
        Comodel = env[field.comodel_name].sudo().with_context(active_test=True)
        rec_name = Comodel._rec_name or "display_name"
        domain = [(rec_name, "=ilike", text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))]
        if company is not None and "company_id" in Comodel._fields:
            domain.append(("company_id", "in", [False, company.id]))
        found = Comodel.search(domain, limit=2)
        if not found:
            raise FormValueError(_("no %(model)s is named “%(value)s”", model=env["ir.model"]._get(
                field.comodel_name).name, value=text))
        if len(found) > 1:
            raise FormValueError(_("several %(model)s are named “%(value)s”", model=env["ir.model"]._get(
                field.comodel_name).name, value=text))
        return found.id
    raise FormValueError(_("fields of type %s cannot be filled from a form", ttype))


class FormValueError(ValueError):
    """A form value that does not convert: ``args[0]`` says why, for the event."""
