"""Per-step counters of skipped jobs by reason, kept by the triggers of ``salesjet_flow_step_stat.py``."""
from odoo import fields, models


class SalesjetFlowStepSkipReason(models.Model):
    _name = "salesjet.flow.step.skip.reason"
    _description = "Flow step skip reasons"
    _order = "step_id, count desc"
    _log_access = False

    step_id = fields.Many2one("salesjet.flow.step", string="Step", required=True, ondelete="cascade", index=True)
    flow_id = fields.Many2one("salesjet.flow", string="Flow", required=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", string="Company", required=True, ondelete="cascade")
    reason_key = fields.Char(required=True, help="md5 of the reason, the key of the counter.")
    slot = fields.Integer(required=True, default=0)
    reason = fields.Text()
    count = fields.Integer()

    _sql_constraints = [
        ("step_reason_slot_unique", "UNIQUE(step_id, reason_key, slot)", "One counter per step, reason and slot."),
    ]
