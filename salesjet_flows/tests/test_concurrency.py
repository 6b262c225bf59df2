import threading

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, get_db_name


class TestConcurrentWorkers(BaseCase):
    """Several scheduler workers on real, committed jobs, each with its own connection.

    Unlike the other tests this one commits (other connections cannot see an
    uncommitted transaction), so it cleans up what it created.
    """

    JOBS = 400

    def setUp(self):
        super().setUp()
        self.registry = Registry(get_db_name())
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            self.tag = env["res.partner.category"].create({"name": "SJ concurrency"})
            self.tag_next = env["res.partner.category"].create({"name": "SJ concurrency next"})
            flow = env["salesjet.flow"].create({"name": "SJ concurrency", "reentry_policy": "always"})
            env["salesjet.flow.step"].create([
                {"flow_id": flow.id, "sequence": 1, "action_type": "add_tag", "tag_ids": [(6, 0, self.tag.ids)]},
                {"flow_id": flow.id, "sequence": 2, "action_type": "add_tag", "tag_ids": [(6, 0, self.tag_next.ids)],
                 "timing": "delay", "delay_value": 1, "delay_unit": "days"},
            ])
            partners = env["res.partner"].create([{"name": f"SJ worker {i}"} for i in range(self.JOBS)])
            flow._enroll(partners.ids)
            self.flow_id, self.partner_ids = flow.id, partners.ids
            self.first_step_id = flow.step_ids[0].id
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["salesjet.flow"].browse(self.flow_id).unlink()
            env["res.partner"].browse(self.partner_ids).unlink()
            (self.tag | self.tag_next).with_env(env).unlink()

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
        barrier = threading.Barrier(2)
        errors, counts = [], []

        def worker():
            try:
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    barrier.wait(timeout=30)
                    done = 0
                    while True:
                        count = env["salesjet.flow.job"]._process_due_batch(limit=20)
                        cr.commit()
                        if not count:
                            break
                        done += count
                    counts.append(done)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker) for _i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertFalse(errors, errors)
        # other due jobs of the database (the demo's) may be taken too
        self.assertGreaterEqual(sum(counts), self.JOBS, f"jobs per worker: {counts}")
        self.assertTrue(all(counts), f"both workers took jobs: {counts}")

        with self.registry.cursor() as cr:
            cr.execute("""
                SELECT step_id, state, attempts, count(*) FROM salesjet_flow_job
                 WHERE flow_id = %s GROUP BY 1, 2, 3
            """, (self.flow_id,))
            rows = {(step == self.first_step_id, state, attempts): count for step, state, attempts, count in cr.fetchall()}
            self.assertEqual(rows, {(True, "done", 1): self.JOBS, (False, "pending", 0): self.JOBS},
                             "every job ran once, and every run got exactly one next job")
            cr.execute("""
                SELECT count(*) FROM res_partner_res_partner_category_rel
                 WHERE category_id = %s AND partner_id = ANY(%s)
            """, (self.tag.id, self.partner_ids))
            self.assertEqual(cr.fetchone()[0], self.JOBS)
