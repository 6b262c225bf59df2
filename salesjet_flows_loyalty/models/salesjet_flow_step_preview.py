from markupsafe import Markup

from odoo import _, models


class SalesjetFlowStep(models.Model):
    _inherit = "salesjet.flow.step"

    def _preview_loyalty_accrue(self, partner, data):
        """Test runs: the points the contact would get, on top of the card's current balance."""
        card = self.env["loyalty.card"].sudo().search(
            [("program_id", "=", self.loyalty_program_id.id), ("partner_id", "=", partner.id)], limit=1)
        text = _("Adds %(points)s points to the “%(program)s” card (now %(balance)s points).",
                 points=self.loyalty_points, program=self.loyalty_program_id.name, balance=card.points or 0)
        if self.loyalty_validity_days:
            text += " " + _("They expire after %s days.", self.loyalty_validity_days)
        return Markup("<p>%s</p>") % text
