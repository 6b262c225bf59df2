from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    salesjet_job_batch_size = fields.Integer(
        string="Jobs per batch", default=500, config_parameter="salesjet_flows.job_batch_size",
        help="How many due jobs a scheduler worker takes, runs and commits at once.",
    )
    salesjet_job_max_attempts = fields.Integer(
        string="Attempts before a job fails", default=5, config_parameter="salesjet_flows.job_max_attempts",
        help="A job whose step raises an error is retried after 1, 4, 16... minutes, up to this many attempts.",
    )
