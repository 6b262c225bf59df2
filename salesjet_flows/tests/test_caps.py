from datetime import timedelta

from .common import T0, SalesjetCase


# Runs as the cron does (superuser): frequency caps applied to the scheduler's batches; no person acts here.
class TestFrequencyCaps(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.write({"email": "shop@example.com", "salesjet_cap_email_day": 2,
                               "salesjet_cap_email_week": 0, "salesjet_cap_mode": "postpone"})
        cls.partner = cls.make_partners(1)

    def email_flow(self, name, **step_vals):
        return self.make_flow([{"action_type": "email", "email_source": "custom", "email_subject": name,
                                "email_body": "<p>Hi</p>", **step_vals}], name=name)

    def email_jobs(self, flows):
        return self.Job.search([("flow_id", "in", flows.ids)], order="id")

    def test_third_email_of_a_day_across_flows_waits_for_the_next_day(self):
        flows = self.email_flow("One") | self.email_flow("Two") | self.email_flow("Three")
        with self.at(T0):
            for flow in flows:
                flow._enroll(self.partner.ids)
            # the three jobs are due together: one batch, counted in order
            self.run_scheduler()
            first, second, third = self.email_jobs(flows)
            self.assertEqual((first.state, second.state), ("done", "done"))
            self.assertEqual(third.state, "pending", "the third email of the day waits")
            self.assertEqual(third.scheduled_date, T0 + timedelta(days=1), "until the first one is a day old")
            self.assertIn("Frequency cap reached (2 emails a day", third.result)
            self.assertEqual(third.attempts, 0)
        with self.at(T0 + timedelta(hours=23)):
            self.assertEqual(self.run_scheduler(), 0)
        with self.at(T0 + timedelta(days=1)):
            self.assertEqual(self.run_scheduler(), 1)
        self.assertEqual(third.state, "done")
        self.assertEqual(third.res_model, "mail.mail")

    def test_emails_sent_in_earlier_batches_count(self):
        flows = self.email_flow("One") | self.email_flow("Two")
        later = self.email_flow("Later")
        with self.at(T0):
            for flow in flows:
                flow._enroll(self.partner.ids)
            self.run_scheduler()
        with self.at(T0 + timedelta(hours=6)):
            later._enroll(self.partner.ids)
            self.run_scheduler()
            job = self.email_jobs(later)
            self.assertEqual(job.state, "pending")
            self.assertEqual(job.scheduled_date, T0 + timedelta(days=1))

    def test_transactional_step_is_exempt(self):
        flows = self.email_flow("One") | self.email_flow("Two") | self.email_flow("Receipt", transactional=True)
        with self.at(T0):
            for flow in flows:
                flow._enroll(self.partner.ids)
            self.run_scheduler()
        self.assertEqual(self.email_jobs(flows).mapped("state"), ["done"] * 3)

    def test_skip_mode_skips_the_step_and_the_run_goes_on(self):
        self.env.company.salesjet_cap_mode = "skip"
        flows = self.email_flow("One") | self.email_flow("Two")
        capped = self.make_flow([
            {"action_type": "email", "email_source": "custom", "email_subject": "Three", "email_body": "<p>Hi</p>"},
            self.tag_step(self.tag_a),
        ], name="Three")
        with self.at(T0):
            for flow in flows | capped:
                flow._enroll(self.partner.ids)
            self.run_scheduler()
        email_job, tag_job = self.email_jobs(capped)
        self.assertEqual(email_job.state, "skipped")
        self.assertIn("Frequency cap reached", email_job.result)
        self.assertEqual(tag_job.state, "done")
        self.assertEqual(email_job.enrollment_id.state, "done")
        self.assertTags(self.partner, present=[self.tag_a])

    def test_weekly_cap_and_flow_override(self):
        self.env.company.write({"salesjet_cap_email_day": 0, "salesjet_cap_email_week": 3})
        flow = self.make_flow([
            {"action_type": "email", "email_source": "custom", "email_subject": "Daily", "email_body": "<p>Hi</p>",
             "repeat": True, "repeat_interval": 1, "repeat_unit": "days", "repeat_max": 5},
        ])
        with self.at(T0):
            flow._enroll(self.partner.ids)
        for day in range(4):
            with self.at(T0 + timedelta(days=day)):
                self.run_scheduler()
        jobs = self.email_jobs(flow)
        self.assertEqual(jobs.mapped("state"), ["done", "done", "done", "pending"])
        self.assertEqual(jobs[-1].scheduled_date, T0 + timedelta(days=7), "the 4th email of the week waits")
        # a flow with no caps is not held back (its sends still count for the others)
        flow.cap_policy = "none"
        with self.at(T0 + timedelta(days=3, hours=1)):
            jobs[-1].scheduled_date = T0 + timedelta(days=3)
            self.run_scheduler()
        self.assertEqual(jobs[-1].state, "done")

    def test_caps_cost_one_query_per_batch(self):
        flows = self.email_flow("One") | self.email_flow("Two")
        partners = self.make_partners(100, prefix="SJ capped")
        with self.at(T0):
            for flow in flows:
                flow._enroll(partners.ids)
            jobs = self.Job.search([("flow_id", "in", flows.ids)])
            self.env.flush_all()
            before = self.env.cr.sql_log_count
            postponed, skipped = jobs._apply_frequency_caps(T0)
            queries = self.env.cr.sql_log_count - before
        self.assertFalse(postponed or skipped)
        self.assertLessEqual(queries, 4, "one history query for 200 jobs (2 queries measured)")

    def test_chain_messages_count_and_are_capped_on_their_channel(self):
        chain = self.env["salesjet.flow"].create({"state": "running", "name": "Chain", "kind": "chain"})
        self.env["salesjet.chain.message"].create({
            "flow_id": chain.id, "sequence": 1, "channel": "email", "subject": "Chain hello", "body": "<p>Hi</p>"})
        flows = self.email_flow("One") | self.email_flow("Two")
        with self.at(T0):
            for flow in flows:
                flow._enroll(self.partner.ids)
            self.run_scheduler()
            chain._enroll(self.partner.ids)
            self.run_scheduler()
        job = self.email_jobs(chain)
        self.assertEqual(job.step_id.action_type, "chain_message")
        self.assertEqual(job.state, "pending", "a chain email is the third email of the day")
        self.assertEqual(job.scheduled_date, T0 + timedelta(days=1))
