from odoo import _, api, models
from odoo.exceptions import ValidationError


class SalesjetChainMessage(models.Model):
    """Chain messages may carry bonus points once this bridge is installed, with the same settings and expiry
    notices as the "Accrue bonus points" step."""
    _name = "salesjet.chain.message"
    _inherit = ["salesjet.chain.message", "salesjet.loyalty.notice.mixin"]

    @api.constrains("points", "loyalty_program_id", "loyalty_validity_days", "loyalty_notice_days",
                    "loyalty_notice_before_text", "loyalty_notice_expired_text")
    def _check_loyalty_points(self):
        for message in self:
            if message.points < 0 or message.loyalty_validity_days < 0 or message.loyalty_notice_days < 0:
                raise ValidationError(_("Chain “%s”: points, validity and notice days cannot be negative.",
                                        message.flow_id.name))
            if message.points and not message.loyalty_program_id:
                raise ValidationError(_("Chain “%s”: choose the loyalty programme that receives the message's "
                                        "points.", message.flow_id.name))
            before = (message.loyalty_notice_before_text or "").strip()
            notices = before or (message.loyalty_notice_expired_text or "").strip()
            if notices and not (message.points and message.loyalty_validity_days):
                raise ValidationError(_("Chain “%s”: expiry notices need points that expire: set the message's "
                                        "points and how long they are valid, or remove the notices.",
                                        message.flow_id.name))
            if before and message.loyalty_notice_days >= message.loyalty_validity_days:
                raise ValidationError(_("Chain “%s”: the notice must come before the expiry: fewer notice days "
                                        "than validity days.", message.flow_id.name))
            step = self.env["salesjet.flow.step"].new({"flow_id": message.flow_id.id, "name": message.display_name})
            for text, label in ((message.loyalty_notice_before_text, _("notice before expiry")),
                                (message.loyalty_notice_expired_text, _("notice at expiry"))):
                step._check_notice_renders(text, label)
