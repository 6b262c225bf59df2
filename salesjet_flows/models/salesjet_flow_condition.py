
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.osv import expression

from .salesjet_flow_condition_lead import LEAD_CONDITION_TYPES

# Condition types. Each type ``x`` has one method ``_domain_x()`` returning a
# domain on res.partner; a step filters a whole batch of contacts with one
# search: lines of one "or group" are AND-combined, groups are OR-combined.
# Bridge modules add types with ``selection_add``, their ``_domain_x`` and,
# optionally, ``_check_x`` (validation) and ``_describe_x`` (the line's text).
CONDITION_TYPES = [
    ("tag", "Has tag"),
    ("attribute", "Contact attribute"),
    ("email_opened", "Email opened"),
    ("email_clicked", "Link clicked in an email"),
    ("has_product", "Has product"),
    ("date_added", "Date added"),
    ("last_form", "Last website form"),
    ("current_date", "Current date"),
    ("current_time", "Current time"),
    ("event_data", "Event / form data"),
    ("in_funnel", "Visited the funnel"),
    ("page_visited", "Visited a page"),
    ("funnel_registered", "Registered in the funnel"),
    *LEAD_CONDITION_TYPES,
]

OPERATORS = [
    ("=", "is equal to"),
    ("!=", "is not equal to"),
    (">", "is greater than"),
    ("<", "is less than"),
    ("ilike", "contains"),
    ("set", "is set"),
    ("not_set", "is not set"),
]

# Field types a user can compare against a typed value.
ATTRIBUTE_TTYPES = ("char", "text", "html", "integer", "float", "monetary", "boolean", "date", "datetime",
                    "selection", "many2one", "many2many", "one2many")


