from odoo import api, models


class ResUsers(models.Model):
    _inherit = "res.users"

    @api.model_create_multi
    def create(self, vals_list):
        users = super().create(vals_list)
        Event = self.env["salesjet.event"].sudo()
        # portal and website sign-ups create share users; employees are not clients. The events are
        # processed by the event cron (woken now), so a sign-up never waits for or fails with a scenario.
        for user in users.filtered("share"):
            Event.post("registration", user.partner_id, kind="loyalty_registration",
                       external_id=f"registration:{user.partner_id.id}", source="res.users",
                       data={"login": user.login}, process=False)
        return users
