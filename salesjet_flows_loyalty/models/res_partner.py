from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    salesjet_birthday = fields.Date(
        string="Birthday",
        help="Loyalty scenarios can greet the contact (and give bonus points) a few days before it.")

    # ---- Coupons ----
    def salesjet_offer_coupon(self, step_id=None):
        """The contact's newest usable personal coupon of a special offer step (of step ``step_id`` if given),
        or an empty record: for messages, ``{{ object.salesjet_offer_coupon().code }}``."""
        self.ensure_one()
        domain = [("partner_id", "=", self.id), ("points", ">", 0),
                  ("program_id.salesjet_offer_step_id", "!=", False),
                  "|", ("expiration_date", "=", False), ("expiration_date", ">=", fields.Date.context_today(self))]
        if step_id:
            domain.append(("program_id.salesjet_offer_step_id", "=", int(step_id)))
        return self.env["loyalty.card"].sudo().search(domain, order="id desc", limit=1)
