from odoo import _, api, fields, models


class SalesjetFlowStop(models.TransientModel):
    _name = "salesjet.flow.stop"
    _description = "Stop a Flow"

    flow_id = fields.Many2one("salesjet.flow", string="Flow", required=True, readonly=True, ondelete="cascade")
    pending_job_count = fields.Integer(
        string="Waiting steps", compute="_compute_counts",
        help="The steps waiting to run in this flow: stopping cancels them.")
    running_count = fields.Integer(
        string="Running contacts", compute="_compute_counts",
        help="The runs in progress: stopping ends them as stopped.")

    @api.depends("flow_id")
    def _compute_counts(self):
        for wizard in self:
            flow = wizard.flow_id
            wizard.pending_job_count = self.env["salesjet.flow.job"].search_count(
                [("flow_id", "=", flow.id), ("state", "=", "pending")]) if flow else 0
            wizard.running_count = self.env["salesjet.flow.enrollment"].search_count(
                [("flow_id", "=", flow.id), ("state", "=", "running")]) if flow else 0

    def action_confirm(self):
        """Stop the flow: no new runs, its waiting steps cancelled, its runs ended as stopped."""
        self.ensure_one()
        cancelled = self.flow_id.action_stop()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "warning",
                "message": _("%(flow)s stopped: %(count)s waiting steps cancelled.",
                             flow=self.flow_id.name, count=cancelled),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
