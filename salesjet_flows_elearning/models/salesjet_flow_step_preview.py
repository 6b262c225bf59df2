from markupsafe import Markup

from odoo import _, models


class SalesjetFlowStep(models.Model):
    _inherit = "salesjet.flow.step"

    def _preview_course_enroll(self, partner, data):
        """Test runs: the course the contact would join, or that it would be skipped."""
        course = self.enroll_course_id
        member = course and self.env["slide.channel.partner"].sudo().search_count(
            [("channel_id", "=", course.id), ("partner_id", "=", partner.id)], limit=1)
        text = (_("%s is already enrolled: the step would be skipped.", partner.name) if member
                else _("Enrols %(partner)s in the course “%(course)s”.", partner=partner.name, course=course.name))
        return Markup("<p>%s</p>") % text
