from odoo import _, api, fields, models


class SalesjetFlowStepRemove(models.TransientModel):
    _name = "salesjet.flow.step.remove"
    _description = "Remove a Step with Waiting Contacts"

    step_id = fields.Many2one("salesjet.flow.step", string="Step", required=True, ondelete="cascade")
    operation = fields.Selection(
        [("archive", "Archive the step"), ("delete", "Delete the step")], string="Remove by", required=True,
        default="archive", help="Archiving keeps the step and its log; deleting removes both.")
    mode = fields.Selection(
        [("next", "Move them on to the next step"), ("cancel", "Cancel their runs")],
        string="Their runs", required=True, default="next")
    waiting_count = fields.Integer(related="step_id.pending_job_count", string="Waiting contacts")
    next_step_id = fields.Many2one("salesjet.flow.step", string="Next step", compute="_compute_explanation")
    explanation = fields.Char(compute="_compute_explanation")

    @api.depends("step_id", "mode")
    def _compute_explanation(self):
        for wizard in self:
            step = wizard.step_id
            next_step = step._next_step() if step else step
            wizard.next_step_id = next_step
            count = step.pending_job_count
            if not count:
                wizard.explanation = _("No contact waits on this step.")
            elif wizard.mode == "cancel":
                wizard.explanation = _("%s contacts wait on this step: their runs will be stopped.", count)
            elif next_step:
                wizard.explanation = _("%(count)s contacts wait on this step: they go on to “%(next)s”, "
                                       "scheduled by its timing from now.", count=count, next=next_step.display_name)
            else:
                wizard.explanation = _("%s contacts wait on this step, the last one: their runs will be completed.",
                                       count)

    def action_confirm(self):
        self.ensure_one()
        self.step_id.check_access("write")  # waiting jobs and runs are rewritten with SQL
        flow = self.step_id.flow_id
        self.step_id._remove_with_waiting(self.mode, archive=self.operation == "archive")
        return {
            "type": "ir.actions.act_window", "res_model": "salesjet.flow", "res_id": flow.id,
            "view_mode": "form", "target": "current",
        }
