from odoo import fields, models

from ..tools.caps import CAP_MODES


class ResCompany(models.Model):
    _inherit = "res.company"

    # ---- Frequency caps ----
    # one cap per channel of CAP_CHANNELS and period (0 = no cap)
    salesjet_cap_email_day = fields.Integer(
        string="Emails per day", default=0,
        help="At most this many emails per contact in the last 24 hours, all flows together; 0: no cap.")
    salesjet_cap_email_week = fields.Integer(
        string="Emails per week", default=0,
        help="At most this many emails per contact in the last 7 days, all flows together; 0: no cap.")
    salesjet_cap_sms_day = fields.Integer(
        string="SMS per day", default=0,
        help="At most this many SMS per contact in the last 24 hours, all flows together; 0: no cap.")
    salesjet_cap_sms_week = fields.Integer(
        string="SMS per week", default=0,
        help="At most this many SMS per contact in the last 7 days, all flows together; 0: no cap.")
    salesjet_cap_call_day = fields.Integer(
        string="Calls per day", default=0,
        help="At most this many calls per contact in the last 24 hours, all flows together; 0: no cap.")
    salesjet_cap_call_week = fields.Integer(
        string="Calls per week", default=0,
        help="At most this many calls per contact in the last 7 days, all flows together; 0: no cap.")
    salesjet_cap_mode = fields.Selection(
        CAP_MODES, string="When a cap is reached", default="postpone",
        help="Postpone: the step waits until the contact may receive it again. Skip: the step is skipped "
             "and the run goes on.")
