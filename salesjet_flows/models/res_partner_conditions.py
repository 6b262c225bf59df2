from odoo import api, fields, models
from odoo.osv import expression


class ResPartner(models.Model):
    _inherit = "res.partner"

    salesjet_match_step_id = fields.Many2one(
        "salesjet.flow.step", string="Meets the conditions of step", compute="_compute_salesjet_match_step_id",
        search="_search_salesjet_match_step_id",
        help="Technical: search contacts with (this field, '=', step id) to get those who meet the step's "
             "conditions now. The list of a step's matching contacts uses it, so it is evaluated live.",
    )

    def _compute_salesjet_match_step_id(self):
        self.salesjet_match_step_id = False

    @api.model
    def _search_salesjet_match_step_id(self, operator, value):
        # who meets a step's conditions (e.g. who opened its email) is for flow users only
        if operator != "=" or not isinstance(value, int) or not self.env.user.has_group(
                "salesjet_flows.group_salesjet_user"):
            return expression.FALSE_DOMAIN
        step = self.env["salesjet.flow.step"].browse(value).exists()
        return step._match_domain() if step else expression.FALSE_DOMAIN
