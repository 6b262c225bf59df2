"""Per-step counters of jobs, kept set-wise by PostgreSQL statement triggers.

A flow of millions of jobs cannot count its job table on every read of its form, diagram or statistics, and
the retention cron deletes old jobs: the counts live here instead, one row per step, UTC day and *slot*.

How they stay exact:

- **Every write path.** Jobs change state through the batch outcome writer, ``_create_pending``, ORM writes
  (retry, cancel, errors), raw SQL cancellations (stop wizard, safe edits, bridges) and cascades. Rather than
  repeat the bookkeeping in each of them, ``AFTER … FOR EACH STATEMENT`` triggers with transition tables read
  the rows a statement inserted, updated or deleted and apply their deltas with **one** ``INSERT … ON CONFLICT
  DO UPDATE`` per statement: one per batch for the outcome writer, one per ``_create_pending``, whatever the
  number of jobs, and in the same round trip as the statement (an event's hot path keeps its query count).
  A statement that inserted one job (an event's) upserts that job's own values (``_one_job_upsert``).
- **Concurrent workers.** Under Odoo's REPEATABLE READ isolation, two transactions upserting the same counter
  row would fail with a serialization error. Each backend therefore writes its own ``slot``
  (``pg_backend_pid()``): two live transactions never share a backend, so they never update the same row;
  readers sum the slots. The retention cron folds the slots of days older than yesterday into slot 0.
- **Live states.** ``pending`` and ``running`` are deltas (+1 when a job enters the state, -1 when it leaves
  it, deleted jobs included) on the day of the change: their sum is the number of jobs in that state now.
- **History.** ``done``, ``skipped``, ``failed`` and ``cancelled`` count the jobs in that state on the day they
  ended (``date_done``, UTC); a job that leaves such a state (a retried failure) is taken off the day it was
  counted on. ``entered`` counts the first job of a run at a step (``repeat_index`` 0): the runs that reached
  it. Deleting a job that ended (retention, a deleted contact) leaves these counts alone: they are history.
- ``converted`` counts, per step, the runs with a done job at the step when the run converts (a trigger on
  the runs). Deleting a step or a flow deletes its counters with it.

**The job's step key.** A job has no foreign key to its step (``CountedStep``): the counter rows stand for it.
Every statement that inserts jobs writes a counter row of each of their steps, whose own key fails for a
missing step and holds the step against a concurrent deletion, once a step a statement where the job's key
was checked once a job. The steps' delete trigger deletes their jobs.
"""
from odoo import api, fields, models
from odoo.tools import SQL

ENDED_STATES = ("done", "skipped", "cancelled", "failed")
LIVE_STATES = ("pending", "running")
COUNTED_STATES = LIVE_STATES + ENDED_STATES

# the day a delta is booked on: an ended state on the day its job ended, a live state on the day of the change
# (today, UTC: rows of past days are then written only by rare corrections, see _fold_slots), a run reaching
# a step on the day its job was created
_TODAY = "(now() AT TIME ZONE 'UTC')::date"
# what an upsert of deltas adds to a counter row it meets
_COUNTER_UPDATES = ", ".join(f"{s} = c.{s} + EXCLUDED.{s}" for s in ("entered", *COUNTED_STATES))


def _booked_on(job, today=_TODAY):
    """SQL: the day the state of ``job`` (an alias or a record variable) is booked on."""
    ended = ", ".join(f"'{s}'" for s in ENDED_STATES)
    return f"CASE WHEN {job}.state IN ({ended}) THEN COALESCE({job}.date_done::date, {today}) ELSE {today} END"


def _reached_on(job, today=_TODAY):
    """SQL: the day the run of ``job`` reached its step (counted for its first job there)."""
    return f"COALESCE({job}.create_date::date, {today})"


def _delta_select(alias, sign, states=COUNTED_STATES, entered=True):
    """SELECT of the deltas of the job rows of transition table ``alias`` with ``sign`` (+1 / -1): one row per job
    for its state, and one for the run that reached the step (its first job there, ``repeat_index`` 0)."""
    in_states = ", ".join(f"'{s}'" for s in states)
    sql = f"""
        SELECT {alias}.step_id, {alias}.flow_id, {alias}.company_id,
               {_booked_on(alias)} AS day,
               {alias}.state, {sign} AS n, 0 AS entered
          FROM {alias} WHERE {alias}.state IN ({in_states})"""
    if entered:
        sql += f"""
        UNION ALL
        SELECT {alias}.step_id, {alias}.flow_id, {alias}.company_id,
               {_reached_on(alias)}, 'entered', 0, {sign}
          FROM {alias} WHERE {alias}.repeat_index = 0"""
    return sql


