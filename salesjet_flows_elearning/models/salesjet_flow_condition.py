from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

COURSE_CONDITION_TYPES = [
    ("has_user", "Has a user account"),
    ("course_member", "Has an active course subscription"),
    ("course_started", "Started a course"),
    ("course_completed", "Completed a course"),
    ("lesson_completed", "Completed a lesson"),
    ("course_activity", "Last active on courses"),
]


class SalesjetFlowCondition(models.Model):
    _inherit = "salesjet.flow.condition"

    condition_type = fields.Selection(selection_add=COURSE_CONDITION_TYPES,
                                      ondelete={key: "cascade" for key, _label in COURSE_CONDITION_TYPES})
    course_ids = fields.Many2many(
        "slide.channel", "salesjet_flow_condition_slide_channel_rel", "condition_id", "channel_id",
        ondelete="restrict",  # never widen a filter silently: a used record cannot be deleted
        string="Courses", help="At least one of these courses. Leave empty for any course.",
    )
    lesson_ids = fields.Many2many(
        "slide.slide", "salesjet_flow_condition_slide_slide_rel", "condition_id", "slide_id",
        ondelete="restrict",
        string="Lessons", domain=[("is_category", "=", False)],
        help="The contact completed at least one of these lessons.",
    )
    activity_operator = fields.Selection(
        [("before", "before"), ("after", "on or after")], string="Last active", default="before",
        help="Last activity: the latest lesson viewed or completed, or change of membership, on the courses.",
    )
    activity_date = fields.Datetime(string="Active date")

    @api.depends("condition_type", "negate", "tag_ids", "field_id", "operator", "value",
                 "course_ids", "lesson_ids", "activity_operator", "activity_date")
    def _compute_name(self):
        res = super()._compute_name()
        types = dict(self._fields["condition_type"]._description_selection(self.env))
        for line in self.filtered(lambda cond: cond.condition_type in dict(COURSE_CONDITION_TYPES)):
            text = types[line.condition_type]
            if line.condition_type == "lesson_completed":
                text += f": {', '.join(line.lesson_ids.mapped('name')) or '?'}"
            elif line.condition_type != "has_user":
                text += f": {', '.join(line.course_ids.mapped('name')) or _('any')}"
            if line.condition_type == "course_activity":
                operators = dict(self._fields["activity_operator"]._description_selection(self.env))
                date = fields.Datetime.to_string(line.activity_date) if line.activity_date else "?"
                text += f" {operators.get(line.activity_operator, '')} {date}"
            line.name = _("NOT %s", text) if line.negate else text
        return res

    @api.constrains("condition_type", "lesson_ids", "activity_operator", "activity_date")
    def _check_course_settings(self):
        for line in self.filtered(lambda cond: cond.condition_type in ("lesson_completed", "course_activity")):
            getattr(line, f"_check_{line.condition_type}")()

    def _check_lesson_completed(self):
        if not self.lesson_ids:
            raise ValidationError(_("Choose the lessons of the condition “completed a lesson” of step “%s”.",
                                    self.step_id.display_name))

    def _check_course_activity(self):
        if not self.activity_date or not self.activity_operator:
            raise ValidationError(_("Choose “before” or “on or after” and a date for the condition “last active "
                                    "on courses” of step “%s”.", self.step_id.display_name))

    # ------------------------------------------------------------------
    # Domains: each one subselect, so a batch is filtered in one query
    # ------------------------------------------------------------------

    def _course_domain(self, field="channel_id"):
        return [(field, "in", self.course_ids.ids)] if self.course_ids else []

    def _members(self, domain, active_test=True):
        return self.env["slide.channel.partner"].sudo().with_context(active_test=active_test)._search(
            self._course_domain() + domain)

    def _lesson_rows(self, domain):
        return self.env["slide.slide.partner"].sudo()._search(self._course_domain() + domain)

    def _domain_has_user(self):
        # active users only, internal or portal
        return [("id", "in", self.env["res.users"].sudo()._search([]).subselect("partner_id"))]

    def _domain_course_member(self):
        return [("id", "in", self._members([("member_status", "!=", "invited")]).subselect("partner_id"))]

    def _domain_course_started(self):
        # started = viewed or completed at least one lesson (see the "course started" trigger)
        return [("id", "in", self._lesson_rows([]).subselect("partner_id"))]

    def _domain_course_completed(self):
        # a member who completed a course and left it afterwards did complete it
        return [("id", "in", self._members([("member_status", "=", "completed")], active_test=False)
                 .subselect("partner_id"))]

    def _domain_lesson_completed(self):
        rows = self.env["slide.slide.partner"].sudo()._search(
            [("slide_id", "in", self.lesson_ids.ids), ("completed", "=", True)])
        return [("id", "in", rows.subselect("partner_id"))]

    def _domain_course_activity(self):
        date = self.activity_date
        active_since = [
            "|",
            ("id", "in", self._members([("write_date", ">=", date)]).subselect("partner_id")),
            ("id", "in", self._lesson_rows([("write_date", ">=", date)]).subselect("partner_id")),
        ]
        if self.activity_operator == "after":
            return active_since
        # before: has been on the courses, and nothing since the date
        return [
            ("id", "in", self._members([]).subselect("partner_id")),
            "!", *active_since,
        ]
