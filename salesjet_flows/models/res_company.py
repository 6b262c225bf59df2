from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

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

    @api.ondelete(at_uninstall=False)
    def _unlink_except_flow_runs(self):
        """A company that has flow runs is kept, as the runs' key to it did (``ON DELETE RESTRICT``; HeldRunKey).
        Its flows keep it too; this covers the runs of a flow moved to another company since."""
        self.env["salesjet.flow.enrollment"].flush_model(["company_id"])
        self.env.cr.execute(SQL(
            "SELECT company_id FROM salesjet_flow_enrollment WHERE company_id = ANY(%s) LIMIT 1", self.ids))
        row = self.env.cr.fetchone()
        if row:
            raise UserError(_("The company %s has flow runs: it cannot be deleted.", self.browse(row[0]).name))