def _upsert(deltas, reasons=None, skipped_in=None, steps_exist=False):
    """The statements that apply ``deltas`` (a SELECT of step_id, flow_id, company_id, day, state, n, entered)
    to the counters, and the skipped jobs' reasons (a SELECT of step_id, flow_id, company_id, reason, n), those
    only when one of the transition tables ``skipped_in`` holds a skipped job (most statements hold none: an
    event's jobs, a batch without skips; the check costs less than the statement it spares). ``steps_exist``:
    an insert, whose counter rows must not leave a step out: a job has no step key of its own (CountedStep), and
    a missing step fails the counter row's key instead."""
    sums = ",\n".join(f"COALESCE(sum(d.n) FILTER (WHERE d.state = '{s}'), 0)" for s in COUNTED_STATES)
    sql = f"""
        INSERT INTO salesjet_flow_step_stat AS c
               (step_id, flow_id, company_id, day, slot, entered, {", ".join(COUNTED_STATES)}, converted)
        SELECT d.step_id, min(d.flow_id), min(d.company_id), d.day, pg_backend_pid(), sum(d.entered),
               {sums}, 0
          FROM ({deltas}) AS d
         {"" if steps_exist else "WHERE EXISTS (SELECT 1 FROM salesjet_flow_step s WHERE s.id = d.step_id)"}
         GROUP BY d.step_id, d.day
        HAVING sum(d.entered) <> 0 OR {" OR ".join(f"COALESCE(sum(d.n) FILTER (WHERE d.state = '{s}'), 0) <> 0"
                                                  for s in COUNTED_STATES)}
         ORDER BY d.step_id, d.day
        ON CONFLICT (step_id, day, slot) DO UPDATE SET {_COUNTER_UPDATES};
    """
    if reasons:
        skipped = " OR ".join(f"EXISTS (SELECT 1 FROM {table} WHERE {table}.state = 'skipped')"
                              for table in skipped_in)
        sql += f"""
        IF {skipped} THEN
        INSERT INTO salesjet_flow_step_skip_reason AS c (step_id, flow_id, company_id, reason_key, slot, reason, count)
        SELECT r.step_id, min(r.flow_id), min(r.company_id), md5(r.reason), pg_backend_pid(), min(r.reason),
               sum(r.n)
          FROM ({reasons}) AS r
         WHERE EXISTS (SELECT 1 FROM salesjet_flow_step s WHERE s.id = r.step_id)
         GROUP BY r.step_id, md5(r.reason)
         ORDER BY r.step_id, md5(r.reason)
        ON CONFLICT (step_id, reason_key, slot) DO UPDATE SET count = c.count + EXCLUDED.count;
        END IF;
    """
    return sql


def _reason_select(alias, sign):
    return f"""
        SELECT {alias}.step_id, {alias}.flow_id, {alias}.company_id, COALESCE({alias}.result, '') AS reason,
               {sign} AS n
          FROM {alias} WHERE {alias}.state = 'skipped'"""


