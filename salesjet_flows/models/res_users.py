from odoo import models
from odoo.tools import SQL

from .salesjet_flow_enrollment import USER_STAMPS


class ResUsers(models.Model):
    _inherit = "res.users"

    # ---- Event sources ----
    def _create_user_from_template(self, values):
        user = super()._create_user_from_template(values)
        self.env["salesjet.event"]._post_safely(
            [(user.partner_id.sudo(), {"user_id": user.id, "login": user.login}, f"signup:{user.id}")],
            "signup", "signup")
        return user

    def unlink(self):
        # a run's users have no foreign key (UserStamp): they are emptied as ON DELETE SET NULL would
        if self.ids:
            self.env["salesjet.flow.enrollment"].flush_model(list(USER_STAMPS))
            for column in USER_STAMPS:
                self.env.cr.execute(SQL(
                    "UPDATE salesjet_flow_enrollment SET %s = NULL WHERE %s = ANY(%s)",
                    SQL.identifier(column), SQL.identifier(column), self.ids))
            self.env["salesjet.flow.enrollment"].invalidate_model(list(USER_STAMPS))
        return super().unlink()
