import json

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..tools.arrays import array_literal
from ..tools.keys import KeylessMany2one
from ..tools.planner import state_in

ENROLLMENT_STATES = [
    ("running", "Running"),
    ("done", "Completed"),
    ("stopped", "Stopped"),
    ("failed", "Failed"),
]


# the columns of the runs that hold a user without a foreign key (UserStamp): res.users.unlink empties them
USER_STAMPS = ("create_uid", "write_uid")

# Part of each page of runs is left free when they are inserted, so that ending them (``_finish``, one statement
# for a batch's runs, which lie side by side) writes each run's new version on its own page: a heap-only
# update, without new entries in the runs' indexes, as long as no indexed column changes (the state and the
# end date have no index; the re-entry key changes for the "only when no run is active" policy alone). Full
# pages moved every ended run to another page: three index entries and a lock record more a run. A little more
# than half: a batch ends every run of a page in one transaction, whose old versions cannot be pruned before
# it commits, and an ended run is a few bytes longer (its end date). The cost is room: ended runs stay at about
# half a page's density, where full pages moved them onto full pages and vacuum gave the emptied ones back to
# new runs, so the table holds about twice the pages and its indexes fewer entries (a scratch table shaped as
# the runs, three cycles of 100,000 runs inserted, ended by 1,000 and vacuumed: 65 against 41 MB of table, 15
# against 23 MB of indexes). Alternated rounds of a launch and its one-step add-tag drain: docs/performance.md,
# "What bounds each figure".
RUN_FILLFACTOR = 45


class UserStamp(KeylessMany2one):
    """A run's ``create_uid`` or ``write_uid`` (who started it, who last changed it): Odoo's own field, without
    its foreign key. PostgreSQL checks each key of each row inserted with a query of its own, and these two
    cost a segment launch 1.17-1.24 x (with and without them, alternated: docs/performance.md "What bounds
    each figure"). Their value is always the current user (the ORM's, or the ``uid`` the engine's SQL writes),
    and a deleted user's runs lose it as with the key's ``ON DELETE SET NULL``: ``res.users.unlink`` empties it
    first, one UPDATE a column, on a column without index as the key's action was (users are rarely deleted,
    runs often inserted)."""


class HeldRunKey(KeylessMany2one):
    """A run's flow or company: a many2one as any, without the foreign key PostgreSQL would check with a query
    for each run inserted. Every run of a launch batch or an event repeats both: a launch 1.24 x with and
    without their two checks, alternated (bench/fk_cost.py, docs/performance.md "What bounds each figure").
    What the keys did:

    - a run cannot hold a flow that does not exist. A run's first job, on its flow's first step, is queued in
      the transaction that inserts it, and the counters' row that statement writes for the step keeps its
      own key to the step, which goes with its flow (``salesjet.flow.step.stat``): enrolling in a deleted
      flow fails there. A flow without steps queues no job: its enrolments lock it (``_hold_flows``). The
      runs the ORM writes are checked by ``_check_held_keys``. A run's company is its flow's, whose key
      keeps it;
    - deleting a flow deletes its runs and their jobs: ``salesjet_flow_delete_runs``, a statement trigger on
      the flows;
    - a company that has runs is kept: ``res.company`` refuses to delete it (``_unlink_except_flow_runs``), as
      the key's ``ON DELETE RESTRICT`` did;
    - a flow deleted while another transaction enrols contacts in it: that transaction's counter row holds
      the flow (its key to the flow, and to the flow's step) as the run's key did. The deletion waits for it
      and then fails as a concurrent update (Odoo's cursors run in REPEATABLE READ; a request retries it), or
      the enrolment fails if the deletion came first (``tests/test_run_keys.py``). The runs of a flow without
      steps, which end at once and write no counter, are held by the lock only: a deletion whose transaction
      started before such an enrolment committed does not see its ended runs, which then keep the deleted
      flow's id (forms and lists read it as no flow)."""