class SalesjetFlowCondition(models.Model):
    _name = "salesjet.flow.condition"
    _inherit = [
        "salesjet.flow.condition.email",
        "salesjet.flow.condition.product",
        "salesjet.flow.condition.time",
        "salesjet.flow.condition.data",
        "salesjet.flow.condition.web",
        "salesjet.flow.condition.lead",
    ]
    _description = "Step Condition"
    _order = "step_id, or_group, sequence, id"
    _check_company_auto = True

    step_id = fields.Many2one("salesjet.flow.step", string="Step", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="step_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    or_group = fields.Integer(
        string="Or group", default=1, required=True,
        help="Lines with the same number must all hold (AND); the step runs when any one group holds (OR). "
             "Keep every line in group 1 to require all of them.",
    )
    condition_type = fields.Selection(CONDITION_TYPES, string="Condition", required=True, default="tag")
    negate = fields.Boolean(
        string="Not", help="Invert this line: the step runs for contacts who do NOT meet it.",
    )
    tag_ids = fields.Many2many(
        "res.partner.category", string="Tags",
        help="The contact has at least one of these tags.",
    )
    field_id = fields.Many2one(
        "ir.model.fields", string="Field", ondelete="cascade",
        domain=[("model", "=", "res.partner"), ("store", "=", True), ("ttype", "in", ATTRIBUTE_TTYPES)],
        help="Any stored field of the contact, custom fields included.",
    )
    field_type = fields.Selection(related="field_id.ttype")
    operator = fields.Selection(OPERATORS, default="=")
    value = fields.Char(
        help="Compared with the field. Dates as 2026-12-31, booleans as true/false, "
             "related records by name or id.",
    )
    name = fields.Char(compute="_compute_name")

    @api.depends("condition_type", "negate", "tag_ids", "field_id", "operator", "value", "data_key",
                 "access_product_ids", "date_operator", "date_value", "days_value", "time_from", "time_to",
                 "funnel_id", "page_path", "within_days", "lead_stage_ids", "lead_team_ids", "lead_user_ids",
                 "lead_tag_ids", "lead_source_ids", "lead_medium_ids")
    def _compute_name(self):
        types = dict(self._fields["condition_type"]._description_selection(self.env))
        for line in self:
            describe = getattr(line, f"_describe_{line.condition_type}", None)
            text = describe() if describe else types.get(line.condition_type, "")
            line.name = (_("NOT %s", text) if line.negate else text).strip()

    def _describe_tag(self):
        return _("has tag %s", ", ".join(self.tag_ids.mapped("name")) or "?")

    def _describe_attribute(self):
        operators = dict(self._fields["operator"]._description_selection(self.env))
        text = f"{self.field_id.field_description or '?'} {operators.get(self.operator, '')}"
        if self.operator not in ("set", "not_set"):
            text += f" {self.value or ''}"
        return text

    def _describe(self):
        """These lines as one sentence: "A and B, or C" (groups in order)."""
        groups = [lines.mapped("name") for lines in self.grouped("or_group").values()]
        if len(groups) == 1:
            return _(" and ").join(groups[0])
        return _(", or ").join(f"({_(' and ').join(names)})" if len(names) > 1 else names[0] for names in groups)

    @api.constrains("condition_type", "tag_ids", "field_id", "operator", "value")
    def _check_settings(self):
        for line in self:
            checker = getattr(line, f"_check_{line.condition_type}", None)
            if checker:
                checker()

    def _check_tag(self):
        if not self.tag_ids:
            raise ValidationError(_("Choose at least one tag for the condition “has tag” of step “%s”.",
                                    self.step_id.display_name))

    def _check_attribute(self):
        if not self.field_id or not self.operator:
            raise ValidationError(_("Choose a field and an operator for the contact attribute condition of step “%s”.",
                                    self.step_id.display_name))
        try:
            self.env["res.partner"].search_count(self._domain_attribute(), limit=1)
        except (ValueError, TypeError) as e:
            raise ValidationError(_("The value “%(value)s” cannot be compared with the field %(field)s: %(error)s",
                                    value=self.value, field=self.field_id.field_description, error=e)) from e

    # ------------------------------------------------------------------
    # Filtering
    # ------------------------------------------------------------------

    def _get_domain(self):
        """Domain on res.partner for these lines: OR over their groups of the AND
        of each group's lines (negations applied). No lines: every contact."""
        if not self:
            return []
        groups = []
        for lines in self.grouped("or_group").values():
            domains = []
            for line in lines:
                domain = getattr(line, f"_domain_{line.condition_type}")()
                if line.negate:
                    domain = ["!", *expression.normalize_domain(domain)]
                domains.append(domain)
            groups.append(expression.AND(domains))
        return expression.OR(groups)

    def _filter(self, partners):
        """Return the contacts of ``partners`` that meet these lines, in one query."""
        if not self or not partners:
            return partners
        Partner = self.env["res.partner"].with_context(active_test=False)
        return Partner.search(expression.AND([[("id", "in", partners.ids)], self._get_domain()]))

    def _next_changes(self, now, partner_ids, company_ids):
        """For each contact (``partner_ids``, with the company of its run in ``company_ids``), the first moment
        after ``now`` (naive UTC) at which these lines may start to hold although nothing about the contact
        changed, or None. Only lines about the current moment have such moments (see the time conditions)."""
        moments = [None] * len(partner_ids)
        for line in self:
            changes = line._next_change(now, partner_ids, company_ids)
            if changes:
                moments = [min(filter(None, (a, b)), default=None) for a, b in zip(moments, changes, strict=True)]
        return moments

    def _next_change(self, now, partner_ids, company_ids):
        """This line's moments for ``_next_changes``: None when the line depends on the contact only
        (types about the current moment define ``_next_change_<condition type>``)."""
        method = getattr(self, f"_next_change_{self.condition_type}", None)
        return method(now, partner_ids, company_ids) if method else None

    def _domain_tag(self):
        return [("category_id", "in", self.tag_ids.ids)]

    def _domain_attribute(self):
        field = self.env["res.partner"]._fields[self.field_id.name]
        fname = self.field_id.name
        if self.operator == "set":
            return [(fname, "!=", False)]
        if self.operator == "not_set":
            return [(fname, "=", False)]
        value = self._parse_value(field)
        if field.type in ("many2one", "many2many", "one2many") and isinstance(value, str):
            fname = f"{fname}.{self.env[field.comodel_name]._rec_name or 'id'}"
        if field.type in ("many2many", "one2many") and self.operator in ("=", "!="):
            return [(fname, "in" if self.operator == "=" else "not in", [value])]
        return [(fname, self.operator, value)]

    def _parse_value(self, field):
        raw = (self.value or "").strip()
        if self.operator == "ilike":
            return raw
        if field.type == "integer":
            return int(raw)
        if field.type in ("float", "monetary"):
            return float(raw)
        if field.type == "boolean":
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(_("write true or false"))
            return raw.lower() in ("true", "1", "yes")
        if field.type == "date":
            return fields.Date.to_date(raw)
        if field.type == "datetime":
            return fields.Datetime.to_datetime(raw)
        if field.type in ("many2one", "many2many", "one2many"):
            return int(raw) if raw.isdigit() else raw
        if field.type == "selection" and raw not in dict(field._description_selection(self.env)):
            raise ValueError(_("choose one of %s", ", ".join(dict(field._description_selection(self.env)))))
        return raw

    # ---- Versions and safe edits ----
    def _note_condition_change(self, text):
        for condition in self:
            condition.step_id.flow_id._note_change(_("%(what)s on step %(step)s.", what=text,
                                                     step=condition.step_id.display_name))

    @api.model_create_multi
    def create(self, vals_list):
        conditions = super().create(vals_list)
        conditions._note_condition_change(_("Condition added"))
        return conditions

    def write(self, vals):
        res = super().write(vals)
        self._note_condition_change(_("Condition changed"))
        return res

    def unlink(self):
        self.exists()._note_condition_change(_("Condition removed"))
        return super().unlink()
