from odoo import _, api, fields, models

# Font Awesome icon of each action type in the diagram; other types get a cog.
ACTION_ICONS = {
    "add_tag": "fa-tag", "remove_tag": "fa-tag", "email": "fa-envelope", "sms": "fa-mobile",
    "note": "fa-sticky-note", "notify_user": "fa-user", "list_add": "fa-list", "list_remove": "fa-list",
    "flow_start": "fa-play-circle", "flow_stop": "fa-stop-circle", "call": "fa-phone", "webhook": "fa-plug",
}


class SalesjetFlow(models.Model):
    _inherit = "salesjet.flow"

    diagram_data = fields.Json(
        string="Diagram", compute="_compute_diagram_data",
        help="What the flow diagram draws: the triggers, then each step with its timing, conditions, "
             "repeat and live counts.",
    )

    @api.depends("trigger_ids", "trigger_ids.name", "step_ids", "step_ids.summary", "step_ids.active",
                 "step_ids.sequence", "step_ids.condition_ids")
    def _compute_diagram_data(self):
        counts = {}
        flow_ids = [flow_id for flow_id in self.ids if isinstance(flow_id, int)]
        if flow_ids:
            # one query for the counts of every step of these flows
            for step, state, count in self.env["salesjet.flow.job"]._read_group(
                    [("flow_id", "in", flow_ids)], ["step_id", "state"], ["__count"]):
                counts.setdefault(step.id, {})[state] = count
        actions = dict(self.env["salesjet.flow.step"]._fields["action_type"]._description_selection(self.env))
        for flow in self:
            # unsaved steps after the saved ones of their sequence, as they will be once saved (ids grow):
            # the diagram opens a new step after saving by its rank among the new ones
            steps = flow.step_ids.sorted(lambda s: (s.sequence, not s.id, s.id or 0))
            flow.diagram_data = {
                "triggers": [{"id": t.id or 0, "name": t.name or ""} for t in flow.trigger_ids],
                "steps": [step._diagram_node(actions, counts.get(step.id, {})) for step in steps],
            }


class SalesjetFlowStep(models.Model):
    _inherit = "salesjet.flow.step"

    def _diagram_node(self, actions, counts):
        """One step as the diagram shows it."""
        action = actions.get(self.action_type, "")
        conditions = self.condition_ids
        return {
            "id": self.id if isinstance(self.id, int) else 0,
            "title": self.display_name or action,
            "action": action,
            "icon": ACTION_ICONS.get(self.action_type, "fa-cog"),
            "summary": self.summary or "",
            "when": self._diagram_when(),
            "conditions": " · ".join(c.name for c in conditions if c.name),
            "stop_on_fail": bool(conditions) and self.on_condition_fail == "stop",
            "repeat": _("every %(value)s %(unit)s, at most %(max)s times", value=self.repeat_interval,
                        unit=dict(self._fields["repeat_unit"]._description_selection(self.env)).get(self.repeat_unit, "").lower(),
                        max=self.repeat_max) if self.repeat else "",
            "active": self.active,
            "counts": {state: counts.get(state, 0) for state in ("pending", "done", "skipped", "failed")},
        }

    def _diagram_when(self):
        """The timing, short, as written on the arrow that leads to the step."""
        units = dict(self._fields["delay_unit"]._description_selection(self.env))
        if self.timing == "immediate":
            return _("now")
        if self.timing == "delay":
            origin = _("from start") if self.delay_from == "start" else ""
            return " ".join(filter(None, [f"+{self.delay_value} {units.get(self.delay_unit, '').lower()}", origin]))
        if self.timing == "date" and self.run_at:
            return fields.Datetime.to_string(fields.Datetime.context_timestamp(self, self.run_at))[:16]
        return dict(self._fields["timing"]._description_selection(self.env)).get(self.timing, "")
