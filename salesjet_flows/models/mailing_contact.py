from odoo import api, models


class MailingContact(models.Model):
    _inherit = "mailing.contact"

    # ---- Event sources ----
    # list_ids writes the subscription table directly, without mailing.subscription.create

    @api.model_create_multi
    def create(self, vals_list):
        contacts = super().create(vals_list)
        if any("list_ids" in vals for vals in vals_list):
            contacts.flush_recordset(["list_ids"])
            contacts.invalidate_recordset(["subscription_ids"])
            contacts.subscription_ids.filtered(lambda s: not s.opt_out)._salesjet_post_subscribed()
        return contacts

    def write(self, vals):
        if "list_ids" not in vals:
            return super().write(vals)
        before = set(self.subscription_ids.ids)
        res = super().write(vals)
        self.flush_recordset(["list_ids"])
        self.invalidate_recordset(["subscription_ids"])
        new = self.subscription_ids.filtered(lambda s: s.id not in before and not s.opt_out)
        new._salesjet_post_subscribed()
        return res
