from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class SalesjetChainMessage(models.Model):
    """Chain messages may carry bonus points once this bridge is installed."""
    _inherit = "salesjet.chain.message"

    loyalty_program_id = fields.Many2one(
        "loyalty.program", string="Loyalty programme", ondelete="restrict",
        check_company=True,
        domain=[("program_type", "=", "loyalty")],
        help="The programme whose card receives this message's points.")
    loyalty_validity_days = fields.Integer(
        string="Points valid for (days)", default=30, help="0: the points never expire.")

    @api.constrains("points", "loyalty_program_id", "loyalty_validity_days")
    def _check_loyalty_points(self):
        for message in self:
            if message.points < 0 or message.loyalty_validity_days < 0:
                raise ValidationError(_("Chain “%s”: points and validity cannot be negative.", message.flow_id.name))
            if message.points and not message.loyalty_program_id:
                raise ValidationError(_("Chain “%s”: choose the loyalty programme that receives the message's "
                                        "points.", message.flow_id.name))


class SalesjetFlowStep(models.Model):
    _inherit = "salesjet.flow.step"

    def _action_chain_message(self, jobs):
        super()._action_chain_message(jobs)
        message = self.chain_message_id
        if not (message.points > 0 and message.loyalty_program_id):
            return
        outcomes = jobs._outcomes() or {}
        # points come with the message: contacts it could not reach get none
        sent = jobs.filtered(lambda j: outcomes.get(j.id, ("done",))[0] == "done")
        if sent:
            self._loyalty_accrue(sent, message.loyalty_program_id, message.points, message.loyalty_validity_days)
