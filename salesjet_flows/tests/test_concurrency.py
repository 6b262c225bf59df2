from odoo import SUPERUSER_ID, api

from .workers_common import CommittedQueueCase


# Runs as the cron does (superuser): concurrent cron workers on a committed queue; no person acts here.
class TestConcurrentWorkers(CommittedQueueCase):
    """Several scheduler workers on real, committed jobs, each with its own connection."""

    JOBS = 400

    def test_two_cursors_take_disjoint_batches(self):
        """While one worker holds a batch, another one skips it instead of waiting or taking it."""
        with self.registry.cursor() as cr_a, self.registry.cursor() as cr_b:
            env_a = api.Environment(cr_a, SUPERUSER_ID, {})
            env_b = api.Environment(cr_b, SUPERUSER_ID, {})
            batch_a = env_a["salesjet.flow.job"]._acquire_due(50)
            batch_b = env_b["salesjet.flow.job"]._acquire_due(50)
            self.assertEqual(len(batch_a), 50)
            self.assertEqual(len(batch_b), 50)
            self.assertFalse(set(batch_a.ids) & set(batch_b.ids))
            cr_a.rollback()
            cr_b.rollback()

    def test_workers_in_parallel_run_each_job_exactly_once(self):
        stuck, counts, errors, _elapsed = self.run_workers(2, limit=20, timeout=120, barrier_timeout=30)
        self.assertFalse(stuck, "a worker is stuck")
        self.assertFalse(errors, errors)
        # other due jobs of the database (the demo's) may be taken too
        self.assertGreaterEqual(sum(counts), self.JOBS, f"jobs per worker: {counts}")
        self.assertTrue(all(counts), f"both workers took jobs: {counts}")

        with self.registry.cursor() as cr:
            rows = self.job_states(cr)
            self.assertEqual(rows, {(True, "done", 1): self.JOBS, (False, "pending", 0): self.JOBS},
                             "every job ran once, and every run got exactly one next job")
            cr.execute("""
                SELECT count(*) FROM res_partner_res_partner_category_rel
                 WHERE category_id = %s AND partner_id = ANY(%s)
            """, (self.tag_id, self.partner_ids))
            self.assertEqual(cr.fetchone()[0], self.JOBS)
