"""Safe edits of running flows: versions of every change, pause and resume, and
rescheduling the contacts who wait on a step whose timing changed.

Versions are written once per transaction and flow (a precommit hook), however
many records of the flow the change touched: the snapshot is the flow's JSON
export (``salesjet.flow.transfer.export_flows``) and the summary lists what changed.
"""
import json

from odoo import fields, models

VERSION_DATA_KEY = "salesjet_flows.versions"

# Written by the engine, not by people: no version for them.
ENGINE_FIELDS = {"split_started", "split_winner_id", "split_ended", "mailing_id", "mail_template_id",
                 "write_date", "write_uid"}


class SalesjetFlowVersion(models.Model):
    _name = "salesjet.flow.version"
    _description = "Flow Version"
    _order = "date desc, id desc"

    flow_id = fields.Many2one("salesjet.flow", string="Flow", required=True, ondelete="cascade", index=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now)
    user_id = fields.Many2one("res.users", string="Changed by", required=True, default=lambda self: self.env.user)
    summary = fields.Text(help="What changed in this version.")
    snapshot = fields.Json(help="The flow as it was after the change, as its JSON export.")
    snapshot_text = fields.Text(string="Snapshot (readable)", compute="_compute_snapshot_text")

    def _compute_snapshot_text(self):
        for version in self:
            version.snapshot_text = (json.dumps(version.snapshot, indent=2, ensure_ascii=False)
                                     if version.snapshot else "")
