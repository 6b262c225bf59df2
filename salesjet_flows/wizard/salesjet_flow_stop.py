from odoo import _, fields, models


class SalesjetFlowStop(models.TransientModel):
    _name = "salesjet.flow.stop"
    _description = "Stop a Flow"

    flow_id = fields.Many2one("salesjet.flow", string="Flow", required=True, readonly=True, ondelete="cascade")
    pending_job_count = fields.Integer(
        related="flow_id.pending_job_count", string="Waiting steps",
        help="The steps waiting to run in this flow: stopping cancels them.")
    running_count = fields.Integer(
        related="flow_id.running_count", string="Running contacts",
        help="The runs in progress: stopping ends them as stopped.")

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
