from datetime import timedelta
from unittest.mock import patch

from odoo.addons.salesjet_flows.models import salesjet_flow_retention
from odoo.addons.salesjet_flows.models.salesjet_flow_step import SalesjetFlowStep

from .common import T0, SalesjetCase

LATER = T0 + timedelta(days=200)


class TestRetention(SalesjetCase):
    """The retention cron runs as the cron does (superuser); a marketer reads the statistics."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.email = "shop@example.com"
        cls.cron = cls.env.ref("salesjet_flows.ir_cron_salesjet_job_retention")

    def email_step(self, subject):
        return {"action_type": "email", "email_source": "custom", "email_subject": subject,
                "email_body": "<p>Hi <a href='https://shop.example.com/offer'>Offer</a></p>"}

    def make_history(self):
        """At T0: a flow whose runs are done, skipped, cancelled, failed, converted or still waiting, and an A/B
        test with its emails opened and clicked."""
        self.env["ir.config_parameter"].set_param("salesjet_flows.job_max_attempts", 1)
        flow = self.make_flow(
            [self.tag_step(self.tag_a), self.email_step("Hello"),
             self.tag_step(self.tag_b, timing="delay", delay_value=1, delay_unit="days"),
             self.tag_step(self.tag_c, timing="delay", delay_value=300, delay_unit="days")],
            goal_domain=f"[('category_id', 'in', [{self.tag_c.id}])]")
        split_flow = self.make_flow([
            {"action_type": "split", "name": "Subject test", "split_criterion": "clicks",
             "split_test_value": 2, "split_test_unit": "days",
             "branch_ids": [(0, 0, {"name": name, "percentage": 50, "sequence": i}) for i, name in enumerate("AB")]},
        ], triggers=[{"trigger_type": "api", "event_code": "sj_split"}])
        split = split_flow.step_ids
        Step = self.env["salesjet.flow.step"]
        for branch in split.branch_ids:
            Step.create(dict(self.email_step(f"Version {branch.name}"), flow_id=split_flow.id, branch_id=branch.id,
                             sequence=20))
        partners = self.make_partners(6)
        no_address = self.make_partners(2, prefix="SJ no address", email=False)
        broken = self.make_partners(1, prefix="SJ broken")
        original = SalesjetFlowStep._action_add_tag

        def add_tag(step, jobs):
            if broken in jobs.partner_id:
                raise RuntimeError("boom")
            return original(step, jobs)

        with self.at(T0), patch.object(SalesjetFlowStep, "_action_add_tag", autospec=True, side_effect=add_tag):
            for partner in partners | no_address | broken:
                self.Event.post("sj_test", partner)
                self.Event.post("sj_split", partner)
            self.run_scheduler()
            self.jobs_of(flow, partners[0]).filtered(lambda j: j.state == "pending").action_cancel()
            partners[1].category_id = [(4, self.tag_c.id)]
            flow._convert_reached()
        with self.at(T0 + timedelta(days=1, hours=1)):
            self.run_scheduler()
        traces = self.jobs_of(split_flow).mailing_trace_id
        traces[:3].set_opened()
        traces[:1].set_clicked()
        return flow, split_flow

    def snapshot(self, flows):
        """Every figure a user reads about these flows, as a marketer reads them."""
        flows = flows.with_user(self.user_marketing)
        self.env.invalidate_all()
        steps = flows.step_ids
        figures = {
            "flows": flows.read(["job_count", "pending_job_count", "failed_job_count", "enrollment_count",
                                 "done_count", "converted_count", "statistics_data", "stat_sent"]),
            "steps": steps.read(["pending_job_count", "done_job_count", "skipped_job_count", "failed_job_count",
                                 "skip_reasons", "converted_count", "stat_sent", "stat_opened", "stat_clicked"]),
            "diagram": [flow.diagram_data for flow in flows],
            "branches": steps.branch_ids.read(["sent_count", "open_count", "click_count", "score"]),
        }
        return figures

    def purge(self):
        with self.at(LATER):
            self.env.flush_all()
            self.cron.method_direct_trigger()

    def test_purge_deletes_old_ended_jobs_and_every_figure_stays_identical(self):
        flow, split_flow = self.make_history()
        jobs = self.jobs_of(flow)
        self.assertEqual(set(jobs.mapped("state")), {"done", "skipped", "cancelled", "failed", "pending"})
        with self.at(LATER):
            before = self.snapshot(flow | split_flow)
        self.purge()
        with self.at(LATER):
            after = self.snapshot(flow | split_flow)
        self.assertEqual(after, before)
        left = jobs.exists()
        self.assertEqual(set(left.mapped("state")), {"failed", "pending"},
                         "failed and waiting jobs are kept, the ended ones deleted")
        self.assertEqual(self.jobs_of(split_flow), self.jobs_of(split_flow).exists(),
                         "an A/B test keeps its jobs: its figures are computed from its contacts")
        self.assertGreater(before["steps"][0]["done_job_count"], 0, "the figures compared are not all zero")
        self.assertTrue(any(step["skip_reasons"] for step in before["steps"]))
        self.assertTrue(any(step["converted_count"] for step in before["steps"]))
        self.assertTrue(any(branch["open_count"] for branch in before["branches"]))

    def test_recent_jobs_and_a_zero_setting_keep_everything(self):
        flow, _split_flow = self.make_history()
        jobs = self.jobs_of(flow)
        with self.at(T0 + timedelta(days=100)):
            self.cron.method_direct_trigger()
        self.assertEqual(jobs.exists(), jobs, "a run of the last 180 days shows every one of its jobs")
        self.env["ir.config_parameter"].set_param("salesjet_flows.job_retention_days", 0)
        self.purge()
        self.assertEqual(jobs.exists(), jobs, "0 keeps every job")
        self.env["ir.config_parameter"].set_param("salesjet_flows.job_retention_days", 30)
        with self.at(T0 + timedelta(days=40)):
            self.cron.method_direct_trigger()
        self.assertLess(len(jobs.exists()), len(jobs), "a shorter period purges sooner")

    def test_a_call_deletes_a_bounded_batch_and_reports_what_remains(self):
        flow, _split_flow = self.make_history()
        ended = self.jobs_of(flow).filtered(lambda j: j.state in ("done", "skipped", "cancelled"))
        progress = []
        with patch.object(salesjet_flow_retention, "RETENTION_BATCH_SIZE", 5), \
                patch.object(type(self.env["ir.cron"]), "_notify_progress",
                             lambda cron, done, remaining, deactivate=False: progress.append((done, remaining))):
            self.purge()
        self.assertEqual(len(ended) - len(ended.exists()), 5)
        self.assertEqual(progress[-1][0], 5)
        self.assertGreaterEqual(progress[-1][1], len(ended) - 5, "the rest is reported, Odoo calls again")

    def test_retention_is_a_setting_of_180_days_by_default(self):
        settings = self.env["res.config.settings"].with_user(self.user_flows_admin).sudo().create({})
        self.assertEqual(settings.salesjet_job_retention_days, 180)
        self.assertEqual(self.env["salesjet.flow.retention"]._retention_days(), 180)
