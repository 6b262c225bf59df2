from odoo import api, fields, models


class MailingSubscription(models.Model):
    _inherit = "mailing.subscription"

    # ---- Event sources ----
    @api.model_create_multi
    def create(self, vals_list):
        subscriptions = super().create(vals_list)
        subscriptions.filtered(lambda s: not s.opt_out)._salesjet_post_subscribed()
        return subscriptions

    def write(self, vals):
        resubscribed = self.filtered("opt_out") if "opt_out" in vals and not vals["opt_out"] else self.browse()
        res = super().write(vals)
        resubscribed._salesjet_post_subscribed(again=True)
        return res

    def _salesjet_post_subscribed(self, again=False):
        """Find or create the contact of each subscriber (by email, set-based) and post ``list_subscribe``."""
        if not self or not self.env["salesjet.flow.trigger"]._listening_company_ids("list_subscribe"):
            return
        subscriptions = self.sudo()
        partners = self.env["res.partner"]._salesjet_find_or_create([
            {"email": sub.contact_id.email, "name": sub.contact_id.name} for sub in subscriptions])
        stamp = fields.Datetime.now().isoformat() if again else ""
        self.env["salesjet.event"]._post_safely([
            (partner, {"list_id": sub.list_id.id, "list": sub.list_id.name, "email": sub.contact_id.email or ""},
             f"subscription:{sub.id}{':' + stamp if stamp else ''}")
            for sub, partner in zip(subscriptions, partners, strict=True)
        ], "list_subscribe", "mailing_list")
