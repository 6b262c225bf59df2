from datetime import datetime, timedelta

from .common import T0, SalesjetCase

# 2026-03-07 is a Saturday, 2026-03-09 a Monday; Europe/Madrid is UTC+1 then (winter time).
SATURDAY_10_MADRID = datetime(2026, 3, 7, 9, 0)
MONDAY_9_MADRID = datetime(2026, 3, 9, 8, 0)


# Runs as the cron does (superuser): the scheduler waiting for conditions; no person acts here.
class TestWaitUntilConditionsHold(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.partner_id.tz = "Europe/Madrid"

    def flow_with_conditions(self, lines, on_fail="wait", **step_vals):
        flow = self.make_flow([
            self.tag_step(self.tag_a, on_condition_fail=on_fail, **step_vals),
            self.tag_step(self.tag_b),
        ])
        self.env["salesjet.flow.condition"].create([{"step_id": flow.step_ids[0].id, **vals} for vals in lines])
        return flow

    def drive(self, job, until):
        """Run the scheduler at each moment the job is scheduled for, while it waits and before ``until``;
        return the moments it was checked at."""
        checks = []
        while job.state == "pending" and job.scheduled_date <= until:
            moment = job.scheduled_date
            self.assertLess(len(checks), 20, "a waiting job is checked a bounded number of times")
            checks.append(moment)
            with self.at(moment):
                self.run_scheduler()
            job.invalidate_recordset()
        return checks

    def test_step_reached_on_saturday_waits_for_monday_nine_and_then_runs(self):
        flow = self.flow_with_conditions([
            {"condition_type": "current_date", "date_operator": "on", "date_value": "2026-03-09"},
            {"condition_type": "current_time", "time_from": 9.0, "time_to": 17.0},
        ])
        partner = self.make_partners(1, prefix="SJ wait")
        partner.tz = "Europe/Madrid"
        with self.at(SATURDAY_10_MADRID):
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        job = self.jobs_of(flow, partner)
        self.assertEqual(job.state, "pending", "the contact waits at the step instead of skipping it")
        self.assertEqual(job.attempts, 0, "waiting is not an attempt")
        self.assertEqual(job.date_waiting, SATURDAY_10_MADRID)
        self.assertTags(partner, absent=[self.tag_a, self.tag_b])
        checks = self.drive(job, MONDAY_9_MADRID - timedelta(seconds=1))
        self.assertTrue(checks, "the job was checked again before Monday")
        self.assertEqual(job.state, "pending")
        self.assertEqual(job.scheduled_date, MONDAY_9_MADRID, "the next check is Monday 09:00 in Madrid")
        self.assertTags(partner, absent=[self.tag_a])
        with self.at(MONDAY_9_MADRID):
            self.run_scheduler()
        self.assertEqual(job.state, "done")
        self.assertEqual(job.attempts, 1)
        self.assertEqual(job.date_done, MONDAY_9_MADRID)
        self.assertTags(partner, present=[self.tag_a, self.tag_b])

    def test_each_contact_waits_for_the_window_of_its_own_time_zone(self):
        flow = self.flow_with_conditions([{"condition_type": "current_time", "time_from": 9.0, "time_to": 17.0}])
        madrid, new_york = self.make_partners(2, prefix="SJ wait tz")
        madrid.tz, new_york.tz = "Europe/Madrid", "America/New_York"
        evening_madrid = datetime(2026, 3, 2, 16, 30)  # 17:30 in Madrid, 11:30 in New York
        with self.at(evening_madrid):
            for partner in (madrid, new_york):
                self.Event.post("sj_test", partner)
            self.run_scheduler()
        self.assertEqual(self.jobs_of(flow, new_york)[0].state, "done", "inside its window: runs at once")
        waiting = self.jobs_of(flow, madrid)
        self.assertEqual(waiting.state, "pending")
        self.assertEqual(waiting.scheduled_date, datetime(2026, 3, 3, 8, 0), "Tuesday 09:00 in Madrid")

    def test_step_whose_conditions_never_hold_is_skipped_after_the_limit(self):
        flow = self.flow_with_conditions(
            [{"condition_type": "current_date", "date_operator": "on", "date_value": "2026-01-01"}],
            wait_max_days=2)
        partner = self.make_partners(1, prefix="SJ wait never")
        with self.at(T0):
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        job = self.jobs_of(flow, partner)
        checks = self.drive(job, T0 + timedelta(days=30))
        self.assertEqual(checks, [T0 + timedelta(days=1), T0 + timedelta(days=2)], "checked daily up to the limit")
        self.assertEqual(job.state, "skipped")
        self.assertIn("2", job.result)
        self.assertEqual(job.date_done, T0 + timedelta(days=2))
        self.assertTags(partner, present=[self.tag_b], absent=[self.tag_a])
        self.assertEqual(job.enrollment_id.state, "done", "after the skip the run goes on and ends")

    def test_skip_and_stop_do_not_wait(self):
        never = [{"condition_type": "current_date", "date_operator": "on", "date_value": "2026-01-01"}]
        skip_flow = self.flow_with_conditions(never, on_fail="skip")
        stop_flow = self.flow_with_conditions(never, on_fail="stop")
        partner = self.make_partners(1, prefix="SJ no wait")
        with self.at(T0):
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        skipped, after_skip = self.jobs_of(skip_flow, partner)
        self.assertEqual((skipped.state, skipped.date_waiting), ("skipped", False))
        self.assertEqual(after_skip.state, "done")
        stopped = self.jobs_of(stop_flow, partner)
        self.assertEqual(stopped.state, "skipped")
        self.assertEqual(stopped.enrollment_id.state, "stopped")
