"""Condition on the run's data: the values of the event that started the run (a website form's
fields, an API event's data), compared set-wise in one query over the batch's runs."""
import json
import re

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")

# the same test in PostgreSQL, so that a value is cast to numeric only when it is a number
SQL_NUMBER = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"


class SalesjetFlowConditionData(models.AbstractModel):
    _name = "salesjet.flow.condition.data"
    _description = "Flow condition: event and form data"

    data_key = fields.Char(
        string="Data key",
        help="The name of a value of the event that started the run: a field of the website form (e.g. age) "
             "or a key of the API event's data; a dotted path (address.city) reads inside a value. Numbers are "
             "compared as numbers when both sides are numbers, other values as text (ignoring case).",
    )

    @api.constrains("condition_type", "data_key", "operator")
    def _check_data_settings(self):
        for line in self.filtered(lambda c: c.condition_type == "event_data"):
            if not (line.data_key or "").strip() or not line.operator:
                raise ValidationError(_("Step “%s”: write the key of the event / form data condition (e.g. age) "
                                        "and choose an operator.", line.step_id.display_name))

    def _describe_event_data(self):
        operators = dict(self._fields["operator"]._description_selection(self.env))
        text = f"{self.data_key or '?'} {operators.get(self.operator, '')}"
        if self.operator not in ("set", "not_set"):
            text += f" {self.value or ''}"
        return _("event data: %s", text.strip())

    def _domain_event_data(self):
        """Contacts whose run meets the line: one subselect on ``salesjet_flow_enrollment.data`` (jsonb).

        The runs are those of the batch being executed (context ``salesjet_enrollment_ids``, set by
        ``_batch_apply_conditions``), else the running runs of the step's flow (the "match now" count); a test run
        gives its simulated data instead (context ``salesjet_event_data``: JSON ``{partner id: data}``).
        """
        path = [part for part in (self.data_key or "").strip().split(".") if part]
        # a form's fields are under "fields": the key is read at the top, then there
        raw = SQL("COALESCE(e.data #> %s::text[], e.data -> 'fields' #> %s::text[]) #>> '{}'", path, path)
        is_set = SQL("(%s IS NOT NULL AND btrim(%s) <> '')", raw, raw)
        value = (self.value or "").strip()
        if self.operator == "set":
            test = is_set
        elif self.operator == "not_set":
            test = SQL("NOT %s", is_set)
        elif self.operator == "ilike":
            test = SQL("(%s AND %s ILIKE %s)", is_set, raw, "%" + value.replace("\\", "\\\\").replace("%", "\\%")
                       .replace("_", "\\_") + "%")
        else:
            operator = SQL({"=": "=", "!=": "=", ">": ">", "<": "<"}[self.operator])
            if NUMBER.match(value):
                compare = SQL("CASE WHEN %s ~ %s THEN (%s)::numeric %s %s ELSE lower(btrim(%s)) %s lower(%s) END",
                              raw, SQL_NUMBER, raw, operator, float(value), raw, operator, value)
            else:
                compare = SQL("lower(btrim(%s)) %s lower(%s)", raw, operator, value)
            # a run without the value (or an empty one) is equal to, above and below nothing, so it
            # "is not equal to" any value
            test = SQL("NOT (%s AND COALESCE(%s, false))", is_set, compare) if self.operator == "!=" \
                else SQL("(%s AND COALESCE(%s, false))", is_set, compare)
        simulated = self.env.context.get("salesjet_event_data")
        if simulated is not None:
            # a test run: {partner id: data} of runs that do not exist, as a VALUES list
            rows = json.loads(simulated) if isinstance(simulated, str) else simulated
            if not rows:
                return [("id", "=", False)]
            values = SQL(", ").join(SQL("(%s::int, %s::jsonb)", int(pid), json.dumps(data or {}))
                                    for pid, data in rows.items())
            return [("id", "in", SQL("(SELECT e.partner_id FROM (VALUES %s) AS e(partner_id, data) WHERE %s)",
                                     values, test))]
        enrollment_ids = self.env.context.get("salesjet_enrollment_ids")
        if enrollment_ids is not None:
            runs = SQL("e.id = ANY(%s)", list(enrollment_ids))
        else:
            runs = SQL("e.flow_id = %s AND e.state = 'running'", self.step_id.flow_id.id or 0)
        self.env["salesjet.flow.enrollment"].flush_model(["data", "flow_id", "state", "partner_id"])
        return [("id", "in", SQL("(SELECT e.partner_id FROM salesjet_flow_enrollment e WHERE %s AND %s)",
                                 runs, test))]
