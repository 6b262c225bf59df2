"""Frequency caps: at most N messages per contact and channel per day and per week,
counted across every flow, with company limits and an optional per-flow override.

A batch costs one query: the message jobs done for its contacts in the last 7
days. The batch's own jobs are then counted in order (scheduled date, id), so
the third email of a contact in one batch is caught as well.
"""
import logging
import random
import sys
import time
import traceback

from dateutil.relativedelta import relativedelta
from psycopg2.extensions import TransactionRollbackError

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..tools.arrays import array_literal
from ..tools.batch import JobBatch
from ..tools.caps import CAP_CHANNELS, CAPPED_TYPES, DAY, WEEK
from ..tools.http import PermanentError
from ..tools.keys import KeylessMany2one
from ..tools.planner import BY_KEYS, IN_ORDER, planner_off, state_in
from ..tools.prepared import execute_prepared
from ..tools.secrets import known_secrets, redact, redact_known
from ..tools.timing import delta

_logger = logging.getLogger(__name__)

JOB_STATES = [
    ("pending", "Waiting"),
    ("running", "Running"),
    ("done", "Done"),
    ("skipped", "Skipped"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]

# the largest batch: under the cron, each batch is also sized to what is left of its call's time budget
# (salesjet.cron._fit). 1,000 rather than 500: whole drains of tag jobs took 182 against 249 us a job (the
# batch's own reads and statements shared by twice as many jobs), 2,000 no better; email drains were the
# same at 1,000 and 3-4 % slower at 2,000 (docs/performance.md, "What bounds each figure")
DEFAULT_BATCH_SIZE = 1000


def insert_pending(rows, now):
    """SQL: insert the rows of ``rows`` as new waiting jobs (``rows``: an SQL query of enrollment, flow, step,
    contact, company, scheduled date, repeat index). What a new job row holds is said here only: the jobs of
    ``_create_pending`` and those an event's direct path inserts in its own statement."""
    return SQL(
        """
        INSERT INTO salesjet_flow_job
            (enrollment_id, flow_id, step_id, partner_id, company_id, scheduled_date, repeat_index,
             state, attempts, create_date)
        SELECT e, f, s, p, c, d, r, 'pending', 0, %(now)s::timestamp
          FROM (%(rows)s) AS t(e, f, s, p, c, d, r)
        """,
        rows=rows, now=now,
    )


# The scheduler's advisory lock (one per database): a transaction that queues jobs takes it shared before it
# asks whether a call of the scheduler is already coming (``scheduler_check``) and keeps it until it commits; a
# call of the scheduler about to end with nothing left waits until no such transaction holds it, then looks at
# the queue once more (``salesjet.flow.job._settle_queue``). docs/reliability.md, "A wake-up that cannot be lost".
QUEUE_LOCK = 0x534A_5155_4555  # "SJQUEUE"

# how long the end of a call of the scheduler waits for the transactions queueing jobs, trying every pause
SETTLE_SECONDS = 0.5
SETTLE_PAUSE = 0.005

# a later moment covers a job that waits: the cron workers poll once a minute anyway
COVER_SLACK_SECONDS = 60


# the statement that takes it shared, sent before (and apart from) the statement that checks the scheduler, in
# the same round trip
LOCK_QUEUE_SHARED = f"SELECT pg_advisory_xact_lock_shared({QUEUE_LOCK})"


def call_coming(at, fresh=True):
    """SQL condition on ``ir_cron c``: a call of ``c`` is already due to come at or soon after ``at`` and will
    see what this transaction commits, so no trigger is needed.

    A moment (the action's next regular call or one of its triggers) covers ``at`` when it falls after the
    start of the action's latest call (a call that has started will delete the triggers older than its start
    and set its next call again, ``ir.cron._reschedule_later``) and, for a job due now, is due itself, for a
    job due later, is at ``at`` or up to ``COVER_SLACK_SECONDS`` after it (an earlier call would not find the
    job due). The start of the latest call is read from its ``ir.cron.progress`` row, committed before the
    call. Odoo's cursors read in REPEATABLE READ, so this transaction may not see a call that started after
    its snapshot: when the progress rows' sequence has gone past the last row it sees, nothing covers (unless
    ``fresh`` is false: a hint, as for waking idle lanes). The sequence also goes past the rows of a call that
    was rolled back (a manual run that failed) until the next call of any scheduled action commits its row:
    until then every such transaction sets a trigger.
    """
    covers = SQL(
        """(%(moment)s > s.started
            AND CASE WHEN %(at)s::timestamp <= s.clock THEN %(moment)s <= s.clock
                     ELSE %(moment)s BETWEEN %(at)s::timestamp
                                         AND %(at)s::timestamp + interval '1 second' * %(slack)s END)""",
        moment=SQL("m.moment"), at=at, slack=SQL(str(COVER_SLACK_SECONDS)))
    return SQL(
        """
        EXISTS (
            SELECT 1
              FROM (SELECT clock_timestamp() AT TIME ZONE 'UTC' AS clock,
                           COALESCE((SELECT p.create_date FROM ir_cron_progress p WHERE p.cron_id = c.id
                                      ORDER BY p.id DESC LIMIT 1), '-infinity') AS started) s,
                   LATERAL (SELECT c.nextcall UNION ALL
                            SELECT t.call_at FROM ir_cron_trigger t WHERE t.cron_id = c.id) AS m(moment)
             WHERE %(fresh)s AND %(covers)s)
        """,
        covers=covers,
        fresh=SQL("""COALESCE(pg_sequence_last_value('ir_cron_progress_id_seq'::regclass), 0)
                     <= (SELECT COALESCE(max(id), 0) FROM ir_cron_progress)""") if fresh else SQL("TRUE"),
    )


def scheduler_check(cron_id, at):
    """SQL returning one row: true when the scheduled action ``cron_id`` must be triggered for ``at``, because
    no call of it is already coming (``call_coming``). Run it after ``LOCK_QUEUE_SHARED``, in a statement of its
    own."""
    return SQL(
        "SELECT c.active AND NOT %(coming)s FROM ir_cron c WHERE c.id = %(cron)s",
        cron=cron_id, coming=call_coming(at),
    )


DEFAULT_MAX_ATTEMPTS = 5

ACQUIRE_RETRIES = 10

# the types of the values ``_update_by_ids`` sends, as arrays in their text form (``tools/arrays.py``)
ARRAY_TYPES = {
    "int": "%s::int[]", "varchar": "%s::varchar[]", "text": "%s::text[]", "timestamp": "%s::timestamp[]",
}

# what ``_schedule_next`` reads of the jobs that ended, in this order
ENDED_COLUMNS = ("step_id", "state", "repeat_index", "enrollment_id", "flow_id", "partner_id", "company_id",
                 "branch_id")

# the columns of a job that the batch's stages read, fetched with the lock that acquires it (``_acquire_due``)
ACQUIRED_FIELDS = ("enrollment_id", "flow_id", "step_id", "partner_id", "company_id", "repeat_index", "branch_id",
                   "state", "scheduled_date", "attempts", "split_held", "date_waiting")


GOAL_BATCH_SIZE = 1000


class RunCopy(KeylessMany2one):
    """A job's copy of its run's flow, contact or company: a many2one as any (stored, indexed, searched,
    grouped by, read through the rules), without a foreign key of its own. The run's key holds it: the run's
    flow, contact and company are the job's, and a job is deleted with its run (``enrollment_id``, cascade),
    so deleting a flow or a contact deletes their jobs as before (the flow's runs by a trigger since 1.9.0,
    ``HeldRunKey``), and a company that has runs is still kept. PostgreSQL checks each foreign key of each row
    inserted with a query of its own: these three cost a launch 1.27-1.31 x and the add-tag step 1.12-1.14 x
    (bench/fk_cost.py, docs/performance.md "What bounds each figure"). Contact merges move the job's contact
    with its run's (``base.partner.merge.automatic.wizard._get_fk_on``)."""


class CountedStep(KeylessMany2one):
    """A job's step: a many2one as any, without the foreign key that PostgreSQL would check with a query for
    each job inserted (about 6 us: a launch 1.14 x and the add-tag step 1.07 x with and without it, alternated:
    docs/performance.md "What bounds each figure"). What the key did is done once a step a statement:

    - a job cannot hold a step that does not exist. Every statement that inserts jobs writes, through the
      counters' trigger, one counter row for each of their steps, and ``salesjet.flow.step.stat`` keeps its
      foreign key: inserting a job for a missing step fails there. Moving a job to another step is checked
      by the ``salesjet_flow_job_step_moved`` row trigger, which fires on such moves only;
    - deleting a step deletes its jobs: ``salesjet_flow_step_delete_jobs``, a statement trigger on the steps,
      also when they go with their flow or their split (cascades in SQL);
    - a step deleted while another transaction queues a job on it: the counter row of that transaction holds
      the step as the key did. The deletion waits for it and then fails as a concurrent update (Odoo's cursors
      run in REPEATABLE READ; a request retries it), or the queueing fails if the deletion came first."""


class SalesjetFlowJob(models.Model):
    _name = "salesjet.flow.job"
    _description = "Flow Job"
    _order = "scheduled_date desc, id desc"
    # A job is a log row, many per contact, as Odoo's mail.notification or website.visitor: no create_uid,
    # write_uid or write_date (the run records who started it; the job its own dates). PostgreSQL checks each
    # foreign key of each row inserted with a query of its own: the two user keys cost a launch 1.14 x and the
    # add-tag step 1.05 x (bench/fk_cost.py, docs/performance.md "What bounds each figure").
    _log_access = False

    enrollment_id = fields.Many2one(
        "salesjet.flow.enrollment", string="Run", required=True, ondelete="cascade", index=True)
    # the run's flow, contact and company, kept on the job for the scheduler's and the statistics' queries,
    # without keys of their own (RunCopy)
    flow_id = RunCopy("salesjet.flow", string="Flow", required=True, ondelete="cascade", index=True)
    step_id = CountedStep("salesjet.flow.step", string="Step", required=True, ondelete="cascade", index=True)
    partner_id = RunCopy("res.partner", string="Contact", required=True, ondelete="cascade", index=True)
    # Every index costs on each state change of every job (they are not HOT
    # updates): company and date are left to the partial due index and filters.
    company_id = RunCopy("res.company", string="Company", required=True)
    scheduled_date = fields.Datetime(string="Scheduled", required=True)
    # no index on state alone: the partial index salesjet_flow_job_due_idx serves the scheduler
    state = fields.Selection(JOB_STATES, required=True, default="pending")
    repeat_index = fields.Integer(
        string="Repeat", default=0, help="0 for the step's first run, then 1, 2... for each repetition.")
    attempts = fields.Integer(default=0, help="How many times this job was started.")
    date_started = fields.Datetime(string="Started")
    date_done = fields.Datetime(string="Ended")
    result = fields.Text(help="What the job did, or why it was skipped.")
    error = fields.Text(help="The last error, kept when the job is retried or fails.")
    mailing_trace_id = fields.Many2one(
        "mailing.trace", string="Email trace", ondelete="set null", index="btree_not_null",
        help="Delivery, open and click tracking of the email this job sent.")
    date_waiting = fields.Datetime(
        string="Waiting since",
        help="When this job first found its step's conditions failing, on a step that waits until they hold.")
    res_model = fields.Char(string="Produced model", help="Technical name of the record this job produced.")
    res_id = fields.Many2oneReference(string="Produced record", model_field="res_model")
    # when the job was queued; a run's first job at a step dates its entering the step in the statistics
    create_date = fields.Datetime(string="Created on", readonly=True, default=fields.Datetime.now)

    def init(self):
        # The scheduler only ever looks for due pending jobs: keep that index small.
        self.env.cr.execute(SQL("""
            CREATE INDEX IF NOT EXISTS salesjet_flow_job_due_idx
                ON salesjet_flow_job (scheduled_date, id) WHERE state = 'pending'
        """))
        # the contacts held back at A/B splits, found again when the winner is known
        self.env.cr.execute(SQL("""
            CREATE INDEX IF NOT EXISTS salesjet_flow_job_held_idx
                ON salesjet_flow_job (step_id) WHERE split_held AND state = 'pending'
        """))

    @api.constrains("enrollment_id", "flow_id", "partner_id", "company_id")
    def _check_run_copy(self):
        """A job written through the ORM holds its run's flow, contact and company (RunCopy: the run's keys
        stand for the job's); the engine's own inserts copy them from the run."""
        for job in self:
            run = job.enrollment_id
            if (job.flow_id, job.partner_id, job.company_id) != (run.flow_id, run.partner_id, run.company_id):
                raise ValidationError(_("A job belongs to the flow, contact and company of its run (%s).",
                                        run.display_name))

    @api.depends("step_id", "partner_id")
    def _compute_display_name(self):
        for job in self:
            job.display_name = f"{job.step_id.display_name} · {job.partner_id.display_name}"

    # ------------------------------------------------------------------
    # Creation (set-based)
    # ------------------------------------------------------------------

    @api.model
    def _create_pending(self, rows):
        """Insert pending jobs with one statement, which also tells whether the scheduler must be woken.

        :param rows: tuples (enrollment_id, flow_id, step_id, partner_id, company_id, scheduled_date, repeat_index)
        """
        if not rows:
            return
        columns = list(zip(*rows, strict=True))
        now = fields.Datetime.now()
        first = min(columns[5])
        cron_id, check = self._scheduler_check(first)
        # a data-modifying WITH runs to completion whether or not its rows are read: one round trip
        # inserts the jobs and asks the scheduler's state; prepared, as it runs for every event that
        # takes the general path and every batch (tools/prepared.py)
        rows = SQL(
            "SELECT * FROM unnest(%s::int[], %s::int[], %s::int[], %s::int[], %s::int[], %s::timestamp[], %s::int[])",
            *(array_literal(column) for column in columns),
        )
        execute_prepared(self.env.cr, SQL(
            "WITH inserted AS (%s) %s", insert_pending(rows, now), check or SQL("SELECT FALSE")),
            before=LOCK_QUEUE_SHARED if check else None)
        row = self.env.cr.fetchone()
        self.env["salesjet.flow"]._invalidate_engine_cache()
        if row and row[0]:
            self.env["ir.cron"].browse(cron_id)._trigger(at=first)

    @api.model
    def _update_by_ids(self, ids, assignments, values=(), where=None, returning=None):
        """Update the jobs ``ids`` with one statement, each with values of its own, through the job table's key
        whatever its statistics say::

            UPDATE salesjet_flow_job j SET <assignments>
              FROM unnest(<ids>, <values>…) AS v(id, <names>…)
             WHERE j.id = v.id AND j.id = ANY(<ids>) [AND <where>] [RETURNING <returning>]

        The key test gives the job table's side a path through its index, and the block runs with sequential
        scans off (``BY_KEYS``): a table the statistics describe as small was otherwise joined whole by a hash
        join (46-63 ms for 1,000 jobs against 24-28 ms, docs/performance.md). Skips access rights and record
        rules, and the ORM's cache: the caller invalidates the fields it wrote.

        :param list ids: the jobs' ids
        :param SQL assignments: the ``SET`` list; ``j`` is the job's row, ``v`` the values of its id
        :param values: ``(name, type, list)`` per column of values, the list in the order of ``ids``; ``type``
            is one of ``ARRAY_TYPES``
        :param SQL where: a further condition on the rows to update; a test of the state written with
            ``state_in`` (``j.state = 'pending'`` matched the due jobs' partial index, which the planner then
            read whole: every waiting job of the table for a few ids)
        :param SQL returning: what to return of each updated row
        :return: the rows returned (``fetchall()``) with ``returning``, else None
        """
        ids = list(ids)
        if not ids:
            return [] if returning else None
        key = array_literal(ids)
        arrays = [SQL(ARRAY_TYPES["int"], key)]
        names = [SQL.identifier("id")]
        for name, kind, column in values:
            column = list(column)
            if len(column) != len(ids):
                raise ValueError(f"{len(column)} values of {name} for {len(ids)} jobs")
            arrays.append(SQL(ARRAY_TYPES[kind], array_literal(column)))
            names.append(SQL.identifier(name))
        query = SQL(
            "UPDATE salesjet_flow_job j SET %s FROM unnest(%s) AS v(%s) WHERE j.id = v.id AND j.id = ANY(%s)%s%s",
            assignments, SQL(", ").join(arrays), SQL(", ").join(names), SQL(ARRAY_TYPES["int"], key),
            SQL(" AND %s", where) if where else SQL(), SQL(" RETURNING %s", returning) if returning else SQL(),
        )
        with planner_off(self.env.cr, *BY_KEYS):
            self.env.cr.execute(query)
            return self.env.cr.fetchall() if returning else None

    @api.model
    def _scheduler_cron_id(self):
        """The id of the scheduled action that runs due jobs, or None if it is gone."""
        # the xmlid lookup is cached, unlike env.ref()'s existence check
        return self.env["ir.model.data"]._xmlid_to_res_id(
            "salesjet_flows.ir_cron_salesjet_process_jobs", raise_if_not_found=False) or None

    @api.model
    def _scheduler_check(self, at):
        """(cron id, query): the query returns one row, true when the scheduler must be triggered for ``at``
        because its next regular run is later and no trigger is set at or before ``at``; (None, None) if
        the scheduler is gone."""
        cron_id = self._scheduler_cron_id()
        if not cron_id:
            return None, None
        self.env["ir.cron"].flush_model(["active", "nextcall"])
        self.env["ir.cron.trigger"].flush_model()
        return cron_id, scheduler_check(cron_id, at)

    @api.model
    def _trigger_scheduler(self, at):
        """Wake the scheduler at ``at`` when that is sooner than its next regular run.

        No new trigger when one is already set at or before ``at``: a burst of
        events then costs one trigger, not one each.
        """
        cron_id, check = self._scheduler_check(at)
        if not cron_id:
            return
        self.env.cr.execute(SQL("%s; %s", SQL(LOCK_QUEUE_SHARED), check))
        row = self.env.cr.fetchone()
        if row and row[0]:
            self.env["ir.cron"].browse(cron_id)._trigger(at=at)

    # ------------------------------------------------------------------
    # Scheduler
    # ------------------------------------------------------------------

    @api.model
    def _get_batch_size(self):
        return int(self.env["ir.config_parameter"].sudo().get_param(
            "salesjet_flows.job_batch_size", DEFAULT_BATCH_SIZE))

    @api.model
    def _get_max_attempts(self):
        return int(self.env["ir.config_parameter"].sudo().get_param(
            "salesjet_flows.job_max_attempts", DEFAULT_MAX_ATTEMPTS))

    @api.model
    def _acquire_due(self, limit):
        """Lock and return at most ``limit`` due jobs that no other worker holds.

        ``FOR UPDATE SKIP LOCKED`` lets several cron workers (or servers)
        take disjoint batches; the locks last until the batch commits.

        Must be called at the start of a transaction: under Odoo's REPEATABLE
        READ isolation, locking a row that another worker updated after our
        snapshot raises a serialization error, which we answer, as Odoo's own
        cron does, by rolling back and taking a fresh snapshot.
        """
        self.env.flush_all()
        query = SQL(
            """
            SELECT id, %s FROM salesjet_flow_job
             WHERE state = 'pending' AND scheduled_date <= %s AND %s
             ORDER BY scheduled_date, id
             LIMIT %s
               FOR UPDATE SKIP LOCKED
            """,
            SQL(", ").join(SQL.identifier(fname) for fname in ACQUIRED_FIELDS),
            fields.Datetime.now(), self._due_filter(), limit,
        )
        for attempt in range(ACQUIRE_RETRIES):
            try:
                # in the due index's order up to the limit, whatever the statistics say: a launch's jobs, not
                # yet analysed, looked few, and every batch read them all and sorted them (planner_off)
                with planner_off(self.env.cr, *IN_ORDER):
                    # an expected conflict between workers, not an error worth a log line
                    self.env.cr.execute(query, log_exceptions=False)
                    rows = self.env.cr.fetchall()
                break
            except TransactionRollbackError:
                if attempt == ACQUIRE_RETRIES - 1:
                    raise
                _logger.debug("due jobs were taken by another worker; retrying with a fresh snapshot")
                self.env.cr.rollback()
                time.sleep(random.uniform(0, 0.005))
        if not rows:
            return self.browse()
        # what the batch's stages read of its jobs, put in the cache as the ORM's fetch would (without
        # overwriting): the ORM would read every column again, text included, with a query of its own
        columns = zip(*rows, strict=True)
        jobs = self.browse(next(columns))
        for fname, values in zip(ACQUIRED_FIELDS, columns, strict=True):
            self.env.cache.insert_missing(jobs, self._fields[fname], values)
        return jobs

    @api.model
    def _count_due(self):
        """Due jobs, counted up to ten batches (the scheduler only needs to know there are more).

        Counted after every call of the scheduler: up to 100,000, PostgreSQL read the whole due range of the
        index (a bitmap scan, about 70 ms at 130,000 due jobs and growing with the backlog), a few percent of
        each call on a large launch; up to ten batches it reads them in order and stops (about 9 ms).
        """
        # through the due index whatever the statistics say: a scan of the job table looked cheaper when the
        # statistics lagged, and read it until it met enough due jobs (the newest, at its end)
        with planner_off(self.env.cr, *BY_KEYS):
            return self.env["salesjet.cron"]._count_capped(SQL(
                "SELECT 1 FROM salesjet_flow_job WHERE state = 'pending' AND scheduled_date <= %s AND %s",
                fields.Datetime.now(), self._due_filter(),
            ), cap=10 * self._get_batch_size())

    @api.model
    def _process_due_batch(self, limit=None):
        """Take one batch of due jobs, run it and return how many jobs it held.

        Does not commit: the caller commits, so a job's effects (tags, queued
        mails, notes) and its new state land in the same transaction.
        """
        jobs = self._acquire_due(limit or self._get_batch_size())
        if jobs:
            jobs._execute()
        return len(jobs)

    @api.model
    def _cron_process_due_jobs(self):
        """Scheduled action: run due jobs for one call's time budget, batch by batch, committing after each.

        Every scheduled action that calls this method is a *lane* of the
        scheduler: lanes take disjoint batches (``FOR UPDATE SKIP LOCKED``), so
        several cron workers, on one server or several, drain one queue together.
        While work remains, this call wakes the idle lanes.
        """
        # the transactions that queue jobs rely on the triggers of the scheduler's first lane only
        settle = self._settle_queue if self.env.context.get("cron_id") == self._scheduler_cron_id() else None
        return self.env["salesjet.cron"]._run_batches(
            self._process_due_batch, self._count_due, self._get_batch_size(),
            key="salesjet.flow.job", wake=self._wake_lanes, settle=settle)

    @api.model
    def _settle_queue(self):
        """Wait, before a call of the scheduler ends with nothing left that it could do, until no transaction
        that is queueing jobs is still open (they hold ``QUEUE_LOCK`` shared from their check of the scheduler
        to their commit), so that the next look at the queue sees their jobs: one of them may have relied on a
        trigger that Odoo deletes when this call ends. Commits (the look needs a new snapshot, taken after the
        wait: Odoo's cursors read in REPEATABLE READ).

        :return: True; False when such transactions stayed open for ``SETTLE_SECONDS`` (a long import, a
            stream without a gap): then the scheduler is triggered again, by a trigger that this call cannot
            delete (Odoo deletes only the triggers its own snapshot, taken at the call's start, sees).
        """
        cr = self.env.cr
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            # tried, not waited for: a waiting exclusive request would queue every new event behind it
            cr.execute("SELECT pg_try_advisory_xact_lock(%s)", [QUEUE_LOCK])
            free = cr.fetchone()[0]
            cr.commit()  # pylint: disable=invalid-commit
            if free:
                return True
            if time.monotonic() >= deadline:
                break
            time.sleep(SETTLE_PAUSE)
        _logger.info("SalesJet: jobs were being queued through the end of the scheduler's call; it is called again")
        self.env["ir.cron"].browse(self.env.context.get("cron_id")).sudo()._trigger()
        return False

    @api.model
    def _scheduler_lanes(self):
        """The active scheduled actions that run due jobs: Odoo's cron lock lets one worker run each, so one lane
        per cron worker that should work on the queue at the same time (duplicate the action to add a lane)."""
        return self.env["ir.cron"].sudo().search([
            ("model_id.model", "=", self._name), ("code", "=like", "%model._cron_process_due_jobs()%"),
        ])

    @api.model
    def _wake_lanes(self):
        """Trigger every other lane now (unless a trigger is already due) and wake the cron workers."""
        lanes = self._scheduler_lanes() - self.env["ir.cron"].browse(self.env.context.get("cron_id"))
        if lanes:
            now = fields.Datetime.now()
            self.env["ir.cron"].flush_model(["nextcall"])
            self.env["ir.cron.trigger"].flush_model()
            self.env.cr.execute(SQL(
                "SELECT c.id FROM ir_cron c WHERE c.id = ANY(%s) AND NOT %s", lanes.ids, call_coming(now, fresh=False),
            ))
            idle = self.env["ir.cron"].browse([row[0] for row in self.env.cr.fetchall()])
            for lane in idle:
                lane._trigger(at=now)
        self.env["salesjet.cron"]._wake_workers()

    def _execute(self):
        """Run these locked, due jobs through the batch pipeline, whose stages come in this order:

        1. send window: a job due outside its step's send window waits for the next opening;
        2. caps: frequency caps postpone or skip message jobs (``_apply_frequency_caps``);
        3. goal: runs whose contact reached their flow's goal end as converted (``salesjet.flow._convert_reached``);
        4. ended runs: the jobs of runs that ended meanwhile are cancelled;
        then, step by step (in the order of the batch's jobs):
        5. conditions: the step's conditions filter its jobs (skip, stop or wait);
        6. split: a split step whose test period is over picks its winner (``salesjet.flow.step.split``);
        7. execution: the step's action runs for its jobs;
        then
        8. outcomes: done, skipped, results, gathered on the batch, are written with one statement
           (each job row is updated once per run instead of three or four times, see bench/ and docs/performance.md);
        9. next jobs: each run's repeat or next step is scheduled, or the run ends.

        Each stage is a method (``_batch_*`` here, on the step for 5 to 7) that feature files define or
        extend with ``super()``; the batch's state travels on a ``JobBatch``, not in module globals.
        """
        batch = JobBatch(self, fields.Datetime.now())
        self._batch_apply_send_window(batch)
        self._batch_apply_caps(batch)
        if not batch.jobs:
            return
        self._batch_apply_goal(batch)
        self._batch_cancel_ended_runs(batch)
        batch.open = True
        try:
            for step, jobs in self._by_step(batch.pending()).items():
                jobs = step._batch_apply_conditions(jobs, batch)
                step._batch_apply_split(jobs, batch)
                step._batch_execute(jobs, batch)
        finally:
            batch.open = False
        ended = self._batch_write_outcomes(batch)
        if ended:
            batch.jobs._schedule_next(batch.now, ended)
        self.env["salesjet.flow"]._invalidate_engine_cache()

    @api.model
    def _by_step(self, jobs):
        """``{step: its jobs}`` in the order of ``jobs``. A batch is mostly the jobs of one step (the due jobs
        of one launch or one event's flow): then without grouping them job by job (4.2 ms for 1,000 jobs,
        against 0.2 ms for their steps)."""
        steps = jobs.step_id
        if len(steps) == 1:
            return {steps: jobs}
        return jobs.grouped("step_id")

    def _batch_apply_send_window(self, batch):
        """Stage 1: jobs due outside their step's send window wait for its next opening (not an attempt)."""
        batch.jobs -= batch.jobs._postpone_to_send_window(batch.now)

    def _batch_apply_caps(self, batch):
        """Stage 2: frequency caps (``_apply_frequency_caps``): take out the jobs they postpone, give those they
        skip their outcome. After the send windows, so that a job the window moves is not counted against
        the cap."""
        postponed, skipped = batch.jobs._apply_frequency_caps(batch.now)
        batch.jobs -= postponed
        for job_id, reason in skipped.items():
            batch.outcomes[job_id] = ("skipped", reason, None, None)

    def _batch_apply_goal(self, batch):
        """Stage 3: the flows' goals, one query per flow of the batch: runs whose contact reached it end as
        converted, and their jobs are then cancelled by the next stage."""
        # the flows first (a batch is mostly one or two flows), the jobs grouped only for a flow with a goal
        goals = batch.jobs.flow_id.filtered(lambda f: f.goal_enabled and f.goal_domain and f.goal_domain != "[]")
        for flow in goals:
            flow._convert_reached(batch.jobs.filtered(lambda j, flow=flow: j.flow_id == flow).enrollment_id,
                                  batch.now)

    def _batch_cancel_ended_runs(self, batch):
        """Stage 4: a run stopped meanwhile (by a user, a "stop follow-up" step or its goal) runs nothing more."""
        # asked of the database: through the ORM, the batch's runs were fetched whole (their data included)
        # only to read their state: 4-10 % of a tag batch's time (alternated batches, docs/performance.md)
        runs = batch.jobs.enrollment_id
        runs.flush_recordset(["state"])
        with planner_off(self.env.cr, *BY_KEYS):
            self.env.cr.execute(SQL(
                "SELECT id FROM salesjet_flow_enrollment WHERE id = ANY(%s::int[]) AND state != 'running'",
                array_literal(runs.ids)))
            ended = {row[0] for row in self.env.cr.fetchall()}
        if not ended:
            return  # the common case, decided on the runs alone
        for job in batch.jobs.filtered(lambda j: j.enrollment_id.id in ended):
            batch.outcomes[job.id] = ("cancelled", _("The run had ended."), None, None)

    def _batch_write_outcomes(self, batch):
        """Stage 8: write the batch's outcomes with one statement, which returns what ``_schedule_next`` reads
        of the jobs (``ENDED_COLUMNS``); an empty list when no job of the batch ended.

        Jobs left waiting for their conditions were rescheduled by ``_mark_waiting``: not an attempt, they
        leave the batch; jobs with no outcome succeeded; a failed job's state was written by ``_mark_error``.
        """
        self.env.flush_all()
        outcomes = batch.outcomes
        batch.jobs -= batch.jobs.browse([job_id for job_id, outcome in outcomes.items() if outcome[0] == "waiting"])
        if not batch.jobs:
            return []
        rows = [(job_id, *outcomes.get(job_id, ("done", None, None, None))) for job_id in batch.jobs.ids]
        rows = [(row[0], None, None, None, None) if row[1] == "error" else row for row in rows]
        ids, states, results, models_, res_ids = zip(*rows, strict=True)
        returned = self._update_by_ids(
            ids,
            SQL(
                "attempts = j.attempts + 1, date_started = %(now)s, state = COALESCE(v.state, j.state), "
                "date_done = CASE WHEN v.state IS NULL THEN j.date_done ELSE %(now)s END, "
                "result = COALESCE(v.result, j.result), res_model = COALESCE(v.res_model, j.res_model), "
                "res_id = COALESCE(v.res_id, j.res_id)",
                now=batch.now,
            ),
            values=[("state", "varchar", states), ("result", "text", results), ("res_model", "varchar", models_),
                    ("res_id", "int", res_ids)],
            returning=SQL("j.id, %s", SQL(", ").join(SQL.identifier("j", column) for column in ENDED_COLUMNS)),
        )
        ended = [row[1:] for row in sorted(returned)]  # in the jobs' order, as a read by id gives
        batch.jobs.invalidate_recordset(["state", "attempts", "date_started", "date_done", "result", "res_model",
                                         "res_id"])
        return ended

    def _postpone_to_send_window(self, now):
        """Move the jobs of steps with a send window that are outside it to its next opening.

        Grouped by step, one time zone query per step; returns the moved jobs
        (they stay waiting and their attempt is not counted).
        """
        moved_ids, dates = [], []
        windowed = self.step_id.filtered("window_active")
        if not windowed:
            return self.browse()  # the common case, decided on the steps alone
        for step, jobs in self.filtered(lambda j: j.step_id in windowed).grouped("step_id").items():
            openings = step._apply_send_window([now] * len(jobs), [job.partner_id.id for job in jobs],
                                               [job.company_id.id for job in jobs])
            for job, opening in zip(jobs, openings, strict=True):
                if opening > now:
                    moved_ids.append(job.id)
                    dates.append(opening)
        if not moved_ids:
            return self.browse()
        self._update_by_ids(moved_ids, SQL("scheduled_date = v.d"), values=[("d", "timestamp", dates)])
        moved = self.browse(moved_ids)
        moved.invalidate_recordset(["scheduled_date"])
        self._trigger_scheduler(min(dates))
        return moved

    def _schedule_next(self, now, ended):
        """After these jobs ended, schedule each run's repeat or next step, or end the run.

        Reads what it needs with plain SQL (the ORM's per-record access was a
        large share of a batch's time, see bench/), then inserts the next jobs
        with one statement.

        :param ended: the jobs' rows of ``ENDED_COLUMNS``, as the batch's outcome update returns them
        """
        # The jobs' rows and their runs' are two primary-key lookups rather than one SQL join: right
        # after a large launch the table statistics still describe empty tables
        # and the planner's join order turned a 2 ms read into a second. The states
        # are tested here, not in SQL: with "state IN ('done', 'skipped')" the planner
        # took the partial index of ended jobs (its predicate) and filtered every
        # ended job of the table by id (17.3 ms against 0.44 ms for a batch of 480
        # at 83,000 ended jobs, and growing with them).
        jobs = [row for row in ended if row[1] in ("done", "skipped")]
        with planner_off(self.env.cr, *BY_KEYS):
            self.env.cr.execute(SQL(
                "SELECT id, date_start, state FROM salesjet_flow_enrollment WHERE id = ANY(%s::int[])",
                array_literal({row[3] for row in jobs}),
            ))
            starts = {run_id: date_start for run_id, date_start, state in self.env.cr.fetchall()
                      if state == "running"}
        by_step = {}
        for row in jobs:
            if row[3] in starts:
                by_step.setdefault(row[0], []).append((*row, starts[row[3]]))
        rows, finished_ids = [], []
        for step_id, jobs in by_step.items():
            step = self.env["salesjet.flow.step"].browse(step_id)
            # the next step per branch: only a split step's jobs carry a branch, so
            # other steps look their next step up once, as before
            next_steps = {}
            repeat_date = now + delta(step.repeat_interval, step.repeat_unit) if step.repeat else None
            repeats, moves = [], {}
            for (_step, state, repeat_index, enrollment_id, flow_id, partner_id, company_id, branch_id,
                 date_start) in jobs:
                if repeat_date and state == "done" and repeat_index < step.repeat_max:
                    repeats.append((enrollment_id, flow_id, step_id, partner_id, company_id, date_start,
                                    repeat_index + 1))
                    continue
                if branch_id not in next_steps:
                    next_steps[branch_id] = step._next_step(
                        self.env["salesjet.flow.branch"].browse(branch_id) if branch_id else None)
                next_step = next_steps[branch_id]
                if not next_step:
                    finished_ids.append(enrollment_id)
                    continue
                moves.setdefault(next_step, []).append(
                    (enrollment_id, flow_id, next_step.id, partner_id, company_id, date_start, 0))
            # dates for the whole group at once: relative dates and send windows read contacts in one query
            if repeats:
                dates = step._apply_send_window([repeat_date] * len(repeats), [r[3] for r in repeats],
                                                [r[4] for r in repeats])
                rows += [(*row[:5], date, row[6]) for row, date in zip(repeats, dates, strict=True)]
            for next_step, group in moves.items():
                dates = next_step._compute_scheduled_dates(now, [(r[3], r[4], r[5], r[0]) for r in group])
                rows += [(*row[:5], date, row[6]) for row, date in zip(group, dates, strict=True)]
        self._create_pending(rows)
        self.env["salesjet.flow.enrollment"].browse(finished_ids)._finish("done", now)

    # ------------------------------------------------------------------
    # Outcomes, called by step executors
    # ------------------------------------------------------------------

    def _outcomes(self):
        """The outcomes of the batch these jobs are running in (``JobBatch``), or None outside its steps."""
        batch = self.env.context.get("salesjet_batch")
        return batch.outcomes if batch is not None and batch.open else None

    def _set_result(self, message, record=None):
        """Record what these jobs did (and the record they produced, if one)."""
        if not self:
            return
        outcomes = self._outcomes()
        if outcomes is not None:
            for job_id in self.ids:
                outcomes[job_id] = ("done", message, record._name if record else None, record.id if record else None)
            return
        self.env.cr.execute(SQL(
            "UPDATE salesjet_flow_job SET result = %s, res_model = %s, res_id = %s WHERE id = ANY(%s)",
            message, record._name if record else None, record.id if record else None, self.ids,
        ))
        self.invalidate_recordset(["result", "res_model", "res_id"])

    def _mark_skipped(self, reason, stop=False):
        """Skip these jobs with ``reason``; with ``stop`` their runs end as stopped."""
        if not self:
            return
        now = fields.Datetime.now()
        outcomes = self._outcomes()
        if outcomes is not None:
            for job_id in self.ids:
                outcomes[job_id] = ("skipped", reason, None, None)
        else:
            self.write({"state": "skipped", "result": reason, "date_done": now})
        if stop:
            self.enrollment_id._finish("stopped", now)

    def _mark_waiting(self, dates, now):
        """Leave these jobs pending until ``dates`` (one naive UTC datetime per job, in order): their step waits
        for its conditions. The first wait sets ``date_waiting``, from which the waiting limit counts."""
        if not self:
            return
        self._update_by_ids(self.ids, SQL("scheduled_date = v.d, date_waiting = COALESCE(j.date_waiting, %s)", now),
                            values=[("d", "timestamp", dates)])
        self.invalidate_recordset(["scheduled_date", "date_waiting"])
        outcomes = self._outcomes()
        if outcomes is not None:
            for job_id in self.ids:
                outcomes[job_id] = ("waiting", None, None, None)
        self._trigger_scheduler(min(dates))

    def _forget_outcomes(self):
        """Drop what a rolled-back attempt recorded for these jobs."""
        outcomes = self._outcomes()
        for job_id in self.ids if outcomes is not None else []:
            outcomes.pop(job_id, None)

    def _mark_error(self):
        """Record the exception being handled on this job: retry later with backoff, or fail.

        Called while the job runs: ``attempts`` does not count this run yet. The answer of a receiver
        (webhook, telephony) is kept on the job, and a ``PermanentError`` (such as a 4xx answer) fails
        it at once, without retry.
        """
        self.ensure_one()
        error = sys.exc_info()[1]
        if error is not None and hasattr(error, "http_status"):
            # a receiver may echo the request, headers included
            self.write({"http_status": error.http_status or 0,
                        "http_response": redact_known(self.env, error.excerpt) or False})
        if isinstance(error, PermanentError):
            return self._fail_permanently(error)
        outcomes = self._outcomes()
        if outcomes is not None:
            outcomes[self.id] = ("error", None, None, None)
        attempt = self.attempts + 1
        # Flows users read job errors: no token quoted by an exception (a URL, a header) may stay in it
        error = redact_known(self.env, traceback.format_exc(limit=5))
        _logger.warning("SalesJet job %s (step %s) failed, attempt %s:\n%s", self.id, self.step_id.id, attempt, error)
        now = fields.Datetime.now()
        if attempt < self._get_max_attempts():
            self.write({
                "state": "pending", "error": error,
                # 1, 4, 16, 64... minutes
                "scheduled_date": now + relativedelta(minutes=4 ** (attempt - 1)),
            })
        else:
            self.write({"state": "failed", "error": error, "date_done": now,
                        "result": _("Failed after %s attempts.", attempt)})
            self.enrollment_id._finish("failed", now)

    # ------------------------------------------------------------------
    # UI
    # ------------------------------------------------------------------

    def action_retry(self):
        """Put failed jobs back in the queue now, with a fresh attempt count."""
        failed = self.filtered(lambda j: j.state == "failed")
        failed.write({"state": "pending", "attempts": 0, "scheduled_date": fields.Datetime.now(), "date_done": False})
        failed.enrollment_id.filtered(lambda e: e.state == "failed").write({"state": "running", "date_done": False})
        if failed:
            self._trigger_scheduler(fields.Datetime.now())
        return True

    def action_cancel(self):
        self.filtered(lambda j: j.state == "pending").write({
            "state": "cancelled", "date_done": fields.Datetime.now(),
            "result": _("Cancelled by %s.", self.env.user.name)})
        return True

    def action_open_result(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }

    # ---- Answers of outside services ----
    # What steps calling the outside world (webhooks, telephony) keep on their jobs.
    http_status = fields.Integer(
        string="HTTP status", readonly=True,
        help="Status code of the last answer of the receiver (webhook or telephony provider); 0 if none came.")
    http_response = fields.Text(
        string="Answer excerpt", readonly=True,
        help="The first 1,000 characters of the receiver's last answer.")

    def _fail_permanently(self, error):
        """Fail this job without retry (see ``_mark_error``)."""
        outcomes = self._outcomes()
        if outcomes is not None:
            outcomes[self.id] = ("error", None, None, None)
        secrets = known_secrets(self.env)
        message = redact(str(error), secrets)
        _logger.warning("SalesJet job %s (step %s) failed without retry: %s", self.id, self.step_id.id, message)
        now = fields.Datetime.now()
        self.write({"state": "failed", "error": redact(traceback.format_exc(limit=5), secrets), "date_done": now,
                    "result": _("Failed without retry: %s", message)})
        self.enrollment_id._finish("failed", now)
        return None

    def _postpone(self, reason, minutes):
        """Put these jobs back in the queue ``minutes`` from now without counting this run as an attempt.

        For jobs a step did not even try (its batch stopped sending early).
        """
        if not self:
            return
        outcomes = self._outcomes()
        when = fields.Datetime.now() + relativedelta(minutes=minutes)
        if outcomes is not None:
            for job_id in self.ids:
                outcomes[job_id] = ("error", None, None, None)
        self.env.flush_all()
        # inside a batch, the engine adds this run to ``attempts`` when it ends
        self.env.cr.execute(SQL(
            """
            UPDATE salesjet_flow_job
               SET state = 'pending', scheduled_date = %s, result = %s, attempts = attempts - %s
             WHERE id = ANY(%s)
            """,
            when, reason, 1 if outcomes is not None else 0, self.ids,
        ))
        self.invalidate_recordset(["state", "scheduled_date", "result", "attempts"])
        self._trigger_scheduler(when)

    def _write_http_answers(self, answers):
        """Store ``{job id: (status, excerpt)}`` with one statement."""
        if not answers:
            return
        ids = list(answers)
        self.env.flush_all()
        # a receiver may echo the request, headers included
        secrets = known_secrets(self.env) if any(excerpt for _status, excerpt in answers.values()) else []
        answers = {job_id: (status, redact(excerpt, secrets)) for job_id, (status, excerpt) in answers.items()}
        self._update_by_ids(ids, SQL("http_status = v.status, http_response = v.excerpt"), values=[
            ("status", "int", [answers[i][0] for i in ids]), ("excerpt", "text", [answers[i][1] or None for i in ids])])
        self.browse(ids).invalidate_recordset(["http_status", "http_response"])

    # ---- Goal ----
    # ---- A/B splits ----
    branch_id = fields.Many2one(
        "salesjet.flow.branch", string="Branch", ondelete="set null", readonly=True, index="btree_not_null",
        help="For a split step's job: the branch the run was sent down.")
    split_held = fields.Boolean(
        string="Held back", readonly=True,
        help="For a split step's job: the contact was not in the A/B test's share; it waited at the split until "
             "the winner was known, then went down the winner's branch.")

    def _split_hold(self, until):
        """Hold these split jobs back until ``until``: they stay pending at the split, with the reason as their
        result, and leave the batch without counting as an attempt (``salesjet.flow.step.split``)."""
        if not self:
            return
        self.env.cr.execute(SQL(
            """
            UPDATE salesjet_flow_job
               SET split_held = TRUE, scheduled_date = %(until)s, result = %(why)s
             WHERE id = ANY(%(ids)s)
            """,
            until=until, ids=self.ids,
            why=_("Held back: waits at the split until the A/B test has a winner, then goes down its branch."),
        ))
        self.invalidate_recordset(["split_held", "scheduled_date", "result"])
        outcomes = self._outcomes()
        if outcomes is not None:
            for job_id in self.ids:
                outcomes[job_id] = ("waiting", None, None, None)
        self._trigger_scheduler(until)

    # ---- Frequency caps ----
    def _apply_frequency_caps(self, now):  # noqa: C901 - the caps are applied in one ordered pass; splitting it is out of issue 22's scope
        """Apply the frequency caps to these due jobs, in order.

        :return: (jobs postponed, written here; {job id: reason} of the jobs to skip)
        """
        capped_steps = self.step_id.filtered(lambda s: s.action_type in CAPPED_TYPES and not s.transactional)
        if not capped_steps:
            return self.browse(), {}  # the common case of a batch without messages: nothing to count
        limits_cache, candidates = {}, []
        for job in self.filtered(lambda j: j.step_id in capped_steps).sorted(lambda j: (j.scheduled_date, j.id)):
            step = job.step_id
            channel = step._cap_channel()
            if not channel:
                continue
            key = (job.flow_id.id, job.company_id.id)
            if key not in limits_cache:
                limits_cache[key] = job.flow_id._cap_limits(job.company_id)
            day, week = limits_cache[key].get(channel, (0, 0))
            if day or week:
                candidates.append((job, channel, day, week))
        if not candidates:
            return self.browse(), {}
        self.env.flush_all()
        self.env.cr.execute(SQL(
            """
            SELECT j.partner_id,
                   CASE WHEN s.action_type = 'chain_message' THEN m.channel ELSE s.action_type END,
                   array_agg(j.date_done ORDER BY j.date_done)
              FROM salesjet_flow_job j
              JOIN salesjet_flow_step s ON s.id = j.step_id
              LEFT JOIN salesjet_chain_message m ON m.id = s.chain_message_id
             WHERE j.partner_id = ANY(%(partners)s::int[]) AND %(done)s AND j.date_done > %(since)s
               AND s.action_type = ANY(%(types)s) AND s.transactional IS NOT TRUE
             GROUP BY 1, 2
            """,
            partners=array_literal({c[0].partner_id.id for c in candidates}), since=now - WEEK, types=CAPPED_TYPES,
            done=state_in(SQL("j.state"), "done"),
        ))
        history = {}
        for partner_id, channel, dates in self.env.cr.fetchall():
            if CAP_CHANNELS.get(channel):
                history.setdefault((partner_id, CAP_CHANNELS[channel]), []).extend(dates)
        for dates in history.values():
            dates.sort()
        mode = {}
        postpone_ids, postpone_dates, postpone_reasons, skipped = [], [], [], {}
        labels = {"email": _("emails"), "sms": _("SMS"), "call": _("calls")}
        for job, channel, day, week in candidates:
            sent = history.setdefault((job.partner_id.id, channel), [])
            last_day = [moment for moment in sent if moment > now - DAY]
            blocked_until, cap_text = None, None
            if day and len(last_day) >= day:
                blocked_until = last_day[len(last_day) - day] + DAY
                cap_text = _("%(count)s %(channel)s a day", count=day, channel=labels[channel])
            if week and len(sent) >= week:
                until = sent[len(sent) - week] + WEEK
                if not blocked_until or until > blocked_until:
                    blocked_until = until
                    cap_text = _("%(count)s %(channel)s a week", count=week, channel=labels[channel])
            if not blocked_until:
                sent.append(now)  # counts for the next jobs of this batch
                continue
            company = job.company_id
            mode.setdefault(company.id, company.salesjet_cap_mode or "postpone")
            if mode[company.id] == "skip":
                skipped[job.id] = _("Frequency cap reached (%s for this contact): step skipped.", cap_text)
            else:
                postpone_ids.append(job.id)
                postpone_dates.append(blocked_until)
                postpone_reasons.append(_(
                    "Frequency cap reached (%(cap)s for this contact): postponed to %(date)s UTC.",
                    cap=cap_text, date=fields.Datetime.to_string(blocked_until)[:16]))
        if postpone_ids:
            self._update_by_ids(postpone_ids, SQL("scheduled_date = v.d, result = v.r"), values=[
                ("d", "timestamp", postpone_dates), ("r", "text", postpone_reasons)])
            self.browse(postpone_ids).invalidate_recordset(["scheduled_date", "result"])
            self._trigger_scheduler(min(postpone_dates))
        return self.browse(postpone_ids), skipped

    # ---- Versions and safe edits ----
    @api.model
    def _due_filter(self):
        """Leave the jobs of paused and archived flows waiting. The list of held flows is read first
        (a tiny table), so without one the scheduler's query is exactly what it was."""
        self.env["salesjet.flow"].flush_model(["paused", "active"])
        self.env.cr.execute(SQL("SELECT id FROM salesjet_flow WHERE paused OR NOT active"))
        paused = [row[0] for row in self.env.cr.fetchall()]
        if not paused:
            return SQL("TRUE")
        return SQL("flow_id <> ALL(%s)", paused)
