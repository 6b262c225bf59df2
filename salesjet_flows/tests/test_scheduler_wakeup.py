"""A job queued while a call of the scheduler starts and ends is not left waiting for the next regular call.

Odoo ends a call of a scheduled action by deleting the triggers set before the call began
(``ir.cron._reschedule_later``). A transaction that queues a job and relies on a trigger already set
(``salesjet_flow_job.scheduler_check``), then commits after the call's last look at the queue, would leave its
job to the next regular call (5 minutes). These tests interleave such a transaction with a call that Odoo's own
code runs (``ir.cron._acquire_one_job`` and ``_process_job``, each with its own connection), at the moments
where that happened: the transaction checks before the call starts, or after it ended with a snapshot taken
before it started (Odoo's cursors read in REPEATABLE READ).
"""
import sys
import threading
import uuid
from datetime import timedelta
from unittest.mock import patch

import odoo
from odoo import SUPERUSER_ID, api, fields
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, get_db_name

from odoo.addons.salesjet_flows.models import salesjet_flow_job

from .prefork_common import pause_other_crons, restore_crons


# Runs as the cron does (superuser): Odoo's cron code and a writer on committed data; no person acts here.
class TestSchedulerWakeUp(BaseCase):

    def setUp(self):
        super().setUp()
        self.registry = Registry(get_db_name())
        self.db = odoo.sql_db.db_connect(get_db_name())
        self.name = f"SJ wake-up {uuid.uuid4().hex[:8]}"
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            self.cron_id = env.ref("salesjet_flows.ir_cron_salesjet_process_jobs").id
            self.lane_ids = env["salesjet.flow.job"]._scheduler_lanes().ids
            self.paused = pause_other_crons(cr, self.lane_ids)
            self.tag_id = env["res.partner.category"].create({"name": self.name}).id
            flow = env["salesjet.flow"].create({"state": "running", "name": self.name, "reentry_policy": "always"})
            env["salesjet.flow.step"].create(
                {"flow_id": flow.id, "sequence": 1, "action_type": "add_tag", "tag_ids": [(6, 0, [self.tag_id])]})
            self.flow_id = flow.id
            self.partner_id = env["res.partner"].create({"name": self.name}).id
            # nothing else due: the call's batches and counts are about this test's job only
            cr.execute("UPDATE salesjet_flow_job SET scheduled_date = scheduled_date + interval '100 years'"
                       " WHERE state = 'pending' AND scheduled_date <= now() at time zone 'UTC' RETURNING id")
            self.postponed = [row[0] for row in cr.fetchall()]
            # an earlier call, then a trigger set after it (by an earlier event): a call is coming
            cron = env["ir.cron"].browse(self.cron_id)
            cron._add_progress()
            cr.execute("UPDATE ir_cron_progress SET create_date = now() at time zone 'UTC' - interval '1 minute'"
                       " WHERE cron_id = %s", [self.cron_id])
            cron._trigger(at=fields.Datetime.now() - timedelta(seconds=1))
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["salesjet.flow"].browse(self.flow_id).unlink()
            env["res.partner"].browse(self.partner_id).unlink()
            env["res.partner.category"].browse(self.tag_id).unlink()
            cr.execute("UPDATE salesjet_flow_job SET scheduled_date = scheduled_date - interval '100 years'"
                       " WHERE id = ANY(%s)", [self.postponed])
            restore_crons(cr, self.paused, self.lane_ids)

    def writer(self):
        """A transaction of its own, its snapshot taken now (as a request's first statement takes it)."""
        cr = self.registry.cursor()
        self.addCleanup(cr.close)
        cr.execute("SELECT 1")
        return cr

    def enrol(self, cr):
        """Queue this test's job, due at once, as an event's run does (not committed)."""
        env = api.Environment(cr, SUPERUSER_ID, {})
        env["salesjet.flow"].browse(self.flow_id)._enroll([self.partner_id])
        env.flush_all()

    def call(self):
        """One call of the scheduler's first lane, by Odoo's own cron code; False when the lane was not ready."""
        with self.db.cursor() as cron_cr:
            job = self.registry["ir.cron"]._acquire_one_job(cron_cr, self.cron_id)
            if not job:
                return False
            with patch.object(threading.current_thread(), "testing", False):
                self.registry["ir.cron"]._process_job(self.db, cron_cr, job)
        return True

    def job_state(self):
        with self.registry.cursor() as cr:
            cr.execute("SELECT state FROM salesjet_flow_job WHERE flow_id = %s", [self.flow_id])
            return [row[0] for row in cr.fetchall()]

    def test_a_job_committed_while_the_call_settles_is_run_by_that_call(self):
        """The transaction checks the scheduler (relying on the pending trigger) before the call starts and
        commits while the call, with nothing left to do, waits for it: the call looks again and runs the job."""
        cr_w = self.writer()
        self.enrol(cr_w)
        commits = []

        def pause(_seconds):
            if sys._getframe(1).f_code.co_name == "_settle_queue" and not commits:
                commits.append(True)
                cr_w.commit()

        with patch.object(salesjet_flow_job.time, "sleep", pause):
            self.assertTrue(self.call())
        if not commits:
            cr_w.commit()  # the call did not wait for it (what the code did before the fix)
        self.assertEqual(commits, [True], "the end of the call waited for the transaction queueing the job")
        self.assertEqual(self.job_state(), ["done"], "the call that started first ran the job committed last")

    def test_a_transaction_open_through_the_whole_call_leaves_a_trigger_that_outlives_it(self):
        """The transaction stays open past the call's patience: the call ends asking for another one, and that
        trigger survives the end of the call (Odoo deletes only the triggers its snapshot sees)."""
        cr_w = self.writer()
        self.enrol(cr_w)
        with patch.object(salesjet_flow_job, "SETTLE_SECONDS", 0.05):
            self.assertTrue(self.call())
        cr_w.commit()
        self.assertEqual(self.job_state(), ["pending"])
        self.assertTrue(self.call(), "a trigger set by the call's end wakes the scheduler again")
        self.assertEqual(self.job_state(), ["done"])

    def test_a_transaction_whose_snapshot_predates_a_finished_call_sets_its_own_trigger(self):
        """The transaction's snapshot was taken before the call started; it checks the scheduler after the call
        ended and deleted the trigger (which the snapshot still shows): it must not rely on that trigger."""
        cr_w = self.writer()
        self.assertTrue(self.call())
        self.enrol(cr_w)
        cr_w.commit()
        self.assertEqual(self.job_state(), ["pending"])
        self.assertTrue(self.call(), "the job's own trigger wakes the scheduler")
        self.assertEqual(self.job_state(), ["done"])
