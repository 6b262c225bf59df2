from odoo import models


class ResUsers(models.Model):
    _inherit = "res.users"

    # ---- Event sources ----
    def _create_user_from_template(self, values):
        user = super()._create_user_from_template(values)
        self.env["salesjet.event"]._post_safely(
            [(user.partner_id.sudo(), {"user_id": user.id, "login": user.login}, f"signup:{user.id}")],
            "signup", "signup")
        return user
