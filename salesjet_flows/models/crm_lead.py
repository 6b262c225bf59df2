from odoo import fields, models


class CrmLead(models.Model):
    _inherit = "crm.lead"

    # ---- Runs ----
    salesjet_enrollment_count = fields.Integer(
        string="Flows", compute="_compute_salesjet_enrollment_count",
        groups="salesjet_flows.group_salesjet_user",
        help="How many runs of flows this lead has had, running and ended.")

    def _compute_salesjet_enrollment_count(self):
        data = dict(self.env["salesjet.flow.enrollment"]._read_group(
            [("lead_id", "in", self.ids)], ["lead_id"], ["__count"]))
        for lead in self:
            lead.salesjet_enrollment_count = data.get(lead, 0)

    def action_view_salesjet_enrollments(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("salesjet_flows.salesjet_flow_enrollment_action")
        action["domain"] = [("lead_id", "=", self.id)]
        action["context"] = {}
        return action
