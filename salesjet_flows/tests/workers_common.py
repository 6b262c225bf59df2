"""Scheduler workers on a committed queue: what the worker tests share.

These tests commit (other connections cannot see an uncommitted transaction), so
they create everything under unique names and remove it afterwards.
"""
import logging
import threading
import time
import uuid

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, get_db_name
from odoo.tools import SQL

_logger = logging.getLogger(__name__)


def bulk_partners(env, count, prefix, extra=None):
    """``count`` contacts in one statement, copied from one contact made by the ORM (other
    installed modules add required columns to res_partner). ``extra``: SQL expressions of the
    series number ``i`` for more columns (e.g. a distinct email each)."""
    proto = env["res.partner"].create({"name": f"{prefix} prototype"})
    env.flush_all()
    env.cr.execute("SELECT column_name FROM information_schema.columns "
                   "WHERE table_name = 'res_partner' AND column_name <> 'id' ORDER BY ordinal_position")
    columns = [row[0] for row in env.cr.fetchall()]
    overrides = {"name": SQL("%s || i", f"{prefix} "), "complete_name": SQL("%s || i", f"{prefix} "),
                 **(extra or {})}
    env.cr.execute(SQL(
        "INSERT INTO res_partner (%s) SELECT %s FROM res_partner, generate_series(1, %s) AS i "
        "WHERE res_partner.id = %s RETURNING id",
        SQL(", ").join(SQL.identifier(c) for c in columns),
        SQL(", ").join(overrides.get(c, SQL.identifier("res_partner", c)) for c in columns),
        count, proto.id,
    ))
    return [proto.id] + [row[0] for row in env.cr.fetchall()][: count - 1]


# Runs as the cron does (superuser): committed queues drained by real cron workers; no person acts here.
class CommittedQueueCase(BaseCase):
    """``JOBS`` contacts enrolled and committed in a flow of two tag steps: the first due now, the
    second a day later, so that draining the queue runs each first job and queues one next job."""

    JOBS = 400
    BULK = False  # contacts made in one SQL statement (for thousands) rather than by the ORM

    def setUp(self):
        super().setUp()
        self.registry = Registry(get_db_name())
        self.name = f"SJ workers {uuid.uuid4().hex[:8]}"
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            Tag = env["res.partner.category"]
            self.tag_id = Tag.create({"name": self.name}).id
            self.tag_next_id = Tag.create({"name": f"{self.name} next"}).id
            flow = env["salesjet.flow"].create({"state": "running", "name": self.name, "reentry_policy": "always"})
            env["salesjet.flow.step"].create([
                {"flow_id": flow.id, "sequence": 1, "action_type": "add_tag", "tag_ids": [(6, 0, [self.tag_id])]},
                {"flow_id": flow.id, "sequence": 2, "action_type": "add_tag",
                 "tag_ids": [(6, 0, [self.tag_next_id])], "timing": "delay", "delay_value": 1,
                 "delay_unit": "days"},
            ])
            if self.BULK:
                self.partner_ids = bulk_partners(env, self.JOBS, self.name)
            else:
                self.partner_ids = env["res.partner"].create(
                    [{"name": f"{self.name} {i}"} for i in range(self.JOBS)]).ids
            flow._enroll(self.partner_ids)
            self.flow_id, self.first_step_id = flow.id, flow.step_ids.sorted("sequence")[0].id
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["salesjet.flow"].browse(self.flow_id).unlink()
            cr.execute("DELETE FROM res_partner WHERE id = ANY(%s)", (self.partner_ids,))
            env["res.partner.category"].browse([self.tag_id, self.tag_next_id]).unlink()

    def run_workers(self, workers, limit, timeout, barrier_timeout=60):
        """Start ``workers`` threads together, each with its own cursor, draining due jobs by batches of
        ``limit`` with a commit after each, as the scheduler cron does.

        :return: (threads still alive after ``timeout`` seconds, jobs run per worker, errors, seconds)
        """
        barrier = threading.Barrier(workers)
        errors, counts = [], []

        def worker():
            try:
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    barrier.wait(timeout=barrier_timeout)
                    done = 0
                    while True:
                        count = env["salesjet.flow.job"]._process_due_batch(limit=limit)
                        # a worker commits each batch as the cron does; the test reads the committed queue
                        cr.commit()  # pylint: disable=invalid-commit
                        if not count:
                            break
                        done += count
                    counts.append(done)
            except Exception as e:  # noqa: BLE001 - reported by the caller's assertions
                _logger.exception("worker failed")
                errors.append(e)

        threads = [threading.Thread(target=worker, name=f"sj-worker-{i}") for i in range(workers)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=timeout)
        elapsed = time.monotonic() - start
        return [t.name for t in threads if t.is_alive()], counts, errors, elapsed

    def job_states(self, cr):
        """{(is first step, state, attempts): number of jobs} of the flow."""
        cr.execute("""
            SELECT step_id = %s, state, attempts, count(*) FROM salesjet_flow_job
             WHERE flow_id = %s GROUP BY 1, 2, 3
        """, (self.first_step_id, self.flow_id))
        return {(first, state, attempts): count for first, state, attempts, count in cr.fetchall()}
