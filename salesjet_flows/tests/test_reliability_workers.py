"""Several scheduler workers on the same committed queue, each with its own connection.

These tests commit (other connections cannot see an uncommitted transaction), so
they create everything under unique names and remove it afterwards.
"""
import logging
import threading
import uuid

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, get_db_name

from .workers_common import CommittedQueueCase

_logger = logging.getLogger(__name__)


# Runs as the cron does (superuser): four cron workers on one queue; no person acts here.
class TestFourWorkers(CommittedQueueCase):
    """Four workers (threads, each its own cursor and transaction) drain 20,000 due jobs."""

    JOBS = 20000
    BULK = True
    WORKERS = 4
    TIMEOUT = 600

    def test_four_workers_run_twenty_thousand_jobs_exactly_once_without_deadlock(self):
        stuck, counts, errors, elapsed = self.run_workers(self.WORKERS, limit=500, timeout=self.TIMEOUT)
        self.assertFalse(stuck, "a worker is stuck (deadlock or lock wait)")
        self.assertFalse(errors, errors)
        self.assertEqual(len(counts), self.WORKERS)
        self.assertGreaterEqual(sum(counts), self.JOBS, f"jobs per worker: {counts}")
        _logger.info("4 workers ran %s jobs in %.1f s (%s per worker)", sum(counts), elapsed, counts)

        with self.registry.cursor() as cr:
            self.assertEqual(self.job_states(cr), {(True, "done", 1): self.JOBS, (False, "pending", 0): self.JOBS},
                             "every job ran once, and every run got exactly one next job")
            cr.execute("""
                SELECT count(*), count(DISTINCT partner_id) FROM res_partner_res_partner_category_rel
                 WHERE category_id = %s
            """, (self.tag_id,))
            self.assertEqual(cr.fetchone(), (self.JOBS, self.JOBS), "one tag per contact")
            cr.execute("""
                SELECT count(*) FROM salesjet_flow_job
                 WHERE flow_id = %s GROUP BY enrollment_id, step_id HAVING count(*) > 1
            """, (self.flow_id,))
            self.assertFalse(cr.fetchall(), "no run got a step twice")


# Runs as the cron does (superuser): events dispatched by concurrent transactions; no person acts here.
class TestConcurrentEvents(BaseCase):
    """Two events of one contact arriving at the same moment, in two transactions."""

    def setUp(self):
        super().setUp()
        self.registry = Registry(get_db_name())
        self.code = f"sj_race_{uuid.uuid4().hex[:8]}"
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            self.tag_id = env["res.partner.category"].create({"name": self.code}).id
            flow = env["salesjet.flow"].create({"state": "running", "name": self.code, "reentry_policy": "once"})
            env["salesjet.flow.step"].create({"flow_id": flow.id, "action_type": "add_tag",
                                              "tag_ids": [(6, 0, [self.tag_id])]})
            env["salesjet.flow.trigger"].create({"flow_id": flow.id, "trigger_type": "api",
                                                 "event_code": self.code})
            self.flow_id = flow.id
            self.partner_id = env["res.partner"].create({"name": self.code}).id
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["salesjet.event"].search([("code", "=", self.code)]).unlink()
            env["salesjet.flow"].browse(self.flow_id).unlink()
            env["res.partner"].browse(self.partner_id).unlink()
            env["res.partner.category"].browse(self.tag_id).unlink()

    def test_two_simultaneous_events_of_one_contact_start_one_run_under_once_policy(self):
        for _round in range(3):  # a few rounds: the race must be lost by one side every time
            barrier = threading.Barrier(2)
            errors = []

            def post(barrier, errors):
                try:
                    with self.registry.cursor() as cr:
                        env = api.Environment(cr, SUPERUSER_ID, {})
                        partner = env["res.partner"].browse(self.partner_id)
                        partner.fetch(["company_id"])
                        barrier.wait(timeout=30)
                        env["salesjet.event"].post(self.code, partner, data={"n": 1})
                        # each poster is its own committed transaction: the race is between committed events
                        cr.commit()  # pylint: disable=invalid-commit
                except Exception as e:  # noqa: BLE001
                    errors.append(e)

            threads = [threading.Thread(target=post, args=(barrier, errors)) for _i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            self.assertFalse([t for t in threads if t.is_alive()], "a poster is stuck")
            self.assertFalse(errors, errors)
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM salesjet_event WHERE code = %s", (self.code,))
            self.assertEqual(cr.fetchone()[0], 6, "every event is stored")
            cr.execute("SELECT count(*) FROM salesjet_flow_enrollment WHERE flow_id = %s", (self.flow_id,))
            self.assertEqual(cr.fetchone()[0], 1, "one run for the contact, whatever the race")
            cr.execute("SELECT count(*) FROM salesjet_flow_job WHERE flow_id = %s", (self.flow_id,))
            self.assertEqual(cr.fetchone()[0], 1, "one first job")
