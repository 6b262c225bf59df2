from odoo import fields, models

OUTCOMES = [
    ("run", "Would run"),
    ("sent", "Sent to the test address"),
    ("skipped", "Skipped"),
    ("stopped", "Run stopped"),
    ("converted", "Goal reached"),
]


class SalesjetFlowTestRunLine(models.TransientModel):
    _name = "salesjet.flow.test.run.line"
    _description = "Flow Test Run Step"
    _order = "sequence, id"

    run_id = fields.Many2one("salesjet.flow.test.run", required=True, ondelete="cascade")
    sequence = fields.Integer()
    step_id = fields.Many2one("salesjet.flow.step", string="Step", ondelete="cascade")
    date = fields.Datetime(string="Would run at")
    outcome = fields.Selection(OUTCOMES, required=True)
    note = fields.Text(string="What happens")
    preview_html = fields.Html(string="Preview", sanitize=False, readonly=True)
