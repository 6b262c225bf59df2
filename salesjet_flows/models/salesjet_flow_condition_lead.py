"""Conditions on the run's lead: its stage, sales team, salesperson, expected revenue, probability, tags,
source and medium. Evaluated set-wise in one subselect over the batch's runs and their leads; a run without
a lead never meets a lead condition (with "Not" neither)."""
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

LEAD_CONDITION_TYPES = [
    ("lead_stage", "Lead stage"),
    ("lead_team", "Lead sales team"),
    ("lead_user", "Lead salesperson"),
    ("lead_revenue", "Lead expected revenue"),
    ("lead_probability", "Lead probability"),
    ("lead_tag", "Lead tag"),
    ("lead_utm", "Lead source / medium"),
]

LEAD_CONDITION_KEYS = tuple(key for key, _label in LEAD_CONDITION_TYPES)

# the lead's number each numeric type compares with the line's operator and value
LEAD_NUMBERS = {"lead_revenue": "expected_revenue", "lead_probability": "probability"}

NUMBER_OPERATORS = ("=", "!=", ">", "<")


class SalesjetFlowConditionLead(models.AbstractModel):
    _name = "salesjet.flow.condition.lead"
    _description = "Flow condition: the run's lead"

    lead_stage_ids = fields.Many2many(
        "crm.stage", "salesjet_flow_condition_crm_stage_rel", "condition_id", "stage_id", string="Lead stages",
        help="The run's lead is in one of these stages. A run without a lead does not meet a lead condition.")
    lead_team_ids = fields.Many2many(
        "crm.team", "salesjet_flow_condition_crm_team_rel", "condition_id", "team_id", string="Sales teams",
        help="The run's lead belongs to one of these sales teams. A run without a lead does not meet a lead "
             "condition.")
    lead_user_ids = fields.Many2many(
        "res.users", "salesjet_flow_condition_lead_user_rel", "condition_id", "user_id", string="Salespersons",
        domain=[("share", "=", False)],
        help="The run's lead is assigned to one of these salespersons. A run without a lead does not meet a "
             "lead condition.")
    # CRM tags are readable by salespeople only (Odoo's rights): the list of conditions shows this field to
    # them only (a field group would refuse the copy and export of a flow to other Flows users)
    lead_tag_ids = fields.Many2many(
        "crm.tag", "salesjet_flow_condition_crm_tag_rel", "condition_id", "tag_id", string="Lead tags",
        help="The run's lead has at least one of these tags. A run without a lead does not meet a lead condition.")
    lead_source_ids = fields.Many2many(
        "utm.source", "salesjet_flow_condition_utm_source_rel", "condition_id", "source_id", string="Sources",
        help="The run's lead came from one of these sources (e.g. Facebook, Newsletter); empty: any source. A run "
             "without a lead does not meet a lead condition.")
    lead_medium_ids = fields.Many2many(
        "utm.medium", "salesjet_flow_condition_utm_medium_rel", "condition_id", "medium_id", string="Mediums",
        help="The run's lead came through one of these mediums (e.g. Email, Website); empty: any medium. A run "
             "without a lead does not meet a lead condition.")

    @api.constrains("condition_type", "lead_stage_ids", "lead_team_ids", "lead_user_ids", "lead_tag_ids",
                    "lead_source_ids", "lead_medium_ids", "operator", "value")
    def _check_lead_settings(self):
        labels = dict(self._fields["condition_type"]._description_selection(self.env))
        for line in self.filtered(lambda c: c.condition_type in LEAD_CONDITION_KEYS):
            label, step = labels.get(line.condition_type, ""), line.step_id.display_name
            if line.condition_type in LEAD_NUMBERS:
                if line.operator not in NUMBER_OPERATORS:
                    raise ValidationError(_("Step “%(step)s”: compare the condition “%(condition)s” with is equal "
                                            "to, is not equal to, is greater than or is less than.",
                                            step=step, condition=label))
                try:
                    float((line.value or "").strip())
                except ValueError:
                    raise ValidationError(_("Step “%(step)s”: write a number as the value of the condition "
                                            "“%(condition)s” (e.g. 5000), not “%(value)s”.",
                                            step=step, condition=label, value=line.value or "")) from None
            elif line.condition_type == "lead_utm":
                if not line.lead_source_ids and not line.lead_medium_ids:
                    raise ValidationError(_("Step “%s”: choose a source or a medium (or both) for the condition "
                                            "on the lead's source / medium.", step))
            elif not line.sudo()[line._lead_records_field()]:
                raise ValidationError(_("Step “%(step)s”: choose at least one value for the condition "
                                        "“%(condition)s”.", step=step, condition=label))

    def _lead_records_field(self):
        return {"lead_stage": "lead_stage_ids", "lead_team": "lead_team_ids", "lead_user": "lead_user_ids",
                "lead_tag": "lead_tag_ids"}[self.condition_type]

    # ---- The line's text ----
    def _describe_lead_stage(self):
        return _("lead in stage %s", ", ".join(self.lead_stage_ids.mapped("name")) or "?")

    def _describe_lead_team(self):
        return _("lead of team %s", ", ".join(self.lead_team_ids.mapped("name")) or "?")

    def _describe_lead_user(self):
        return _("lead assigned to %s", ", ".join(self.lead_user_ids.mapped("name")) or "?")

    def _describe_lead_tag(self):
        return _("lead has tag %s", ", ".join(self.sudo().lead_tag_ids.mapped("name")) or "?")

    def _describe_lead_number(self):
        labels = dict(self._fields["condition_type"]._description_selection(self.env))
        operators = dict(self._fields["operator"]._description_selection(self.env))
        return f"{labels.get(self.condition_type, '')} {operators.get(self.operator, '')} {self.value or ''}".strip()

    _describe_lead_revenue = _describe_lead_number
    _describe_lead_probability = _describe_lead_number

    def _describe_lead_utm(self):
        parts = []
        if self.lead_source_ids:
            parts.append(_("lead from source %s", ", ".join(self.lead_source_ids.mapped("name"))))
        if self.lead_medium_ids:
            parts.append(_("lead through medium %s", ", ".join(self.lead_medium_ids.mapped("name"))))
        return _(" and ").join(parts) or _("lead source / medium ?")

    # ---- Filtering ----
    def _lead_domain(self):
        """This line as a domain on crm.lead."""
        if self.condition_type in LEAD_NUMBERS:
            try:
                value = float((self.value or "").strip())
            except ValueError:
                return [("id", "=", False)]
            return [(LEAD_NUMBERS[self.condition_type], self.operator if self.operator in NUMBER_OPERATORS else "=",
                     value)]
        if self.condition_type == "lead_utm":
            domain = []
            if self.lead_source_ids:
                domain.append(("source_id", "in", self.lead_source_ids.ids))
            if self.lead_medium_ids:
                domain.append(("medium_id", "in", self.lead_medium_ids.ids))
            return domain or [("id", "=", False)]
        fname = {"lead_stage": "stage_id", "lead_team": "team_id", "lead_user": "user_id",
                 "lead_tag": "tag_ids"}[self.condition_type]
        return [(fname, "in", self.sudo()[self._lead_records_field()].ids)]

    def _domain_lead(self):
        """Contacts whose run's lead meets the line: one subselect over the runs and their leads.

        The runs are those of the batch being executed (context ``salesjet_enrollment_ids``), else the running
        runs of the step's flow (the "match now" count); a test run has no lead, so nobody meets the line.
        A run without a lead meets neither the line nor its negation: with "Not", the line selects the runs
        whose lead does not match, and ``_get_domain``'s negation of this domain gives them back.
        """
        Lead = self.env["crm.lead"].sudo().with_context(active_test=False)
        matching = Lead._search(self._lead_domain()).subselect()
        lead_test = SQL("e.lead_id NOT IN (%s)", matching) if self.negate else SQL("e.lead_id IN (%s)", matching)
        if self.env.context.get("salesjet_event_data") is not None:
            runs = SQL("FALSE")
        elif self.env.context.get("salesjet_enrollment_ids") is not None:
            runs = SQL("e.id = ANY(%s)", list(self.env.context["salesjet_enrollment_ids"]))
        else:
            runs = SQL("e.flow_id = %s AND e.state = 'running'", self.step_id.flow_id.id or 0)
        self.env["salesjet.flow.enrollment"].flush_model(["lead_id", "flow_id", "state", "partner_id"])
        Lead.flush_model(["stage_id", "team_id", "user_id", "expected_revenue", "probability", "tag_ids",
                          "source_id", "medium_id"])
        partners = SQL("(SELECT e.partner_id FROM salesjet_flow_enrollment e WHERE %s AND e.lead_id IS NOT NULL "
                       "AND %s)", runs, lead_test)
        return ["!", ("id", "in", partners)] if self.negate else [("id", "in", partners)]

    _domain_lead_stage = _domain_lead
    _domain_lead_team = _domain_lead
    _domain_lead_user = _domain_lead
    _domain_lead_revenue = _domain_lead
    _domain_lead_probability = _domain_lead
    _domain_lead_tag = _domain_lead
    _domain_lead_utm = _domain_lead
