from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from .salesjet_event import COURSE_EVENT_KINDS

COURSE_TRIGGER_TYPES = [key for key, _label in COURSE_EVENT_KINDS]

INACTIVITY_BATCH_SIZE = 1000


class SalesjetFlowTrigger(models.Model):
    _inherit = "salesjet.flow.trigger"

    trigger_type = fields.Selection(selection_add=[
        ("course_enrolled", "Course enrolled"),
        ("course_started", "Course started"),
        ("lesson_completed", "Lesson completed"),
        ("course_completed", "Course completed"),
        ("course_inactive", "Inactive on a course"),
    ], ondelete={key: "cascade" for key in COURSE_TRIGGER_TYPES})
    course_ids = fields.Many2many(
        "slide.channel", "salesjet_flow_trigger_slide_channel_rel", "trigger_id", "channel_id",
        ondelete="restrict",  # never widen a filter silently: a used record cannot be deleted
        string="Courses",
        help="Only events of these courses start the flow. Leave empty for any course.",
    )
    lesson_ids = fields.Many2many(
        "slide.slide", "salesjet_flow_trigger_slide_slide_rel", "trigger_id", "slide_id",
        ondelete="restrict",
        string="Lessons", domain=[("is_category", "=", False)],
        help="Only the completion of one of these lessons starts the flow. Leave empty for any lesson.",
    )
    course_inactive_days = fields.Integer(
        string="Inactive for (days)", default=7,
        help="A member who has not finished the course and did nothing on it (no lesson viewed or completed, "
             "no change of membership) for this many days. Checked once a day; raised once per period of "
             "inactivity.",
    )

    @api.depends("trigger_type", "event_code", "course_ids", "lesson_ids", "course_inactive_days")
    def _compute_name(self):
        res = super()._compute_name()
        for trigger in self.filtered(lambda t: t.trigger_type in COURSE_TRIGGER_TYPES):
            details = []
            if trigger.trigger_type == "course_inactive":
                details.append(_("%s days", trigger.course_inactive_days))
            if trigger.lesson_ids and trigger.trigger_type == "lesson_completed":
                details.append(", ".join(trigger.lesson_ids.mapped("name")))
            elif trigger.course_ids:
                details.append(", ".join(trigger.course_ids.mapped("name")))
            if details:
                trigger.name = f"{trigger.name}: {' · '.join(details)}"
        return res

    @api.constrains("trigger_type", "course_inactive_days")
    def _check_course_inactive_days(self):
        for trigger in self:
            if trigger.trigger_type == "course_inactive" and trigger.course_inactive_days < 1:
                raise ValidationError(_("The inactivity trigger of flow “%s” needs a number of days of at least 1.",
                                        trigger.flow_id.name))

    @api.model
    def _event_kinds(self):
        return {**super()._event_kinds(), **{key: key for key in COURSE_TRIGGER_TYPES}}

    # ------------------------------------------------------------------
    # Matching (the event kind already matched the trigger type)
    # ------------------------------------------------------------------

    def _match_course(self, event):
        return not self.course_ids or (event.data or {}).get("course_id") in self.course_ids.ids

    _match_course_enrolled = _match_course
    _match_course_started = _match_course
    _match_course_completed = _match_course

    def _match_lesson_completed(self, event):
        lesson_ok = not self.lesson_ids or (event.data or {}).get("lesson_id") in self.lesson_ids.ids
        return lesson_ok and self._match_course(event)

    def _match_course_inactive(self, event):
        return (event.data or {}).get("days") == self.course_inactive_days and self._match_course(event)

    # ------------------------------------------------------------------
    # Inactivity
    # ------------------------------------------------------------------

    @api.model
    def _course_inactivity_query(self, now, select, limit=None):
        """Members idle for the days of an inactivity trigger, not yet posted for that period.

        One statement for every trigger: a member's last activity is the
        latest change of its membership row or of any of its lesson rows in
        that course; it is idle for N days when that is older than now - N
        days. The external id (membership, N, last activity) makes each period
        of inactivity raise one event per threshold.
        """
        return SQL(
            """
            WITH thresholds AS (
                SELECT DISTINCT t.course_inactive_days AS days, t.id AS trigger_id
                  FROM salesjet_flow_trigger t
                  JOIN salesjet_flow f ON f.id = t.flow_id AND f.active AND f.state = 'running'
                 WHERE t.trigger_type = 'course_inactive' AND t.course_inactive_days > 0
            ), members AS (
                SELECT scp.id, scp.partner_id, scp.channel_id,
                       GREATEST(scp.write_date, scp.create_date,
                                (SELECT max(ssp.write_date) FROM slide_slide_partner ssp
                                  WHERE ssp.channel_id = scp.channel_id AND ssp.partner_id = scp.partner_id)
                       ) AS last_activity
                  FROM slide_channel_partner scp
                  JOIN slide_channel c ON c.id = scp.channel_id AND c.active
                 WHERE scp.active AND scp.member_status IN ('joined', 'ongoing')
            ), idle AS (
                SELECT DISTINCT m.id, m.partner_id, m.channel_id, m.last_activity, th.days,
                       concat('course_inactive-', m.id, '-', th.days, '-',
                              to_char(m.last_activity, 'YYYYMMDDHH24MISS')) AS external_id
                  FROM members m
                  JOIN thresholds th ON m.last_activity <= %(now)s - th.days * interval '1 day'
                 WHERE NOT EXISTS (SELECT 1 FROM salesjet_flow_trigger_slide_channel_rel r
                                    WHERE r.trigger_id = th.trigger_id)
                    OR EXISTS (SELECT 1 FROM salesjet_flow_trigger_slide_channel_rel r
                                WHERE r.trigger_id = th.trigger_id AND r.channel_id = m.channel_id)
            )
            SELECT %(select)s FROM idle
             WHERE NOT EXISTS (SELECT 1 FROM salesjet_event e
                                WHERE e.kind = 'course_inactive' AND e.external_id = idle.external_id)
            %(limit)s
            """,
            now=now, select=select,
            limit=SQL("ORDER BY idle.id, idle.days LIMIT %s", limit) if limit else SQL(""),
        )

    @api.model
    def _cron_course_inactivity(self, limit=INACTIVITY_BATCH_SIZE):
        """Scheduled action (daily): raise "inactive on a course" events, for one call's time budget."""
        Partner, Channel = self.env["res.partner"].sudo(), self.env["slide.channel"].sudo()

        def run_batch(batch):
            self.env.flush_all()
            self.env.cr.execute(self._course_inactivity_query(
                fields.Datetime.now(),
                SQL("idle.partner_id, idle.channel_id, idle.days, idle.last_activity, idle.external_id"), batch))
            rows = self.env.cr.fetchall()
            self.env["salesjet.event"]._post_course_events("course_inactive", [{
                "partner": Partner.browse(partner_id), "channel": Channel.browse(channel_id),
                "external_id": external_id,
                "data": {"days": days, "last_activity": fields.Datetime.to_string(last_activity)},
            } for partner_id, channel_id, days, last_activity, external_id in rows], only_if_listened=False)
            return len(rows)

        def remaining():
            self.env.flush_all()
            query = self._course_inactivity_query(fields.Datetime.now(), SQL("1"))
            return self.env["salesjet.cron"]._count_capped(query)

        return self.env["salesjet.cron"]._run_batches(run_batch, remaining, limit, key="course_inactive")
