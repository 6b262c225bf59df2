"""Form data: a website-form trigger writes some of the form's fields on the contact.

The lines of a trigger map a form field (its ``name`` in the page) to a stored field of
``res.partner`` of a simple type, custom ``x_`` fields included. They are applied when the
event is processed, once its contact is found or created, before it is enrolled: the
trigger's contact filter and the flow's first step already see the new values. A value
that does not convert is skipped with a reason kept on the event; the others are written.
Every field of the form, mapped or not, stays in the event's data (``fields``).
"""
import logging
from datetime import datetime

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)

# field types a form value converts to
MAPPABLE_TTYPES = ("char", "text", "html", "selection", "integer", "float", "monetary", "boolean", "date",
                   "datetime", "many2one")
# contact fields a public form must never set: who the contact is, who owns it, what it may access
PROTECTED_FIELDS = {"id", "company_id", "user_id", "user_ids", "parent_id", "commercial_partner_id", "active",
                    "create_uid", "write_uid", "create_date", "write_date", "employee", "is_company",
                    "partner_share", "signup_token", "signup_type", "signup_expiration", "property_account_payable_id",
                    "property_account_receivable_id", "property_product_pricelist", "team_id", "message_main_attachment_id"}
TRUE_WORDS = ("1", "true", "yes", "y", "on", "checked", "x")
FALSE_WORDS = ("0", "false", "no", "n", "off", "")


class FormValueError(ValueError):
    """A form value that does not convert: ``args[0]`` says why, for the event."""


def convert_form_value(env, field, raw, company=None):
    """The value of ``raw`` (the form's text) for the ``res.partner`` field ``field`` (an ORM field).

    :raise FormValueError: with a sentence saying why the value does not fit
    """
    text = str(raw).strip()
    ttype = field.type
    if ttype in ("char", "text", "html"):
        return text[:field.size] if getattr(field, "size", None) else text
    if ttype == "selection":
        options = field._description_selection(env)
        for key, label in options:
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


class SalesjetFormMapping(models.Model):
    _name = "salesjet.form.mapping"
    _description = "Website Form Field Mapping"
    _order = "trigger_id, sequence, id"
    _check_company_auto = True

    trigger_id = fields.Many2one("salesjet.flow.trigger", string="Trigger", required=True, ondelete="cascade",
                                 index=True)
    company_id = fields.Many2one(related="trigger_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    form_field = fields.Char(
        string="Form field", required=True,
        help="The field's name in the form (its name attribute), e.g. age or x_budget. The values of every field "
             "of the form stay in the event's data, mapped or not.",
    )
    partner_field_id = fields.Many2one(
        "ir.model.fields", string="Contact field", required=True, ondelete="cascade",
        domain=[("model", "=", "res.partner"), ("store", "=", True), ("ttype", "in", MAPPABLE_TTYPES),
                ("readonly", "=", False), ("name", "not in", sorted(PROTECTED_FIELDS))],
        help="Any stored field of the contact of a simple type, custom fields included. The form's text is "
             "converted: numbers, yes/no, dates (2026-12-31), a choice by its value or label, a related record "
             "by its name. A value that does not convert is skipped, with the reason on the event.",
    )
    field_type = fields.Selection(related="partner_field_id.ttype", string="Type")

    @api.constrains("partner_field_id", "form_field")
    def _check_mapping(self):
        for line in self:
            field = line.partner_field_id
            if field.model != "res.partner" or field.ttype not in MAPPABLE_TTYPES or field.name in PROTECTED_FIELDS \
                    or not field.store or field.name not in self.env["res.partner"]._fields:
                raise ValidationError(_("Form field “%(form)s”: the contact field %(field)s cannot be filled from a "
                                        "form; choose a stored field of a simple type (text, number, date, yes/no, "
                                        "choice, related record).", form=line.form_field, field=field.display_name))
            if not (line.form_field or "").strip():
                raise ValidationError(_("Write the name of the form field to copy, e.g. age."))


class SalesjetFlowTrigger(models.Model):
    _inherit = "salesjet.flow.trigger"

    form_mapping_ids = fields.One2many(
        "salesjet.form.mapping", "trigger_id", string="Form data", copy=True,
        help="Which contact field each field of the form fills, when the event is processed.",
    )


class SalesjetEvent(models.Model):
    _inherit = "salesjet.event"

    form_skipped = fields.Text(
        string="Form values skipped", readonly=True,
        help="The mapped form values that were not written on the contact, and why.",
    )

    def _dispatch(self):
        if self.kind == "website_form":
            if not self._get_partner():
                self._resolve_website_form()
            partner = self._get_partner()
            if partner:
                self._apply_form_mappings(partner)
        return super()._dispatch()

    def _apply_form_mappings(self, partner):
        """Write the mapped form values of the matching triggers on ``partner``, skipping (with a reason
        kept in ``form_skipped``) those that do not convert or that the database refuses."""
        self.ensure_one()
        trigger_ids = [row[0] for row in self._matching_triggers()]
        lines = self.env["salesjet.flow.trigger"].sudo().browse(trigger_ids).form_mapping_ids
        if not lines:
            return
        form_values = (self.data or {}).get("fields") or {}
        Partner = self.env["res.partner"].sudo()
        values, skipped = {}, []
        for line in lines:
            raw = form_values.get(line.form_field.strip())
            fname = line.partner_field_id.name
            if raw is None or str(raw).strip() == "" or fname in values or fname not in Partner._fields:
                continue
            try:
                values[fname] = convert_form_value(self.env, Partner._fields[fname], raw, company=self.company_id)
            except FormValueError as e:
                skipped.append(_("%(form)s → %(field)s: %(reason)s", form=line.form_field,
                                 field=line.partner_field_id.field_description, reason=e.args[0]))
        partner = partner.sudo()
        if values:
            try:
                with self.env.cr.savepoint():
                    partner.write(values)
            except Exception:  # noqa: BLE001 - one refused value must not lose the others
                for fname, value in values.items():
                    try:
                        with self.env.cr.savepoint():
                            partner.write({fname: value})
                    except Exception as e:  # noqa: BLE001
                        skipped.append(_("%(field)s: the value “%(value)s” was refused (%(error)s)",
                                         field=Partner._fields[fname]._description_string(self.env), value=value,
                                         error=str(e).splitlines()[0][:200] if str(e) else type(e).__name__))
        self.form_skipped = "\n".join(skipped) or False
