from datetime import timedelta
from unittest.mock import patch

from odoo.addons.salesjet_flows.models.salesjet_flow_step import SalesjetFlowStep

from .common import T0, SalesjetCase, sent_statements


# Runs as the cron does (superuser): the scheduler walking runs through their steps; no person acts here.
class TestEngine(SalesjetCase):

    def test_three_step_flow_walks_with_time(self):
        """Tag now, another tag after 1 day, remove the first after 3 days from the start."""
        flow = self.make_flow([
            self.tag_step(self.tag_a),
            self.tag_step(self.tag_b, timing="delay", delay_value=1, delay_unit="days"),
            self.tag_step(self.tag_a, action="remove_tag", timing="delay", delay_value=3, delay_unit="days",
                          delay_from="start"),
        ])
        partner = self.make_partners(1)
        with self.at(T0):
            event = self.Event.post("sj_test", partner)
            enrollment = event.enrollment_ids
            self.assertEqual(len(enrollment), 1)
            self.run_scheduler()
            self.assertTags(partner, present=[self.tag_a], absent=[self.tag_b])
            pending = self.jobs_of(flow).filtered(lambda j: j.state == "pending")
            self.assertEqual(pending.step_id, flow.step_ids[1])
            self.assertEqual(pending.scheduled_date, T0 + timedelta(days=1))
        with self.at(T0 + timedelta(hours=23)):
            self.assertEqual(self.run_scheduler(), 0, "the second step is not due before one day")
            self.assertTags(partner, absent=[self.tag_b])
        with self.at(T0 + timedelta(days=1, minutes=1)):
            self.assertEqual(self.run_scheduler(), 1)
            self.assertTags(partner, present=[self.tag_a, self.tag_b])
            last = self.jobs_of(flow).filtered(lambda j: j.state == "pending")
            self.assertEqual(last.scheduled_date, T0 + timedelta(days=3), "counted from the start of the run")
        with self.at(T0 + timedelta(days=2, hours=23)):
            self.assertEqual(self.run_scheduler(), 0)
        with self.at(T0 + timedelta(days=3)):
            self.assertEqual(self.run_scheduler(), 1)
        self.assertTags(partner, present=[self.tag_b], absent=[self.tag_a])
        self.assertEqual(enrollment.state, "done")
        self.assertEqual(self.jobs_of(flow).mapped("state"), ["done"] * 3)
        self.assertTrue(all(job.result for job in self.jobs_of(flow)))

    def test_a_due_job_of_a_run_that_ended_meanwhile_is_cancelled_and_the_rest_of_its_batch_runs(self):
        """The batch asks the database which of its runs ended (not the ORM, which read each run whole)."""
        flow = self.make_flow([self.tag_step(self.tag_a), self.tag_step(self.tag_b)])
        kept, ended = self.make_partners(2)
        with self.at(T0):
            self.Event.post("sj_test", kept)
            self.Event.post("sj_test", ended)
            # ended by a user after its first job came due (a write: its pending job stays as it was)
            self.jobs_of(flow, ended).enrollment_id.state = "stopped"
            self.run_scheduler()
        self.assertTags(kept, present=[self.tag_a, self.tag_b])
        self.assertTags(ended, absent=[self.tag_a, self.tag_b])
        job = self.jobs_of(flow, ended)
        self.assertEqual(job.mapped("state"), ["cancelled"], "its first job only, and no next one")
        self.assertEqual(job.result, "The run had ended.")
        self.assertEqual(self.jobs_of(flow, kept).mapped("state"), ["done", "done"])

    def test_a_batch_reads_its_jobs_with_their_lock_and_what_ended_with_its_outcomes(self):
        """A batch's jobs come with the statement that locks them, and what ended with the statement that
        writes the outcomes: no other read of the job table (the ORM read every column of each batch again,
        text included, and the next step's scheduling read the ended jobs once more: 10 % of a tag drain,
        docs/performance.md). What the batch did is what it did before."""
        flow = self.make_flow([
            self.tag_step(self.tag_a),
            self.tag_step(self.tag_b, timing="delay", delay_value=1, delay_unit="days"),
        ])
        partners = self.make_partners(3)
        with self.at(T0):
            for partner in partners:
                self.Event.post("sj_test", partner)
            self.env.flush_all()
            self.env.invalidate_all()
            with sent_statements() as statements:
                self.assertEqual(self.Job._process_due_batch(), 3)
        sent = [" ".join(text.replace('"', "").split()) for text, _params in statements]
        reads = [text for text in sent if text.startswith("SELECT") and "FROM salesjet_flow_job" in text
                 and "FOR UPDATE SKIP LOCKED" not in text]
        self.assertFalse(reads, "the batch's jobs are not read again")
        self.assertEqual(len([text for text in sent if text.startswith("UPDATE salesjet_flow_job j")
                              and "RETURNING" in text]), 1)
        for partner in partners:
            first, second = self.jobs_of(flow, partner)
            self.assertEqual((first.state, first.attempts, first.step_id), ("done", 1, flow.step_ids[0]))
            self.assertEqual(
                (second.state, second.step_id, second.enrollment_id, second.partner_id, second.company_id,
                 second.repeat_index, second.scheduled_date),
                ("pending", flow.step_ids[1], first.enrollment_id, partner, first.company_id, 0,
                 T0 + timedelta(days=1)))
        self.assertTags(partners[0], present=[self.tag_a], absent=[self.tag_b])

    def test_failing_condition_skips_step_and_goes_on(self):
        flow = self.make_flow([
            self.tag_step(self.tag_b,
                          condition_ids=[(0, 0, {"condition_type": "tag", "tag_ids": [(6, 0, self.tag_a.ids)]})]),
            self.tag_step(self.tag_c),
        ])
        with_a, without_a = self.make_partners(2)
        with_a.category_id = self.tag_a
        with self.at(T0):
            self.Event.post("sj_test", with_a)
            self.Event.post("sj_test", without_a)
            self.run_scheduler()
        self.assertTags(with_a, present=[self.tag_b, self.tag_c])
        self.assertTags(without_a, present=[self.tag_c], absent=[self.tag_b])
        skipped = self.jobs_of(flow, without_a)[0]
        self.assertEqual(skipped.state, "skipped")
        self.assertIn("Conditions not met", skipped.result)
        self.assertEqual(self.jobs_of(flow, without_a).enrollment_id.state, "done")

    def test_failing_condition_stops_run_when_configured(self):
        flow = self.make_flow([
            self.tag_step(self.tag_b, on_condition_fail="stop",
                          condition_ids=[(0, 0, {"condition_type": "tag", "tag_ids": [(6, 0, self.tag_a.ids)]})]),
            self.tag_step(self.tag_c),
        ])
        partner = self.make_partners(1)
        with self.at(T0):
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        jobs = self.jobs_of(flow, partner)
        self.assertEqual(len(jobs), 1, "no job is scheduled after a stop")
        self.assertEqual(jobs.state, "skipped")
        self.assertEqual(jobs.enrollment_id.state, "stopped")
        self.assertTags(partner, absent=[self.tag_b, self.tag_c])

    def test_a_run_stopped_by_its_batch_gets_no_next_step_and_the_others_go_on(self):
        """A step that stops one run of a batch ends that run alone: the next step's scheduling, in the same
        batch, sees it stopped and the other runs still running."""
        flow = self.make_flow([
            self.tag_step(self.tag_b, on_condition_fail="stop",
                          condition_ids=[(0, 0, {"condition_type": "tag", "tag_ids": [(6, 0, self.tag_a.ids)]})]),
            self.tag_step(self.tag_c),
        ])
        stopped, going_on = self.make_partners(2)
        going_on.category_id = self.tag_a
        with self.at(T0):
            self.Event.post("sj_test", stopped)
            self.Event.post("sj_test", going_on)
            self.env.flush_all()
            self.env.invalidate_all()
            self.assertEqual(self.Job._process_due_batch(), 2, "one batch")
        self.assertEqual(self.jobs_of(flow, stopped).mapped("state"), ["skipped"], "no job after a stop")
        self.assertEqual(self.jobs_of(flow, stopped).enrollment_id.state, "stopped")
        first, second = self.jobs_of(flow, going_on)
        self.assertEqual((first.state, second.state, second.step_id), ("done", "pending", flow.step_ids[1]))
        self.assertEqual(second.enrollment_id.state, "running")

    def test_a_batch_runs_each_step_with_its_own_jobs_in_their_order(self):
        """A batch of one step's jobs goes to that step whole; a batch of several steps' jobs to each step,
        its jobs in the batch's order."""
        flow = self.make_flow([self.tag_step(self.tag_a), self.tag_step(self.tag_b)])
        partners = self.make_partners(3)
        with self.at(T0):
            for partner in partners:
                self.Event.post("sj_test", partner)
        first_jobs = self.jobs_of(flow)
        self.assertEqual(self.Job._by_step(first_jobs), {flow.step_ids[0]: first_jobs})
        second = self.Job.create([{"enrollment_id": job.enrollment_id.id, "flow_id": flow.id,
                                   "step_id": flow.step_ids[1].id, "partner_id": job.partner_id.id,
                                   "company_id": job.company_id.id, "scheduled_date": T0} for job in first_jobs[:2]])
        mixed = first_jobs[0] | second[0] | first_jobs[1] | second[1]
        groups = self.Job._by_step(mixed)
        self.assertEqual(list(groups), [flow.step_ids[0], flow.step_ids[1]])
        self.assertEqual(groups[flow.step_ids[0]].ids, [first_jobs[0].id, first_jobs[1].id])
        self.assertEqual(groups[flow.step_ids[1]].ids, second.ids)
        self.assertEqual(self.Job._by_step(self.Job.browse()), {})

    def test_negated_condition(self):
        flow = self.make_flow([
            self.tag_step(self.tag_b, condition_ids=[
                (0, 0, {"condition_type": "tag", "negate": True, "tag_ids": [(6, 0, self.tag_a.ids)]})]),
        ])
        vip, other = self.make_partners(2)
        vip.category_id = self.tag_a
        with self.at(T0):
            self.Event.post("sj_test", vip)
            self.Event.post("sj_test", other)
            self.run_scheduler()
        self.assertTags(vip, absent=[self.tag_b])
        self.assertTags(other, present=[self.tag_b])
        self.assertEqual(self.jobs_of(flow, vip).state, "skipped")

    def test_repeat_runs_while_condition_holds_then_moves_on(self):
        """Repeat every day, at most 3 more times, while the contact has no tag C; then the next step."""
        flow = self.make_flow([
            self.tag_step(self.tag_a, repeat=True, repeat_interval=1, repeat_unit="days", repeat_max=3,
                          condition_ids=[(0, 0, {"condition_type": "tag", "negate": True,
                                                 "tag_ids": [(6, 0, self.tag_c.ids)]})]),
            self.tag_step(self.tag_b),
        ])
        partner = self.make_partners(1)
        repeat_step, next_step = flow.step_ids
        with self.at(T0):
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        with self.at(T0 + timedelta(days=1)):
            self.run_scheduler()
        self.assertEqual(self.jobs_of(flow).filtered(lambda j: j.step_id == repeat_step).mapped("state"),
                         ["done", "done", "pending"])
        partner.category_id = [(4, self.tag_c.id)]  # e.g. "the email was opened"
        with self.at(T0 + timedelta(days=2)):
            self.run_scheduler()
        jobs = self.jobs_of(flow)
        repeats = jobs.filtered(lambda j: j.step_id == repeat_step)
        self.assertEqual(repeats.mapped("state"), ["done", "done", "skipped"])
        self.assertIn("Repeat ended", repeats[-1].result)
        self.assertEqual(jobs.filtered(lambda j: j.step_id == next_step).state, "done")
        self.assertTags(partner, present=[self.tag_b])

    def test_repeat_stops_at_its_maximum(self):
        flow = self.make_flow([self.tag_step(self.tag_a, repeat=True, repeat_interval=2, repeat_unit="hours",
                                             repeat_max=2)])
        partner = self.make_partners(1)
        for hours in (0, 2, 4, 6, 8):
            with self.at(T0 + timedelta(hours=hours)):
                if not hours:
                    self.Event.post("sj_test", partner)
                self.run_scheduler()
        jobs = self.jobs_of(flow)
        self.assertEqual(jobs.mapped("repeat_index"), [0, 1, 2])
        self.assertEqual(jobs.mapped("state"), ["done"] * 3)
        self.assertEqual(jobs.enrollment_id.state, "done")

    def test_step_at_a_date_waits_for_it(self):
        flow = self.make_flow([self.tag_step(self.tag_a, timing="date", run_at=T0 + timedelta(days=10))])
        partner = self.make_partners(1)
        with self.at(T0):
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        self.assertEqual(self.jobs_of(flow).scheduled_date, T0 + timedelta(days=10))
        with self.at(T0 + timedelta(days=10)):
            self.run_scheduler()
        self.assertTags(partner, present=[self.tag_a])

    def test_flow_of_150_steps_completes(self):
        tags = [self.tag_a, self.tag_b]
        steps = [self.tag_step(tags[i % 2], action="add_tag" if i % 3 else "remove_tag") for i in range(150)]
        flow = self.make_flow(steps)
        partners = self.make_partners(5)
        with self.at(T0):
            for partner in partners:
                self.Event.post("sj_test", partner)
            self.run_scheduler()
        jobs = self.jobs_of(flow)
        self.assertEqual(len(jobs), 150 * 5)
        self.assertEqual(set(jobs.mapped("state")), {"done"})
        self.assertEqual(set(flow.enrollment_ids.mapped("state")), {"done"})
        # step 149 (index) adds tag_b (149 % 3 != 0), step 148 adds tag_a
        self.assertTags(partners[0], present=[self.tag_a, self.tag_b])

    def test_exception_in_one_job_leaves_the_others_done(self):
        flow = self.make_flow([self.tag_step(self.tag_a), self.tag_step(self.tag_b)])
        partners = self.make_partners(5)
        bad = partners[2]
        original = SalesjetFlowStep._action_add_tag

        def flaky(step, jobs):
            if bad in jobs.partner_id:
                raise ValueError("provider down for this contact")
            return original(step, jobs)

        with self.at(T0), patch.object(SalesjetFlowStep, "_action_add_tag", flaky):
            for partner in partners:
                self.Event.post("sj_test", partner)
            self.run_scheduler()
        for partner in partners - bad:
            self.assertTags(partner, present=[self.tag_a, self.tag_b])
        self.assertTags(bad, absent=[self.tag_a, self.tag_b])
        bad_job = self.jobs_of(flow, bad)
        self.assertEqual(len(bad_job), 1)
        self.assertEqual(bad_job.state, "pending", "retried later")
        self.assertEqual(bad_job.attempts, 1)
        self.assertIn("provider down", bad_job.error)
        self.assertEqual(bad_job.scheduled_date, T0 + timedelta(minutes=1))

    def test_failing_job_is_retried_with_backoff_then_failed(self):
        self.env["ir.config_parameter"].set_param("salesjet_flows.job_max_attempts", 3)
        flow = self.make_flow([self.tag_step(self.tag_a)])
        partner = self.make_partners(1)
        with patch.object(SalesjetFlowStep, "_action_add_tag", side_effect=RuntimeError("boom"), autospec=True):
            with self.at(T0):
                self.Event.post("sj_test", partner)
                self.run_scheduler()
            job = self.jobs_of(flow)
            self.assertEqual((job.state, job.attempts), ("pending", 1))
            self.assertEqual(job.scheduled_date, T0 + timedelta(minutes=1))
            with self.at(T0 + timedelta(minutes=1)):
                self.run_scheduler()
            self.assertEqual((job.state, job.attempts), ("pending", 2))
            self.assertEqual(job.scheduled_date, T0 + timedelta(minutes=5), "backoff grows: 1, then 4 minutes")
            with self.at(T0 + timedelta(minutes=5)):
                self.run_scheduler()
        self.assertEqual((job.state, job.attempts), ("failed", 3))
        self.assertIn("boom", job.error)
        self.assertEqual(job.enrollment_id.state, "failed")
        self.assertEqual(flow.failed_job_count, 1)
        # a manager fixes the cause and retries
        with self.at(T0 + timedelta(minutes=6)):
            job.action_retry()
            self.run_scheduler()
        self.assertEqual(job.state, "done")
        self.assertTags(partner, present=[self.tag_a])
        self.assertEqual(job.enrollment_id.state, "done")

    def test_archived_step_is_passed_over(self):
        flow = self.make_flow([self.tag_step(self.tag_a), self.tag_step(self.tag_b), self.tag_step(self.tag_c)])
        flow.step_ids[1].active = False
        partner = self.make_partners(1)
        with self.at(T0):
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        self.assertTags(partner, present=[self.tag_a, self.tag_c], absent=[self.tag_b])

    def test_cron_reports_progress(self):
        self.make_flow([self.tag_step(self.tag_a)])
        partners = self.make_partners(3)
        cron = self.env.ref("salesjet_flows.ir_cron_salesjet_process_jobs")
        with self.at(T0):
            for partner in partners:
                self.Event.post("sj_test", partner)
            cron, progress = cron._add_progress()
            done = self.Job.with_context(ir_cron_progress_id=progress.id)._cron_process_due_jobs()
        self.assertEqual(done, 3)
        self.assertEqual((progress.done, progress.remaining), (3, 0))
        for partner in partners:
            self.assertTags(partner, present=[self.tag_a])
