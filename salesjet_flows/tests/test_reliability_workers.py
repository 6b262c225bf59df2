"""Several scheduler workers on the same committed queue, each with its own connection.

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


def bulk_partners(env, count, prefix):
    """``count`` contacts in one statement, copied from one contact made by the ORM (other
    installed modules add required columns to res_partner)."""
    proto = env["res.partner"].create({"name": f"{prefix} prototype"})
    env.flush_all()
    env.cr.execute("SELECT column_name FROM information_schema.columns "
                   "WHERE table_name = 'res_partner' AND column_name <> 'id' ORDER BY ordinal_position")
    columns = [row[0] for row in env.cr.fetchall()]
    overrides = {"name": SQL("%s || i", f"{prefix} "), "complete_name": SQL("%s || i", f"{prefix} ")}
    env.cr.execute(SQL(
        "INSERT INTO res_partner (%s) SELECT %s FROM res_partner, generate_series(1, %s) AS i "
        "WHERE res_partner.id = %s RETURNING id",
        SQL(", ").join(SQL.identifier(c) for c in columns),
        SQL(", ").join(overrides.get(c, SQL.identifier("res_partner", c)) for c in columns),
        count, proto.id,
    ))
    return [proto.id] + [row[0] for row in env.cr.fetchall()][: count - 1]


class TestFourWorkers(BaseCase):
    """Four workers (threads, each its own cursor and transaction) drain 20,000 due jobs."""

    JOBS = 20000
    WORKERS = 4
    TIMEOUT = 600

    def setUp(self):
        super().setUp()
        self.registry = Registry(get_db_name())
        self.name = f"SJ workers {uuid.uuid4().hex[:8]}"
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            Tag = env["res.partner.category"]
            self.tag_id = Tag.create({"name": self.name}).id
            self.tag_next_id = Tag.create({"name": f"{self.name} next"}).id
            flow = env["salesjet.flow"].create({"name": self.name, "reentry_policy": "always"})
            env["salesjet.flow.step"].create([
                {"flow_id": flow.id, "sequence": 1, "action_type": "add_tag", "tag_ids": [(6, 0, [self.tag_id])]},
                {"flow_id": flow.id, "sequence": 2, "action_type": "add_tag",
                 "tag_ids": [(6, 0, [self.tag_next_id])], "timing": "delay", "delay_value": 1,
                 "delay_unit": "days"},
            ])
            self.partner_ids = bulk_partners(env, self.JOBS, self.name)
            flow._enroll(self.partner_ids)
            self.flow_id, self.first_step_id = flow.id, flow.step_ids.sorted("sequence")[0].id
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["salesjet.flow"].browse(self.flow_id).unlink()
            cr.execute("DELETE FROM res_partner WHERE id = ANY(%s)", (self.partner_ids,))
            env["res.partner.category"].browse([self.tag_id, self.tag_next_id]).unlink()

    def test_four_workers_run_twenty_thousand_jobs_exactly_once_without_deadlock(self):
        barrier = threading.Barrier(self.WORKERS)
        errors, counts = [], []

        def worker():
            try:
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    barrier.wait(timeout=60)
                    done = 0
                    while True:
                        count = env["salesjet.flow.job"]._process_due_batch(limit=500)
                        cr.commit()
                        if not count:
                            break
                        done += count
                    counts.append(done)
            except Exception as e:  # noqa: BLE001 - reported by the assertion below
                _logger.exception("worker failed")
                errors.append(e)

        threads = [threading.Thread(target=worker, name=f"sj-worker-{i}") for i in range(self.WORKERS)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=self.TIMEOUT)
        elapsed = time.monotonic() - start
        self.assertFalse([t.name for t in threads if t.is_alive()], "a worker is stuck (deadlock or lock wait)")
        self.assertFalse(errors, errors)
        self.assertEqual(len(counts), self.WORKERS)
        self.assertGreaterEqual(sum(counts), self.JOBS, f"jobs per worker: {counts}")
        _logger.info("4 workers ran %s jobs in %.1f s (%s per worker)", sum(counts), elapsed, counts)
        print(f"\n4 workers: {sum(counts)} jobs in {elapsed:.1f} s, per worker {counts}")

        with self.registry.cursor() as cr:
            cr.execute("""
                SELECT step_id = %s, state, attempts, count(*) FROM salesjet_flow_job
                 WHERE flow_id = %s GROUP BY 1, 2, 3
            """, (self.first_step_id, self.flow_id))
            rows = {(first, state, attempts): count for first, state, attempts, count in cr.fetchall()}
            self.assertEqual(rows, {(True, "done", 1): self.JOBS, (False, "pending", 0): self.JOBS},
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


class TestConcurrentEvents(BaseCase):
    """Two events of one contact arriving at the same moment, in two transactions."""

    def setUp(self):
        super().setUp()
        self.registry = Registry(get_db_name())
        self.code = f"sj_race_{uuid.uuid4().hex[:8]}"
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            self.tag_id = env["res.partner.category"].create({"name": self.code}).id
            flow = env["salesjet.flow"].create({"name": self.code, "reentry_policy": "once"})
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

            def post():
                try:
                    with self.registry.cursor() as cr:
                        env = api.Environment(cr, SUPERUSER_ID, {})
                        partner = env["res.partner"].browse(self.partner_id)
                        partner.fetch(["company_id"])
                        barrier.wait(timeout=30)
                        env["salesjet.event"].post(self.code, partner, data={"n": 1})
                        cr.commit()
                except Exception as e:  # noqa: BLE001
                    errors.append(e)

            threads = [threading.Thread(target=post) for _i in range(2)]
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