def _one_job_upsert():
    """The insert trigger's way for a statement that inserted one job (an event's first job, most often): its
    deltas go into one ``INSERT … VALUES … ON CONFLICT`` of the job's own values, read once from the
    transition table, not through ``_upsert``'s grouped query. That query's union, grouping and seven
    filtered sums were about a third of the trigger's cost for such a statement (a one-job insert committed
    one at a time, in pgbench: 0.34 ms with it, 0.30 ms this way, 0.20 ms with no trigger).

    It writes what ``_upsert`` would, and only where both are plainly the same: one counted job, not skipped
    (skip reasons go through ``_upsert``), whose run reached the step (``repeat_index`` 0) on the day its
    state is booked on. Any other statement falls through to ``_upsert``. A block of its own: the caller's
    body follows it."""
    counted = ", ".join(f"'{s}'" for s in COUNTED_STATES)
    ones = ", ".join(f"CASE WHEN one_job.state = '{s}' THEN 1 ELSE 0 END" for s in COUNTED_STATES)
    return f"""
        DECLARE
            one_job record;
            job_count int := 0;
            today_utc date;
            booked_on date;
        BEGIN
            FOR one_job IN SELECT * FROM new_rows LIMIT 2 LOOP
                job_count := job_count + 1;
            END LOOP;
            IF job_count = 1 AND one_job.state IN ({counted}) AND one_job.state <> 'skipped' THEN
                today_utc := {_TODAY};
                booked_on := {_booked_on("one_job", "today_utc")};
                IF one_job.repeat_index IS DISTINCT FROM 0 OR {_reached_on("one_job", "today_utc")} = booked_on THEN
                    INSERT INTO salesjet_flow_step_stat AS c
                           (step_id, flow_id, company_id, day, slot, entered, {", ".join(COUNTED_STATES)}, converted)
                    VALUES (one_job.step_id, one_job.flow_id, one_job.company_id, booked_on, pg_backend_pid(),
                            CASE WHEN one_job.repeat_index = 0 THEN 1 ELSE 0 END, {ones}, 0)
                    ON CONFLICT (step_id, day, slot) DO UPDATE SET {_COUNTER_UPDATES};
                    RETURN NULL;
                END IF;
            END IF;
        END;
    """


def _trigger_functions():
    """{function name: body} of the triggers on the jobs and runs."""
    changed = """
        SELECT o.* FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE n.state IS DISTINCT FROM o.state OR n.step_id IS DISTINCT FROM o.step_id
            OR n.date_done IS DISTINCT FROM o.date_done OR n.repeat_index IS DISTINCT FROM o.repeat_index
            OR (n.state = 'skipped' AND n.result IS DISTINCT FROM o.result)"""
    changed_new = changed.replace("SELECT o.*", "SELECT n.*")
    return {
        "salesjet_flow_job_count_insert": _one_job_upsert() + _upsert(
            _delta_select("new_rows", 1), _reason_select("new_rows", 1), skipped_in=["new_rows"], steps_exist=True),
        "salesjet_flow_job_count_update": _upsert(
            f"{_delta_select('o', -1)} UNION ALL {_delta_select('n', 1)}",
            f"{_reason_select('o', -1)} UNION ALL {_reason_select('n', 1)}",
            skipped_in=["old_rows", "new_rows"],
        ).replace("FROM o WHERE", f"FROM ({changed}) AS o WHERE").replace(
            "FROM n WHERE", f"FROM ({changed_new}) AS n WHERE"),
        # ended jobs stay counted (history, retention): only the live states lose the deleted jobs
        "salesjet_flow_job_count_delete": _upsert(_delta_select("old_rows", -1, LIVE_STATES, entered=False)),
        "salesjet_flow_enrollment_count_converted": """
        INSERT INTO salesjet_flow_step_stat AS c
               (step_id, flow_id, company_id, day, slot, entered, pending, running, done, skipped, cancelled,
                failed, converted)
        SELECT d.step_id, min(d.flow_id), min(d.company_id), %(today)s, pg_backend_pid(), 0, 0, 0, 0, 0, 0, 0,
               sum(d.n)
          FROM (SELECT DISTINCT j.step_id, j.flow_id, j.company_id, n.id,
                       CASE WHEN n.converted THEN 1 ELSE -1 END AS n
                  FROM new_rows n JOIN old_rows o ON o.id = n.id
                  JOIN salesjet_flow_job j ON j.enrollment_id = n.id AND j.state = 'done'
                 WHERE COALESCE(n.converted, FALSE) <> COALESCE(o.converted, FALSE)) AS d
         GROUP BY d.step_id
         ORDER BY d.step_id
        ON CONFLICT (step_id, day, slot) DO UPDATE SET converted = c.converted + EXCLUDED.converted;
        """.replace("%(today)s", _TODAY),
        # a deleted step's jobs (CountedStep); its counters go with it by their own key
        "salesjet_flow_step_delete_jobs": """
        DELETE FROM salesjet_flow_job j USING old_rows o WHERE j.step_id = o.id;
        """,
        # a deleted flow's runs (HeldRunKey), and their jobs by the jobs' key to their run
        "salesjet_flow_delete_runs": """
        DELETE FROM salesjet_flow_enrollment r USING old_rows o WHERE r.flow_id = o.id;
        """,
        # a deleted trigger's runs forget it (RunTrigger)
        "salesjet_flow_trigger_forget_runs": """
        UPDATE salesjet_flow_enrollment r SET trigger_id = NULL FROM old_rows o WHERE r.trigger_id = o.id;
        """,
    }


