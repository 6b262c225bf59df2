from odoo import models


class SlideChannel(models.Model):
    _inherit = "slide.channel"

    def _action_add_members(self, target_partners, member_status="joined", raise_on_access=False):
        """Post "course enrolled" for the members who joined: new, re-enrolled or invited who enrolled.

        Every way into a course goes through here: the website's Join button,
        the enrol wizard, a course bought in the shop, enrolment groups and
        SalesJet's own "Add course subscription" step.
        """
        members = super()._action_add_members(
            target_partners, member_status=member_status, raise_on_access=raise_on_access)
        joined = members.filtered(lambda m: m.active and m.member_status != "invited")
        if joined:
            self.env["salesjet.event"]._post_course_events("course_enrolled", [
                {"partner": member.partner_id, "channel": member.channel_id} for member in joined])
        return members
