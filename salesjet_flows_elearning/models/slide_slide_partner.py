from odoo import api, models
from odoo.tools import SQL


class SlideSlidePartner(models.Model):
    _inherit = "slide.slide.partner"

    @api.model_create_multi
    def create(self, vals_list):
        rows = super().create(vals_list)
        rows._post_course_started()
        rows.filtered("completed")._post_lesson_completed()
        return rows

    def write(self, vals):
        newly_completed = self.filtered(lambda row: not row.completed) if vals.get("completed") else self.browse()
        result = super().write(vals)
        newly_completed._post_lesson_completed()
        return result

    def _post_lesson_completed(self):
        if not self:
            return
        self.env["salesjet.event"]._post_course_events("lesson_completed", [{
            "partner": row.partner_id, "channel": row.slide_id.channel_id, "slide": row.slide_id,
            "external_id": f"lesson_completed-{row.slide_id.id}-{row.partner_id.id}",
        } for row in self])

    def _post_course_started(self):
        """Post "course started" for members whose first lesson row in a course these are.

        A course is started when a member first views or completes one of its
        lessons (website_slides creates the member's lesson row then). One
        query finds, among the (course, contact) pairs of ``self``, the active
        members with no other lesson row in that course.
        """
        if not self:
            return
        Event = self.env["salesjet.event"]
        kind_wanted = any(Event.env["salesjet.flow.trigger"].sudo()._cached_triggers("course_started", company.id)
                          for company in self.sudo().partner_id.company_id | self.env.company)
        if not kind_wanted:
            return
        self.env.flush_all()
        self.env.cr.execute(SQL(
            """
            SELECT DISTINCT new.channel_id, new.partner_id
              FROM slide_slide_partner new
              JOIN slide_channel_partner scp
                ON scp.channel_id = new.channel_id AND scp.partner_id = new.partner_id
               AND scp.active AND scp.member_status != 'invited'
             WHERE new.id = ANY(%(ids)s)
               AND NOT EXISTS (SELECT 1 FROM slide_slide_partner old
                                WHERE old.channel_id = new.channel_id AND old.partner_id = new.partner_id
                                  AND old.id != ALL(%(ids)s))
            """,
            ids=self.ids,
        ))
        pairs = self.env.cr.fetchall()
        Channel, Partner = self.env["slide.channel"].sudo(), self.env["res.partner"].sudo()
        Event._post_course_events("course_started", [{
            "partner": Partner.browse(partner_id), "channel": Channel.browse(channel_id),
            "external_id": f"course_started-{channel_id}-{partner_id}",
        } for channel_id, partner_id in pairs])
