from markupsafe import Markup

from odoo import _, fields, models
from odoo.exceptions import ValidationError


class SalesjetFlowStep(models.Model):
    _inherit = "salesjet.flow.step"

    action_type = fields.Selection(selection_add=[
        ("course_enroll", "Add course subscription"),
    ], ondelete={"course_enroll": "cascade"})
    enroll_course_id = fields.Many2one(
        "slide.channel", string="Course", ondelete="restrict",
        help="The contact is enrolled in this course as if they had joined it: the course's content opens "
             "to them and they follow its news. Contacts already enrolled are skipped.",
    )

    def _diagram_icon(self):
        return "fa-graduation-cap" if self.action_type == "course_enroll" else super()._diagram_icon()

    def _action_family(self):
        return "products" if self.action_type == "course_enroll" else super()._action_family()

    def _action_help(self):
        if self.action_type == "course_enroll":
            return _("Enrol the contact in an eLearning course.")
        return super()._action_help()

    def _settings_fields(self):
        return super()._settings_fields() + ["enroll_course_id"]

    def _check_action_course_enroll(self):
        if not self.enroll_course_id:
            raise ValidationError(_("Step “%s”: choose the course to enrol the contact in.", self.display_name))

    def _action_course_enroll(self, jobs):
        """Enrol the contacts with the course's own method; skip those already members."""
        course = self.enroll_course_id.sudo()
        if not course.active:
            jobs._mark_skipped(_("The course %s is archived.", course.name))
            return
        members = self.env["slide.channel.partner"].sudo().search([
            ("channel_id", "=", course.id), ("partner_id", "in", jobs.partner_id.ids),
            ("member_status", "!=", "invited"),
        ])
        member_ids = set(members.partner_id.ids)
        already = jobs.filtered(lambda j: j.partner_id.id in member_ids)
        already._mark_skipped(_("Already enrolled in %s.", course.name))
        todo = jobs - already
        if not todo:
            return
        # sudo: a flow enrols like the course's responsible, also in courses "on invitation"
        added = course._action_add_members(todo.partner_id)
        by_partner = {member.partner_id.id: member for member in added}
        for job in todo:
            job._set_result(_("Enrolled in %s.", course.name), by_partner.get(job.partner_id.id))

    # ---- Test-run previews ----
    def _preview_course_enroll(self, partner, data):
        """Test runs: the course the contact would join, or that it would be skipped."""
        course = self.enroll_course_id
        member = course and self.env["slide.channel.partner"].sudo().search_count(
            [("channel_id", "=", course.id), ("partner_id", "=", partner.id)], limit=1)
        text = (_("%s is already enrolled: the step would be skipped.", partner.name) if member
                else _("Enrols %(partner)s in the course “%(course)s”.", partner=partner.name, course=course.name))
        return Markup("<p>%s</p>") % text
