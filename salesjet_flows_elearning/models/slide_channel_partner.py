from odoo import models


class SlideChannelPartner(models.Model):
    _inherit = "slide.channel.partner"

    def _post_completion_update_hook(self, completed=True):
        """Post "course completed" for members whose completion just reached 100%.

        website_slides calls this hook once, for the memberships that became
        complete (not for those already complete), from ``_recompute_completion``.
        """
        result = super()._post_completion_update_hook(completed=completed)
        if completed:
            self.env["salesjet.event"]._post_course_events("course_completed", [{
                "partner": member.partner_id, "channel": member.channel_id,
                "external_id": f"course_completed-{member.channel_id.id}-{member.partner_id.id}",
            } for member in self])
        return result