class RunTrigger(KeylessMany2one):
    """The trigger that enrolled a run, for the record (its form and lists show it; the engine never reads it):
    a many2one as any, without the foreign key PostgreSQL would check with a query for each run inserted
    (every run of a launch batch repeats it: the launch 1.07 x with and without it, alternated,
    docs/performance.md "What bounds each figure"). Deleting a trigger empties it on its runs, as the key's
    ``ON DELETE SET NULL`` did: ``salesjet_flow_trigger_forget_runs``, a statement trigger on the triggers.
    What no statement can see is a run enrolled by a trigger while another transaction, started before that
    enrolment committed, deletes it: that run keeps the deleted trigger's id, which reads as "Deleted
    trigger" (``salesjet.flow.trigger._compute_display_name``), in forms, lists and groups alike."""


class SalesjetFlowEnrollment(models.Model):
    _name = "salesjet.flow.enrollment"
    _description = "Flow Run"
    _order = "date_start desc, id desc"
    _rec_name = "partner_id"

    # Odoo's log-access users, without keys (UserStamp); the dates stay Odoo's
    create_uid = UserStamp("res.users", string="Created by", automatic=True, readonly=True)
    write_uid = UserStamp("res.users", string="Last Updated by", automatic=True, readonly=True)

    # the flow, company and trigger every run of a batch repeats, without keys (HeldRunKey, RunTrigger)
    flow_id = HeldRunKey("salesjet.flow", string="Flow", required=True, ondelete="cascade", index=True)
    partner_id = fields.Many2one("res.partner", string="Contact", required=True, ondelete="cascade", index=True)
    # no index on the company or the state: neither selects few runs, and each index costs every run inserted
    # (a launch's statement 1.03 x without the two, alternated); a company's runs are looked for only when it
    # is deleted (res.company._unlink_except_flow_runs)
    company_id = HeldRunKey("res.company", string="Company", required=True)
    trigger_id = RunTrigger("salesjet.flow.trigger", string="Trigger", ondelete="set null")
    event_id = fields.Many2one("salesjet.event", string="Event", ondelete="set null", index="btree_not_null")
    lead_id = fields.Many2one("crm.lead", string="Lead", ondelete="set null", index="btree_not_null")
    data = fields.Json(string="Event data", help="The data of the event that started the run, for placeholders.")
    data_text = fields.Text(string="Data (readable)", compute="_compute_data_text")
    state = fields.Selection(ENROLLMENT_STATES, required=True, default="running")
    reentry_key = fields.Char(
        readonly=True, copy=False,
        help="Technical: unique per flow and contact while set, so the database refuses a second run "
             "where the flow's re-entry policy forbids it.",
    )
    date_start = fields.Datetime(string="Started", required=True, default=fields.Datetime.now)
    date_done = fields.Datetime(string="Ended")
    job_ids = fields.One2many("salesjet.flow.job", "enrollment_id", string="Jobs")
    current_step_id = fields.Many2one(
        "salesjet.flow.step", string="Waiting on", compute="_compute_current_step",
        help="The step whose job is waiting for this run.",
    )
    next_date = fields.Datetime(string="Next step at", compute="_compute_current_step")

    def init(self):
        self.env.cr.execute(SQL("""
            CREATE UNIQUE INDEX IF NOT EXISTS salesjet_flow_enrollment_reentry_uniq
                ON salesjet_flow_enrollment (flow_id, partner_id, reentry_key)
             WHERE reentry_key IS NOT NULL
        """))
        # for the runs written from now on (an update moves no run already written)
        self.env.cr.execute(SQL("ALTER TABLE salesjet_flow_enrollment SET (fillfactor = %s)", RUN_FILLFACTOR))

    @api.constrains("flow_id", "company_id")
    def _check_held_keys(self):
        """The runs the ORM writes hold a flow and a company that exist (HeldRunKey: the engine's statements
        are held by the counters' keys)."""
        missing = [f"{records._name} {record_id}" for records in (self.flow_id, self.company_id)
                   for record_id in (records - records.exists()).ids]
        if missing:
            raise ValidationError(_("A run cannot belong to a flow or a company that does not exist (%s).",
                                    ", ".join(missing)))

    def _compute_current_step(self):
        pending = self.env["salesjet.flow.job"].search(
            [("enrollment_id", "in", self.ids), ("state", "=", "pending")], order="scheduled_date")
        by_enrollment = {}
        for job in pending:
            by_enrollment.setdefault(job.enrollment_id.id, job)
        for enrollment in self:
            job = by_enrollment.get(enrollment.id)
            enrollment.current_step_id = job.step_id if job else False
            enrollment.next_date = job.scheduled_date if job else False

    def _finish(self, state, now=None):
        """End these runs. Releases the ``no_active`` re-entry key so the contact may enter again."""
        if not self:
            return
        now = now or fields.Datetime.now()
        self.env.flush_all()
        self.env.cr.execute(SQL(
            """
            UPDATE salesjet_flow_enrollment
               SET state = %(state)s, date_done = %(now)s, write_date = %(now)s, write_uid = %(uid)s,
                   reentry_key = CASE WHEN reentry_key = 'active' THEN NULL ELSE reentry_key END
             WHERE id = ANY(%(ids)s::int[]) AND %(running)s
            """,
            state=state, now=now, uid=self.env.uid, ids=array_literal(self.ids),
            running=state_in(SQL("state"), "running"),
        ))
        self.invalidate_recordset(["state", "date_done", "reentry_key", "write_date", "write_uid"])
        self.env["salesjet.flow"]._invalidate_engine_cache()

    def action_stop(self):
        """Stop these runs and cancel their waiting jobs."""
        self.check_access("write")  # _finish writes the runs with SQL
        running = self.filtered(lambda e: e.state == "running")
        running.job_ids.filtered(lambda j: j.state == "pending").write({
            "state": "cancelled", "result": _("Run stopped by %s.", self.env.user.name),
            "date_done": fields.Datetime.now(),
        })
        running._finish("stopped")
        return True

    def action_retry(self):
        """Put the failed jobs of these runs back in the queue (see ``salesjet.flow.job.action_retry``)."""
        self.check_access("write")
        failed = self.env["salesjet.flow.job"].search([("enrollment_id", "in", self.ids), ("state", "=", "failed")])
        if not failed:
            raise UserError(_("These runs have no failed step to retry."))
        failed.action_retry()
        return True

    def action_view_jobs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("salesjet_flows.salesjet_flow_job_action")
        action["domain"] = [("enrollment_id", "=", self.id)]
        action["context"] = {}
        return action

    @api.depends("data")
    def _compute_data_text(self):
        for record in self:
            record.data_text = json.dumps(record.data, indent=2, ensure_ascii=False, default=str) if record.data else ""

    # ---- Goal ----
    converted = fields.Boolean(readonly=True, copy=False, help="The contact reached the flow's goal during this run.")
    date_converted = fields.Datetime(string="Converted on", readonly=True, copy=False)

    def _convert(self, now=None):
        """End these running runs as converted: waiting jobs are cancelled, the run is completed."""
        runs = self.filtered(lambda e: e.state == "running")
        if not runs:
            return
        now = now or fields.Datetime.now()
        self.env.flush_all()
        self.env.cr.execute(SQL(
            """
            UPDATE salesjet_flow_job SET state = 'cancelled', result = %(reason)s, date_done = %(now)s
             WHERE enrollment_id = ANY(%(ids)s::int[]) AND %(pending)s
            """,
            reason=_("Goal reached: the run ended as converted."), now=now, ids=array_literal(runs.ids),
            pending=state_in(SQL("state"), "pending"),
        ))
        self.env.cr.execute(SQL(
            "UPDATE salesjet_flow_enrollment SET converted = TRUE, date_converted = %s WHERE id = ANY(%s::int[])",
            now, array_literal(runs.ids),
        ))
        self.env["salesjet.flow.job"].invalidate_model(["state", "result", "date_done"])
        runs.invalidate_recordset(["converted", "date_converted"])
        runs._finish("done", now)
