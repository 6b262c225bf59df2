from odoo import _, api, fields, models
from odoo.exceptions import UserError


class SalesjetFlowLaunch(models.TransientModel):
    _name = "salesjet.flow.launch"
    _description = "Launch a Flow for a Segment"

    flow_id = fields.Many2one("salesjet.flow", string="Flow", required=True, ondelete="cascade")
    trigger_id = fields.Many2one(
        "salesjet.flow.trigger", string="Segment", required=True, ondelete="cascade",
        domain="[('flow_id', '=', flow_id), ('trigger_type', '=', 'segment')]",
    )
    contact_count = fields.Integer(string="Matching contacts", compute="_compute_contact_count")

    @api.depends("trigger_id")
    def _compute_contact_count(self):
        for wizard in self:
            wizard.contact_count = self.env["res.partner"].search_count(
                wizard.trigger_id._get_partner_domain()) if wizard.trigger_id else 0

    def action_launch(self):
        self.ensure_one()
        if not self.env.user.has_group("salesjet_flows.group_salesjet_user"):
            raise UserError(_("Only Flows users can launch a flow."))
        if not self.flow_id.active:
            raise UserError(_("The flow “%s” is archived: restore it before launching it.", self.flow_id.name))
        if not self.flow_id.step_ids:
            raise UserError(_("The flow “%s” has no steps yet: add at least one.", self.flow_id.name))
        # Users may launch but not write flows: the enrolment itself runs as superuser.
        count = self.flow_id.sudo()._launch_segment(self.trigger_id.sudo())
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": _("%(count)s contacts enrolled in %(flow)s.", count=count, flow=self.flow_id.name),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
