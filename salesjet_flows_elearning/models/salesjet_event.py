from odoo import api, fields, models

# Event kinds of courses, one per trigger type (see salesjet_flow_trigger.py).
COURSE_EVENT_KINDS = [
    ("course_enrolled", "Course enrolled"),
    ("course_started", "Course started"),
    ("lesson_completed", "Lesson completed"),
    ("course_completed", "Course completed"),
    ("course_inactive", "Inactive on a course"),
]


class SalesjetEvent(models.Model):
    _inherit = "salesjet.event"

    kind = fields.Selection(selection_add=COURSE_EVENT_KINDS,
                            ondelete={key: "cascade" for key, _label in COURSE_EVENT_KINDS})

    @api.model
    def _post_course_events(self, kind, rows, only_if_listened=True):
        """Post one course event per row, when an active flow listens to ``kind``.

        eLearning produces many small events (every lesson of every learner):
        they are stored only when a trigger of an active flow of the contact's
        company waits for them, which the cached trigger table answers without
        a query.

        :param str kind: one of ``COURSE_EVENT_KINDS``
        :param rows: iterable of dicts with ``partner`` (res.partner), ``channel``
            (slide.channel) and optionally ``slide`` (slide.slide), ``external_id``
            and ``data`` (extra values for placeholders)
        :param bool only_if_listened: skip rows no active trigger waits for (callers
            that already selected rows for existing triggers pass False)
        :return: the posted ``salesjet.event`` records
        """
        Event = self.sudo()
        Trigger = self.env["salesjet.flow.trigger"].sudo()
        events = Event.browse()
        for row in rows:
            partner = row["partner"].sudo()
            company = partner.company_id or self.env.company
            if only_if_listened and not Trigger._cached_triggers(kind, company.id):
                continue
            channel, slide = row["channel"].sudo(), row.get("slide")
            data = {
                "course_id": channel.id,
                "course_name": channel.name,
                "course_url": channel.website_url,
                **(row.get("data") or {}),
            }
            if slide:
                data.update({"lesson_id": slide.id, "lesson_name": slide.sudo().name})
            events |= Event.with_company(company).post(
                kind, partner, data=data, external_id=row.get("external_id"), source="website_slides", kind=kind)
        return events