TRIGGERS = [
    # (trigger, table, event, transition tables, function)
    ("salesjet_flow_job_count_insert", "salesjet_flow_job", "INSERT", "NEW TABLE AS new_rows",
     "salesjet_flow_job_count_insert"),
    ("salesjet_flow_job_count_update", "salesjet_flow_job", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows",
     "salesjet_flow_job_count_update"),
    ("salesjet_flow_job_count_delete", "salesjet_flow_job", "DELETE", "OLD TABLE AS old_rows",
     "salesjet_flow_job_count_delete"),
    ("salesjet_flow_enrollment_count_converted", "salesjet_flow_enrollment", "UPDATE",
     "OLD TABLE AS old_rows NEW TABLE AS new_rows", "salesjet_flow_enrollment_count_converted"),
    # what the job's step key did (CountedStep, models/salesjet_flow_job.py): a deleted step's jobs go with it
    ("salesjet_flow_step_delete_jobs", "salesjet_flow_step", "DELETE", "OLD TABLE AS old_rows",
     "salesjet_flow_step_delete_jobs"),
    # what the run's flow key did (HeldRunKey, models/salesjet_flow_enrollment.py): a deleted flow's runs go
    ("salesjet_flow_delete_runs", "salesjet_flow", "DELETE", "OLD TABLE AS old_rows", "salesjet_flow_delete_runs"),
    # what the run's trigger key did (RunTrigger): a deleted trigger's runs keep no trigger
    ("salesjet_flow_trigger_forget_runs", "salesjet_flow_trigger", "DELETE", "OLD TABLE AS old_rows",
     "salesjet_flow_trigger_forget_runs"),
]

# Row triggers: (trigger, table, event and condition, function). A job moved to another step (a step removed
# with its contacts going on, a split rebuilt) must move to a step that exists, and holds it as a key would
# (FOR KEY SHARE) until it commits. Fires only for statements that set the step, on the rows it changes.
ROW_TRIGGERS = [
    ("salesjet_flow_job_step_moved", "salesjet_flow_job",
     "UPDATE OF step_id", "NEW.step_id IS DISTINCT FROM OLD.step_id", "salesjet_flow_job_step_moved"),
]
ROW_FUNCTIONS = {
    "salesjet_flow_job_step_moved": """
        PERFORM 1 FROM salesjet_flow_step s WHERE s.id = NEW.step_id FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', TABLE = 'salesjet_flow_job',
                      MESSAGE = 'Flow job ' || NEW.id || ' is moved to step ' || NEW.step_id
                                || ', which does not exist.',
                      CONSTRAINT = 'salesjet_flow_job_step_moved';
        END IF;
    """,
}


