from odoo import _, fields, models
from odoo.osv import expression


class SalesjetFlowStep(models.Model):
    """How many contacts meet a step's conditions right now, and a button to see them."""
    _inherit = "salesjet.flow.step"

    match_count = fields.Integer(
        string="Match now", compute="_compute_match_count",
        help="Active contacts of the flow's company who meet this step's conditions at this moment "
             "(all of them when the step has no condition). Time conditions use the current date and time.",
    )

    def _match_domain(self):
        """Domain on res.partner: the contacts who meet this step's conditions now."""
        self.ensure_one()
        return expression.AND([
            self.condition_ids._get_domain(),
            [("company_id", "in", [False, self.company_id.id or self.env.company.id])],
        ])

    def _compute_match_count(self):
        Partner = self.env["res.partner"]
        for step in self:
            # unsaved condition lines may be half filled: count with the saved ones
            saved = step._origin
            step.match_count = Partner.search_count(saved._match_domain()) if saved else 0

    def action_view_matching_contacts(self):
        """Open the contacts who meet this step's conditions now (evaluated when the list loads)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Contacts meeting “%s”", self.display_name),
            "res_model": "res.partner",
            "view_mode": "list,form",
            "views": [(False, "list"), (False, "form")],
            "domain": [("salesjet_match_step_id", "=", self.id)],
            "context": {"create": False},
        }
