from odoo.addons.mail.tests.common import MockEmail

from .common import SalesjetCase


class TestStepStatistics(SalesjetCase, MockEmail):
    """The engine sends as the cron does (superuser); a marketer (Flows user) reads the figures."""

    def test_email_step_counts_sent_opened_clicked_bounced_and_skip_reasons(self):
        self.env.company.email = "shop@example.com"
        flow = self.make_flow([{"action_type": "email", "email_source": "custom", "email_subject": "Hi",
                                "email_body": "<p>Hello <a href='https://shop.example.com'>shop</a></p>"}])
        reader, clicker, bouncer, silent = self.make_partners(4)
        no_address = self.make_partners(2, prefix="SJ no address", email=False)
        for partner in reader | clicker | bouncer | silent | no_address:
            self.Event.post("sj_test", partner)
        self.run_scheduler()
        jobs = self.jobs_of(flow)
        mails = self.env["mail.mail"].browse(jobs.filtered("res_id").mapped("res_id"))
        with self.mock_mail_gateway():
            mails.send()
        trace = {job.partner_id: job.mailing_trace_id for job in jobs if job.mailing_trace_id}
        trace[reader].set_opened()
        trace[clicker].set_clicked()
        trace[bouncer].set_bounced()
        step = flow.step_ids.with_user(self.user_marketing)
        step.invalidate_recordset()
        self.assertEqual((step.stat_sent, step.stat_opened, step.stat_clicked, step.stat_bounced, step.stat_replied),
                         (4, 2, 1, 1, 0), "a click proves an open")
        self.assertEqual((step.stat_opened_ratio, step.stat_clicked_ratio), (50.0, 25.0))
        self.assertEqual((step.done_job_count, step.skipped_job_count), (4, 2))
        self.assertRegex(step.skip_reasons, r"^2 × .+")
        flow = flow.with_user(self.user_marketing)
        flow.invalidate_recordset()
        self.assertEqual((flow.stat_sent, flow.stat_opened_ratio), (4, 50.0))
        # the drill-down opens the step's jobs, which the marketer may read
        action = step.action_view_jobs()
        self.assertEqual(self.env[action["res_model"]].with_user(self.user_marketing).search(action["domain"]),
                         jobs.filtered(lambda job: job.step_id == step))
        self.assertEqual(self.env["salesjet.flow.job"].with_user(self.user_marketing).search(
            flow.action_view_failed_jobs()["domain"]), jobs)

    def test_step_without_mail_has_empty_statistics(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        self.Event.post("sj_test", self.make_partners(1))
        self.run_scheduler()
        step = flow.step_ids.with_user(self.user_flows)
        self.assertEqual((step.stat_sent, step.stat_opened_ratio, step.skip_reasons, step.done_job_count),
                         (0, 0.0, "", 1))
