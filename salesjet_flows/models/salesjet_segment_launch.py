"""Launches of a flow for a large segment, done by a scheduled action in bounded, committed batches.

A launch from the wizard enrols its segment in the request that asks for it. For a large segment that request
would outlast Odoo's limits (``limit_time_real``, 120 s by default: the benchmark launched 1,000,000 contacts
in 95 s on a quiet 2-core machine, three times longer on a loaded one) and be killed with everything it did,
in one transaction. Above ``salesjet_flows.launch_inline_max`` contacts (20,000 by default) the wizard queues
the launch here instead: the scheduled action enrols the segment by id ranges, one committed batch at a time,
within each call's time budget (``salesjet.cron``), resuming after the last contact it enrolled; a launch is
idempotent (contacts running in the flow are left alone), so a killed call loses one batch and the next
takes it again.
"""
from odoo import _, api, fields, models
from odoo.tools import SQL

from . import salesjet_flow

# contacts a wizard launch enrols in its own request; a larger segment is queued
DEFAULT_LAUNCH_INLINE_MAX = 20000

LAUNCH_STATES = [
    ("queued", "Queued"),
    ("done", "Done"),
    ("cancelled", "Cancelled"),
]


class SalesjetSegmentLaunch(models.Model):
    _name = "salesjet.segment.launch"
    _description = "Segment launch in the background"
    _order = "id desc"

    flow_id = fields.Many2one("salesjet.flow", string="Flow", required=True, ondelete="cascade", index=True)
    trigger_id = fields.Many2one(
        "salesjet.flow.trigger", string="Segment", required=True, ondelete="cascade",
        help="The flow's “manual launch for a segment” trigger whose contacts are enrolled.")
    company_id = fields.Many2one(related="flow_id.company_id", store=True)
    user_id = fields.Many2one("res.users", string="Launched by", ondelete="set null")
    state = fields.Selection(LAUNCH_STATES, required=True, default="queued", index=True)
    contact_count = fields.Integer(string="Matching contacts", help="Contacts of the segment when it was launched.")
    enrolled_count = fields.Integer(string="Contacts enrolled", help="Contacts enrolled so far.")
    last_partner_id = fields.Integer(
        string="Last contact read", help="The launch goes on with the contacts after this one (contact id).")
    date_done = fields.Datetime(string="Ended")

    @api.model
    def _inline_max(self):
        """Contacts a wizard launch enrols at once (``salesjet_flows.launch_inline_max``, 20,000 by default)."""
        try:
            return max(0, int(self.env["ir.config_parameter"].sudo().get_param(
                "salesjet_flows.launch_inline_max", DEFAULT_LAUNCH_INLINE_MAX)))
        except ValueError:
            return DEFAULT_LAUNCH_INLINE_MAX

    @api.model
    def _queue(self, trigger, contact_count):
        """Queue the launch of ``trigger``'s flow for its segment and wake the scheduled action."""
        flow = trigger.flow_id
        launch = self.sudo().create({
            "flow_id": flow.id, "trigger_id": trigger.id, "user_id": self.env.uid, "contact_count": contact_count})
        flow.sudo().message_post(body=_(
            "Launch queued for %(count)s contacts (segment “%(trigger)s”): they are enrolled in the background.",
            count=contact_count, trigger=trigger.display_name))
        self.env.ref("salesjet_flows.ir_cron_salesjet_segment_launch").sudo()._trigger()
        return launch

    # ------------------------------------------------------------------
    # Scheduled action
    # ------------------------------------------------------------------

    @api.model
    def _cron_launch_segments(self):
        """Scheduled action: enrol the contacts of the queued launches, oldest first, batch by batch within one
        call's time budget, committing after each batch and reporting what remains."""
        return self.env["salesjet.cron"]._run_batches(
            self._launch_batch, self._count_queued, salesjet_flow.LAUNCH_BATCH_SIZE, key="salesjet.segment.launch")

    @api.model
    def _count_queued(self):
        return self.sudo().search_count([("state", "=", "queued")])

    @api.model
    def _launch_batch(self, limit):
        """Enrol at most ``limit`` contacts of the oldest queued launch no other worker holds, and end it
        when its segment has no contact left; returns the contacts read, or ``limit`` while its segment goes on
        (a sparse segment's batch may find fewer). Does not commit."""
        self.env.cr.execute(SQL(
            "SELECT id FROM salesjet_segment_launch WHERE state = 'queued' ORDER BY id LIMIT 1 "
            "FOR UPDATE SKIP LOCKED"))
        row = self.env.cr.fetchone()
        if not row:
            return 0
        launch = self.sudo().browse(row[0])
        flow = launch.flow_id.with_context(active_test=False)
        if not flow.active or flow.state != "running":
            launch.write({"state": "cancelled", "date_done": fields.Datetime.now()})
            flow.message_post(body=_(
                "Launch for the segment “%(trigger)s” cancelled after %(count)s contacts: the flow is no longer "
                "running.", trigger=launch.trigger_id.display_name, count=launch.enrolled_count))
            return 1
        read, enrolled, last_id, exhausted = flow._launch_segment_batch(
            launch.trigger_id, launch.last_partner_id, limit)
        values = {"enrolled_count": launch.enrolled_count + enrolled, "last_partner_id": last_id}
        if exhausted:
            values.update(state="done", date_done=fields.Datetime.now())
        launch.write(values)
        if exhausted:
            flow._post_launched(launch.enrolled_count, launch.trigger_id)
            return max(read, 1)
        # a batch of a sparse segment reads its windows and may find fewer contacts: the call goes on
        return limit
