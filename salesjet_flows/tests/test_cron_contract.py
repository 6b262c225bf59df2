"""Every scheduled action keeps Odoo 18's cron contract: a bounded slice of work per call, reported.

The real prefork servers are in test_production_prefork.py; these tests pin the pieces in one process.
"""
import threading
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.modules.migration import load_script
from odoo.tests import TransactionCase
from odoo.tools import config, mute_logger

from odoo.addons.base.models.ir_cron import MAX_BATCH_PER_CRON_JOB
from odoo.addons.salesjet_flows.models import salesjet_cron
from odoo.addons.salesjet_flows.models.salesjet_cron import BUSY_ACTIONS, WORKER_SLEEP, SalesjetCron
from odoo.addons.salesjet_flows.models.salesjet_flow_job import DEFAULT_BATCH_SIZE

from .common import align_progress_sequence


# Runs as the cron does (superuser): the crons' batch and time budget; no person acts here.
class TestCronContract(TransactionCase):

    def setUp(self):
        super().setUp()
        self.Cron = self.env["salesjet.cron"]
        align_progress_sequence(self.env.cr)

    def limits(self, **limits):
        return patch.dict(config.options, {"limit_time_real": 120, "limit_time_real_cron": -1,
                                           "limit_time_cpu": 60, **limits})

    def test_budget_leaves_room_for_ten_calls_of_busy_actions_within_odoos_limits(self):
        self.env["ir.config_parameter"].set_param("salesjet_flows.cron_call_seconds", 30)
        for limits in ({}, {"limit_time_real_cron": 90, "limit_time_cpu": 20}, {"limit_time_cpu": 10},
                       {"limit_time_real": 300, "limit_time_cpu": 600}):
            with self.subTest(**limits), self.limits(**limits):
                real = limits.get("limit_time_real_cron", -1)
                real = real if real > 0 else limits.get("limit_time_real", 120)
                room = min(real - WORKER_SLEEP, limits.get("limit_time_cpu", 60))
                budget = self.Cron._call_budget()
                self.assertLessEqual(budget * MAX_BATCH_PER_CRON_JOB * BUSY_ACTIONS, room)
                self.assertGreater(budget, 0)
        with self.limits():
            self.assertAlmostEqual(self.Cron._call_budget(), (120 - WORKER_SLEEP) / 30, places=2)
            self.env["ir.config_parameter"].set_param("salesjet_flows.cron_call_seconds", 1)
            self.assertEqual(self.Cron._call_budget(), 1, "a smaller setting wins")
        with self.limits(limit_time_real=0, limit_time_cpu=0):
            self.assertEqual(self.Cron._call_budget(), 1, "no limits: the setting alone")

    def run_calls(self, calls, seconds_per_item, budget, backlog, settle=None):
        """Run ``calls`` calls in a row as Odoo's cron does (one cursor, cron context, outside test mode) on a
        clock that each item advances by ``seconds_per_item`` (the machine's speed does not enter);
        return the batch sizes each call took and the progress each reported."""
        self.env.cr.cache.pop("salesjet_cron_rates", None)  # a new run of calls
        left = [backlog]
        clock = [1000.0]
        sizes, progress = [], []

        def run_batch(limit):
            count = min(limit, left[0])
            clock[0] += count * seconds_per_item
            left[0] -= count
            sizes[-1].append(count)
            return count

        Cron = self.Cron.with_context(cron_id=1)
        thread = threading.current_thread()
        with patch.object(SalesjetCron, "_call_budget", lambda self: budget), \
                patch.object(salesjet_cron.time, "monotonic", lambda: clock[0]), \
                patch.object(self.env.cr, "commit", lambda: None), \
                patch.object(SalesjetCron, "_wake_workers", lambda self: progress.append("woken")), \
                patch.object(type(self.env["ir.cron"]), "_notify_progress",
                             lambda cron, done, remaining, deactivate=False: progress.append((done, remaining))), \
                patch.object(thread, "testing", False):
            for _call in range(calls):
                sizes.append([])
                Cron._run_batches(run_batch, lambda: left[0], 500, key="test",
                                  settle=settle and (lambda: settle(left)))
        return sizes, progress

    def test_a_call_about_to_end_idle_settles_once_and_takes_the_work_that_came_meanwhile(self):
        """Before a call ends so that Odoo deletes the triggers older than it, the queue is settled (the
        transactions queueing jobs have committed) and looked at again: what they queued is done by this call.
        A call that leaves work (Odoo calls again, the triggers stay) does not settle."""
        settles = []

        def settle(left):
            settles.append(left[0])
            if len(settles) == 1:
                left[0] += 3  # committed by a transaction the settle waited for
            return True

        sizes, progress = self.run_calls(calls=1, seconds_per_item=0.0001, budget=1, backlog=120, settle=settle)
        self.assertEqual(settles, [0], "settled once, when nothing was left")
        self.assertEqual(sizes, [[50, 70, 3]], "the probe, the rest, then what came while settling")
        self.assertEqual(progress, [(123, 0)])
        settles.clear()
        sizes, progress = self.run_calls(calls=1, seconds_per_item=1 / 128, budget=1.5625, backlog=10000,
                                         settle=settle)
        self.assertEqual(settles, [], "work remains: Odoo calls again and keeps the triggers")
        self.assertEqual(progress[0], (200, 10000 - 200))

    def test_a_call_that_could_not_settle_ends_without_looking_again(self):
        settles = []

        def settle(left):
            settles.append(left[0])
            left[0] += 3  # queued by a transaction still open: the settle gave up and asked for another call
            return False

        sizes, progress = self.run_calls(calls=1, seconds_per_item=0.0001, budget=1, backlog=0, settle=settle)
        self.assertEqual((settles, sizes), ([0], [[0]]))
        self.assertEqual(progress, [(0, 3)], "the next call, triggered by the settle, takes them")

    def test_a_call_stops_at_its_budget_and_the_next_call_starts_with_a_fitting_batch(self):
        # 1/128 s an item and a budget of 1.5625 s (exact in binary): the probe of 50 takes 0.390625 s
        sizes, progress = self.run_calls(calls=2, seconds_per_item=1 / 128, budget=1.5625, backlog=10000)
        first, second = sizes
        self.assertEqual(first, [salesjet_cron.PROBE_BATCH, 150],
                         "a probe, then what fits the 1.171875 s left, and the budget is spent")
        self.assertEqual(second, [200], "the next call's first batch fits its whole budget")
        self.assertEqual(progress[0], (200, 10000 - 200))
        self.assertEqual(progress[1], "woken", "work remains: the workers are woken instead of sleeping")

    def test_batches_never_exceed_the_batch_size_and_slow_items_shrink_them(self):
        sizes, _progress = self.run_calls(calls=2, seconds_per_item=0.0001, budget=1, backlog=100000)
        self.assertEqual(sizes[0][0], salesjet_cron.PROBE_BATCH)
        self.assertEqual(max(max(call) for call in sizes), 500, "fast items: full batches, never more")
        sizes, _progress = self.run_calls(calls=1, seconds_per_item=0.5, budget=1, backlog=100)
        self.assertEqual(sizes, [[salesjet_cron.PROBE_BATCH]], "a probe that outlasts the budget ends the call")

    def test_the_settings_show_the_batch_size_the_scheduler_uses_and_the_update_moves_the_old_default(self):
        Job, Param = self.env["salesjet.flow.job"], self.env["ir.config_parameter"].sudo()
        Param.search([("key", "=", "salesjet_flows.job_batch_size")]).unlink()
        self.assertEqual(Job._get_batch_size(), DEFAULT_BATCH_SIZE)
        self.assertEqual(self.env["res.config.settings"].create({}).salesjet_job_batch_size, DEFAULT_BATCH_SIZE)
        migration = load_script("salesjet_flows/migrations/18.0.1.4.0/post-batch_size.py", "sj_batch_size_mig")
        # 500 is what saving the settings stored before 1.4.0: the update moves it to the new default
        Param.set_param("salesjet_flows.job_batch_size", 500)
        migration.migrate(self.env.cr, "18.0.1.3.0")
        self.env.registry.clear_cache()
        self.assertEqual(Job._get_batch_size(), 1000)
        # a size chosen on purpose stays
        Param.set_param("salesjet_flows.job_batch_size", 300)
        migration.migrate(self.env.cr, "18.0.1.3.0")
        self.env.registry.clear_cache()
        self.assertEqual(Job._get_batch_size(), 300)

    def test_a_drained_queue_reports_nothing_remaining_and_wakes_nobody(self):
        sizes, progress = self.run_calls(calls=1, seconds_per_item=0.0001, budget=1, backlog=120)
        self.assertEqual(sum(sizes[0]), 120)
        self.assertEqual(progress, [(120, 0)])

    @mute_logger("odoo.addons.base.models.ir_cron")
    def test_every_scheduled_action_of_the_addons_reports_a_bounded_call(self):
        crons = self.env["ir.cron"].search([("cron_name", "=like", "Flows:%")])
        self.assertGreaterEqual(len(crons), 9)
        # ending A/B tests reads at most 1,000 split steps and writes only the ones whose period is over
        bounded_by_design = {"model._cron_end_split_tests()"}
        calls = []
        original = SalesjetCron._run_batches

        def spy(cron_self, run_batch, count_remaining, batch_size, **kwargs):
            calls.append(batch_size)
            return original(cron_self, run_batch, count_remaining, batch_size, **kwargs)

        with patch.object(SalesjetCron, "_run_batches", spy):
            for cron in crons:
                calls.clear()
                cron.method_direct_trigger()
                if cron.code.strip() in bounded_by_design:
                    continue
                with self.subTest(cron=cron.cron_name):
                    self.assertEqual(len(calls), 1, f"{cron.cron_name} works through salesjet.cron._run_batches")

    def test_busy_lane_triggers_the_idle_lanes(self):
        lanes = self.env["salesjet.flow.job"]._scheduler_lanes()
        self.assertGreaterEqual(len(lanes), 2, "the scheduler ships two lanes")
        lanes.write({"nextcall": "2999-01-01 00:00:00"})
        self.env["ir.cron.trigger"].search([("cron_id", "in", lanes.ids)]).unlink()
        first, others = lanes[0], lanes[1:]
        self.env["salesjet.flow.job"].with_context(cron_id=first.id)._wake_lanes()
        triggered = self.env["ir.cron.trigger"].search([("cron_id", "in", lanes.ids)]).cron_id
        self.assertEqual(triggered, others)
        # a second wake adds nothing while the triggers are pending
        self.env["salesjet.flow.job"].with_context(cron_id=first.id)._wake_lanes()
        self.assertEqual(self.env["ir.cron.trigger"].search_count([("cron_id", "in", lanes.ids)]), len(others))

    def test_a_job_due_later_is_covered_only_by_a_call_that_will_find_it_due(self):
        """A trigger or regular call before a job's date would find it not due yet and be gone: the job sets
        its own trigger unless one is set at its date or at most a minute later."""
        Job = self.env["salesjet.flow.job"]
        cron = self.env.ref("salesjet_flows.ir_cron_salesjet_process_jobs")
        cron.nextcall = "2999-01-01 00:00:00"
        self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]).unlink()
        now = fields.Datetime.now()
        due = now + timedelta(minutes=10)

        def triggers():
            return sorted(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]).mapped("call_at"))

        self.env["ir.cron.trigger"].create({"cron_id": cron.id, "call_at": now + timedelta(minutes=2)})
        Job._trigger_scheduler(due)
        self.assertEqual(triggers(), [now + timedelta(minutes=2), due], "an earlier trigger does not cover it")
        Job._trigger_scheduler(due - timedelta(seconds=30))
        self.assertEqual(len(triggers()), 2, "a trigger at most a minute later covers it")
        Job._trigger_scheduler(due - timedelta(seconds=90))
        self.assertEqual(len(triggers()), 3)
        cron.nextcall = due + timedelta(minutes=5, seconds=20)
        Job._trigger_scheduler(due + timedelta(minutes=5))
        self.assertEqual(len(triggers()), 3, "the next regular call covers it too")

    def test_a_call_that_started_unseen_leaves_the_new_job_its_own_trigger(self):
        """Odoo's cursors read in REPEATABLE READ: a transaction does not see a call's progress row committed
        after its snapshot. When the rows' sequence shows a call it cannot see, it relies on no trigger."""
        Job = self.env["salesjet.flow.job"]
        cron = self.env.ref("salesjet_flows.ir_cron_salesjet_process_jobs")
        cron.nextcall = "2999-01-01 00:00:00"
        self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]).unlink()
        now = fields.Datetime.now()
        self.env["ir.cron.trigger"].create({"cron_id": cron.id, "call_at": now - timedelta(seconds=5)})
        Job._trigger_scheduler(now)
        self.assertEqual(self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), 1)
        # a call of some scheduled action took its progress row's id; the row is not visible here
        self.env.cr.execute("SELECT nextval('ir_cron_progress_id_seq')")
        Job._trigger_scheduler(now)
        self.assertEqual(self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), 2)

    def test_a_trigger_consumed_by_the_running_call_does_not_silence_a_new_job(self):
        Job = self.env["salesjet.flow.job"]
        cron = self.env.ref("salesjet_flows.ir_cron_salesjet_process_jobs")
        cron.nextcall = "2999-01-01 00:00:00"
        self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]).unlink()
        now = fields.Datetime.now()
        # no call since the trigger below (the progress rows stay: their ids are the sequence's)
        self.env.flush_all()
        self.env.cr.execute("UPDATE ir_cron_progress SET create_date = %s WHERE cron_id = %s",
                            [now - timedelta(minutes=5), cron.id])

        def triggers():
            return self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)])

        earlier = now - timedelta(seconds=30)
        self.env["ir.cron.trigger"].create({"cron_id": cron.id, "call_at": earlier})
        Job._trigger_scheduler(now)
        self.assertEqual(len(triggers()), 1, "no run since the trigger: it will see the new job, no second one")
        # a call started after that trigger (Odoo commits its progress row first): when the run ends, Odoo
        # deletes the triggers older than its start, so the new job needs its own
        self.env["ir.cron.progress"].create({"cron_id": cron.id, "create_date": earlier + timedelta(seconds=10)})
        self.env.flush_all()
        self.env.cr.execute("UPDATE ir_cron_progress SET create_date = %s WHERE cron_id = %s",
                            [earlier + timedelta(seconds=10), cron.id])
        Job._trigger_scheduler(now)
        self.assertEqual(sorted(triggers().mapped("call_at")), [earlier, now])
