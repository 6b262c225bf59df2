"""What a flow's kind changes: the trigger and condition types its forms offer first.

A new trigger of a flow starts with the kind's usual trigger type, a new condition of one of its steps
with the kind's usual condition type, and the Triggers tab names the kind's usual triggers. Any type can
still be chosen. Bridge modules add their kinds' types by extending ``_kind_suggestions``.
"""
from odoo import _, api, fields, models


class SalesjetFlow(models.Model):
    _inherit = "salesjet.flow"

    suggested_trigger_type = fields.Char(
        string="Suggested trigger", compute="_compute_suggestions",
        help="The trigger type a new trigger of this flow starts with, from the flow's kind.")
    suggested_condition_type = fields.Char(
        string="Suggested condition", compute="_compute_suggestions",
        help="The condition type a new condition of this flow's steps starts with, from the flow's kind.")
    kind_hint = fields.Char(string="Usual triggers", compute="_compute_suggestions")

    @api.model
    def _kind_suggestions(self):
        """{kind: (trigger types, condition types)}, the most usual first. Types of modules that are not
        installed are passed over, so a bridge can name its types here or add them by extending this."""
        return {
            "manual": (["segment", "api"], ["tag", "attribute"]),
            "page": (["page_visit", "website_form", "page_leave", "file_download"], ["page_visited", "last_form"]),
            "funnel": (["page_visit", "website_form", "page_leave"], ["in_funnel", "page_visited"]),
            "training": (["course_enrolled", "course_started", "lesson_completed", "course_completed",
                          "course_inactive", "api"],
                         ["course_member", "course_started", "course_completed", "lesson_completed",
                          "course_activity", "tag"]),
            "facebook": (["facebook_lead"], ["last_form", "attribute"]),
            "loyalty": (["loyalty_purchase", "loyalty_registration", "loyalty_date"], ["tag", "purchased_product"]),
            "chain": (["landing_signup", "api"], ["tag"]),
        }

    @api.depends("kind")
    def _compute_suggestions(self):
        Trigger, Condition = self.env["salesjet.flow.trigger"], self.env["salesjet.flow.condition"]
        trigger_labels = dict(Trigger._fields["trigger_type"]._description_selection(self.env))
        condition_types = dict(Condition._fields["condition_type"]._description_selection(self.env))
        suggestions = self._kind_suggestions()
        for flow in self:
            triggers, conditions = suggestions.get(flow.kind, ([], []))
            triggers = [t for t in triggers if t in trigger_labels]
            conditions = [c for c in conditions if c in condition_types]
            flow.suggested_trigger_type = triggers[0] if triggers else "segment"
            flow.suggested_condition_type = conditions[0] if conditions else "tag"
            flow.kind_hint = _("Usual triggers for this kind: %s. Any other can be chosen.",
                               ", ".join(trigger_labels[t] for t in triggers)) if triggers else False


class SalesjetFlowStep(models.Model):
    _inherit = "salesjet.flow.step"

    suggested_condition_type = fields.Char(related="flow_id.suggested_condition_type")