class SalesjetFlowStepStat(models.Model):
    _name = "salesjet.flow.step.stat"
    _description = "Flow step counters"
    _order = "day desc, step_id"
    _log_access = False

    step_id = fields.Many2one("salesjet.flow.step", string="Step", required=True, ondelete="cascade", index=True)
    flow_id = fields.Many2one("salesjet.flow", string="Flow", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one("res.company", string="Company", required=True, ondelete="cascade")
    day = fields.Date(required=True, help="The UTC day the counted changes happened on.")
    slot = fields.Integer(
        required=True, default=0,
        help="The database connection that wrote the row (0: folded by the retention cron); readers sum them.")
    entered = fields.Integer(string="Runs reached", help="Runs that reached the step (their first job there).")
    pending = fields.Integer(string="Waiting", help="Change of the number of waiting jobs that day.")
    running = fields.Integer()
    done = fields.Integer()
    skipped = fields.Integer()
    failed = fields.Integer()
    cancelled = fields.Integer()
    converted = fields.Integer(help="Runs that had done the step when they converted.")

    _sql_constraints = [
        ("step_day_slot_unique", "UNIQUE(step_id, day, slot)", "One counter row per step, day and slot."),
    ]

    def init(self):
        # after every table of the module exists (the triggers sit on the jobs and the runs)
        self.pool.post_init(self._create_triggers)

    def _create_triggers(self):
        cr = self.env.cr
        cr.execute("SELECT 1 FROM pg_trigger WHERE tgname = 'salesjet_flow_job_count_insert'")
        first = not cr.fetchone()
        # AFTER triggers: their result is ignored
        for name, body in {**_trigger_functions(), **ROW_FUNCTIONS}.items():
            cr.execute(SQL(f"""
                CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$
                BEGIN
                    {body}
                    RETURN NULL;
                END
                $body$
            """))
        for name, table, event, transition, function in TRIGGERS:
            cr.execute(SQL(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
            cr.execute(SQL(f"""
                CREATE TRIGGER {name} AFTER {event} ON {table}
                REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {function}()
            """))
        for name, table, event, condition, function in ROW_TRIGGERS:
            cr.execute(SQL(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
            cr.execute(SQL(f"""
                CREATE TRIGGER {name} AFTER {event} ON {table}
                FOR EACH ROW WHEN ({condition}) EXECUTE FUNCTION {function}()
            """))
        if first:
            self._backfill()

    @api.model
    def _backfill(self):
        """Count the jobs that existed before the counters (an upgrade): once, when the triggers are created."""
        cr = self.env.cr
        cr.execute("SELECT 1 FROM salesjet_flow_job LIMIT 1")
        if not cr.fetchone():
            return
        cr.execute(SQL(f"""
            INSERT INTO salesjet_flow_step_stat
                   (step_id, flow_id, company_id, day, slot, entered, {", ".join(COUNTED_STATES)}, converted)
            SELECT step_id, min(flow_id), min(company_id), day, 0, sum(entered),
                   {", ".join(f"COALESCE(sum(n) FILTER (WHERE state = '{s}'), 0)" for s in COUNTED_STATES)}, 0
              FROM ({_delta_select("salesjet_flow_job", 1)}) AS d
             GROUP BY step_id, day
            ON CONFLICT (step_id, day, slot) DO NOTHING
        """))
        cr.execute(SQL(f"""
            INSERT INTO salesjet_flow_step_skip_reason (step_id, flow_id, company_id, reason_key, slot, reason, count)
            SELECT step_id, min(flow_id), min(company_id), md5(reason), 0, min(reason), sum(n)
              FROM ({_reason_select("salesjet_flow_job", 1)}) AS r
             GROUP BY step_id, md5(reason)
            ON CONFLICT (step_id, reason_key, slot) DO NOTHING
        """))
        cr.execute(SQL(f"""
            INSERT INTO salesjet_flow_step_stat AS c
                   (step_id, flow_id, company_id, day, slot, entered, {", ".join(COUNTED_STATES)}, converted)
            SELECT j.step_id, min(j.flow_id), min(j.company_id), {_TODAY}, 0, 0, 0, 0, 0, 0, 0, 0,
                   count(DISTINCT j.enrollment_id)
              FROM salesjet_flow_job j JOIN salesjet_flow_enrollment e ON e.id = j.enrollment_id
             WHERE j.state = 'done' AND e.converted
             GROUP BY j.step_id
            ON CONFLICT (step_id, day, slot) DO UPDATE SET converted = c.converted + EXCLUDED.converted
        """))

    # ------------------------------------------------------------------
    # Readers
    # ------------------------------------------------------------------

    @api.model
    def _flush_jobs(self):
        # the triggers see only what reached the database
        self.env["salesjet.flow.job"].flush_model()
        self.env["salesjet.flow.enrollment"].flush_model(["converted", "state"])

    @api.model
    def _totals(self, step_ids=None, flow_ids=None, by="step_id"):
        """{step id: {"entered", "pending", ..., "converted": count}} of the given steps (or of the steps of the
        given flows), summed over days and slots: one query on the counters, whatever the number of jobs.
        With ``by="flow_id"``, the same per flow."""
        step_ids = [s for s in step_ids or [] if isinstance(s, int)]
        flow_ids = [f for f in flow_ids or [] if isinstance(f, int)]
        if not step_ids and not flow_ids:
            return {}
        self._flush_jobs()
        columns = ("entered", *COUNTED_STATES, "converted")
        where = SQL("step_id = ANY(%s)", step_ids) if step_ids else SQL("flow_id = ANY(%s)", flow_ids)
        self.env.cr.execute(SQL(
            "SELECT %s, %s FROM salesjet_flow_step_stat WHERE %s GROUP BY 1",
            SQL.identifier(by), SQL(", ").join(SQL("sum(%s)::int", SQL.identifier(c)) for c in columns), where,
        ))
        return {row[0]: dict(zip(columns, row[1:], strict=True)) for row in self.env.cr.fetchall()}

    @api.model
    def _state_counts(self, step_ids=None, flow_ids=None):
        """{step id: {job state: count}}, the shape of a ``_read_group`` by state (states with jobs only)."""
        return {
            step_id: {state: totals[state] for state in COUNTED_STATES if totals[state]}
            for step_id, totals in self._totals(step_ids, flow_ids).items()
        }

    @api.model
    def _daily(self, step_ids, first_day, last_day):
        """{step id: {day: {"entered", "done", "skipped", "failed", "cancelled"}}} between two days (included)."""
        if not step_ids:
            return {}
        self._flush_jobs()
        columns = ("entered", "done", "skipped", "failed", "cancelled")
        self.env.cr.execute(SQL(
            """
            SELECT step_id, day, %s FROM salesjet_flow_step_stat
             WHERE step_id = ANY(%s) AND day BETWEEN %s AND %s
             GROUP BY step_id, day
            """,
            SQL(", ").join(SQL("sum(%s)::int", SQL.identifier(c)) for c in columns), step_ids, first_day, last_day,
        ))
        result = {}
        for step_id, day, *counts in self.env.cr.fetchall():
            result.setdefault(step_id, {})[day] = dict(zip(columns, counts, strict=True))
        return result

    @api.model
    def _skip_reasons(self, step_ids):
        """{step id: [(reason, count)]} most frequent first."""
        if not step_ids:
            return {}
        self._flush_jobs()
        self.env.cr.execute(SQL(
            """
            SELECT step_id, min(reason), sum(count)::int FROM salesjet_flow_step_skip_reason
             WHERE step_id = ANY(%s) GROUP BY step_id, reason_key HAVING sum(count) <> 0
             ORDER BY step_id, sum(count) DESC, min(reason)
            """, step_ids))
        reasons = {}
        for step_id, reason, count in self.env.cr.fetchall():
            reasons.setdefault(step_id, []).append((reason, count))
        return reasons

    # ------------------------------------------------------------------
    # Folding slots
    # ------------------------------------------------------------------

    @api.model
    def _fold_slots(self, limit):
        """Fold at most ``limit`` counter rows of days before yesterday into slot 0 (rows of past days are no
        longer written by the engine, so no worker holds them); returns how many rows it folded."""
        self.env.cr.execute(SQL(
            f"""
            WITH gone AS (
                DELETE FROM salesjet_flow_step_stat WHERE id IN (
                    SELECT id FROM salesjet_flow_step_stat
                     WHERE slot <> 0 AND day < {_TODAY} - 1
                     ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
                RETURNING *
            ), folded AS (
                INSERT INTO salesjet_flow_step_stat AS c
                       (step_id, flow_id, company_id, day, slot, entered, {", ".join(COUNTED_STATES)}, converted)
                SELECT step_id, min(flow_id), min(company_id), day, 0, sum(entered),
                       {", ".join(f"sum({s})" for s in COUNTED_STATES)}, sum(converted)
                  FROM gone GROUP BY step_id, day ORDER BY step_id, day
                ON CONFLICT (step_id, day, slot) DO UPDATE SET
                       {", ".join(f"{s} = c.{s} + EXCLUDED.{s}" for s in ("entered", *COUNTED_STATES, "converted"))}
            )
            SELECT count(*) FROM gone
            """,  # noqa: S608 - column names are constants of this module
            limit=limit,
        ))
        return self.env.cr.fetchone()[0]

    @api.model
    def _count_unfolded(self):
        return self.env["salesjet.cron"]._count_capped(SQL(
            f"SELECT 1 FROM salesjet_flow_step_stat WHERE slot <> 0 AND day < {_TODAY} - 1"))  # noqa: S608

