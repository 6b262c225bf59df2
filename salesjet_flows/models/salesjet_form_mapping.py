"""Form data: a website-form trigger writes some of the form's fields on the contact.

The lines of a trigger map a form field (its ``name`` in the page) to a stored field of
``res.partner`` of a simple type, custom ``x_`` fields included. They are applied when the
event is processed, once its contact is found or created, before it is enrolled: the
trigger's contact filter and the flow's first step already see the new values. A value
that does not convert is skipped with a reason kept on the event; the others are written.
Every field of the form, mapped or not, stays in the event's data (``fields``).
"""
import logging

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..tools.form_values import MAPPABLE_TTYPES, PROTECTED_FIELDS

_logger = logging.getLogger(__name__)


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
