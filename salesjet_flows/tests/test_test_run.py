import hashlib
import hmac
from datetime import timedelta

from odoo.exceptions import UserError
from odoo.tests import users

from .common import T0, SalesjetCase


class TestFlowTestRun(SalesjetCase):
    """A Flows administrator tries a flow on a contact."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("salesjet_flows.webhook_allow_private", "True")
        cls.partner = cls.env["res.partner"].create({
            "name": "Tess Tester", "email": "tess@example.com", "mobile": "0470 12 34 56",
            "country_id": cls.env.ref("base.be").id, "tz": "UTC",
        })

    def start(self, flow, **vals):
        return self.env["salesjet.flow.test.run"].create({"flow_id": flow.id, "partner_id": self.partner.id, **vals})

    def counts(self):
        """What exists in the database, seen by the superuser (the person testing may not read mails)."""
        env = self.env(su=True)
        env.flush_all()
        cr = env.cr
        cr.execute("SELECT count(*) FROM res_partner_res_partner_category_rel")
        tags = cr.fetchone()[0]
        return {
            "mails": env["mail.mail"].search_count([]),
            "sms": env["sms.sms"].search_count([]),
            "messages": env["mail.message"].search_count([]),
            "tags": tags,
            "jobs": env["salesjet.flow.job"].search_count([]),
            "runs": env["salesjet.flow.enrollment"].search_count([]),
            "secret": bool(env["salesjet.flow"].search([("name", "=", "Test flow")]).sudo().mapped("webhook_secret")),
        }

    @users("user_flows_admin")
    def test_run_to_the_end_previews_every_step_on_the_simulated_clock_and_changes_nothing(self):
        flow = self.make_flow([
            {"action_type": "email", "email_source": "custom", "email_subject": "Hello {{ object.name }}",
             "email_body": "<p>Your plan: {{ event.get('plan') ||| basic }}</p>"},
            {"action_type": "sms", "sms_body": "Hi {{ object.name }}", "timing": "delay", "delay_value": 2,
             "delay_unit": "days"},
            {"action_type": "webhook", "webhook_url": "http://127.0.0.1:9/hook", "webhook_method": "POST",
             "webhook_headers": "Authorization: Bearer t0k3n",
             "webhook_body": '{"name": "{{ object.name }}"}', "timing": "delay", "delay_value": 3,
             "delay_unit": "hours"},
            self.tag_step(self.tag_a, timing="delay", delay_value=5, delay_unit="days", delay_from="start",
                          repeat=True, repeat_interval=3, repeat_unit="days", repeat_max=2),
            {"action_type": "note", "note_body": "Note for {{ object.name }}"},
        ])
        flow.sudo().webhook_secret = "s3cret"
        before = self.counts()
        with self.at(T0):
            run = self.start(flow, data_text='{"plan": "gold"}')
            run.action_run_to_end()
        self.assertEqual(self.counts(), before, "a test run writes nothing: no mail, SMS, tag, note, job or run")
        self.assertEqual(run.state, "done")
        lines = run.line_ids
        self.assertEqual(lines.mapped("outcome"), ["run"] * 5)
        self.assertEqual(lines.mapped("date"), [T0, T0 + timedelta(days=2), T0 + timedelta(days=2, hours=3),
                                                T0 + timedelta(days=5), T0 + timedelta(days=5)])
        email, sms, webhook, tag, note = lines
        self.assertIn("Hello Tess Tester", email.preview_html)
        self.assertIn("Your plan: gold", email.preview_html, "the event data fills the placeholders")
        self.assertIn("+32470123456", sms.preview_html)
        self.assertIn("Hi Tess Tester", sms.preview_html)
        body = b'{"name": "Tess Tester"}'
        signature = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        self.assertIn("POST http://127.0.0.1:9/hook", webhook.preview_html)
        self.assertIn("Authorization: Bearer t0k3n", webhook.preview_html)
        self.assertIn(signature, webhook.preview_html, "the request is signed as it would be sent")
        self.assertIn("SJ test A", tag.preview_html)
        self.assertIn("would repeat every 3 days, at most 2 times", tag.note)
        self.assertIn("Note for Tess Tester", note.preview_html)

    @users("user_flows_admin")
    def test_next_step_goes_one_step_at_a_time(self):
        flow = self.make_flow([self.tag_step(self.tag_a), self.tag_step(self.tag_b, timing="delay", delay_value=1)])
        with self.at(T0):
            run = self.start(flow)
            run.action_next_step()
            self.assertEqual(len(run.line_ids), 1)
            self.assertEqual((run.state, run.next_step_id), ("running", flow.step_ids[1]))
            run.action_next_step()
        self.assertEqual(run.state, "done")
        self.assertEqual(run.sim_now, T0 + timedelta(days=1))

    @users("user_flows_admin")
    def test_conditions_are_evaluated_at_the_simulated_moment(self):
        flow = self.make_flow([
            self.tag_step(self.tag_a, timing="delay", delay_value=3, delay_unit="days"),
            self.tag_step(self.tag_b),
            self.tag_step(self.tag_c),
        ])
        first, second, third = flow.step_ids
        # runs only after T0 + 1 day: false now, true at the simulated moment of the first step
        self.env["salesjet.flow.condition"].create({
            "step_id": first.id, "condition_type": "current_date", "date_operator": "after",
            "date_value": (T0 + timedelta(days=1)).date(),
        })
        self.env["salesjet.flow.condition"].create(
            {"step_id": second.id, "condition_type": "tag", "tag_ids": [(6, 0, self.tag_c.ids)]})
        second.on_condition_fail = "stop"
        with self.at(T0):
            run = self.start(flow)
            run.action_run_to_end()
        self.assertEqual(run.line_ids.mapped("outcome"), ["run", "stopped"],
                         "the date condition holds 3 days later; the tag condition stops the run")
        self.assertIn("Conditions not met", run.line_ids[1].note)
        self.assertTrue(third not in run.line_ids.step_id)

    @users("user_flows_admin")
    def test_relative_step_counts_from_the_event_data(self):
        flow = self.make_flow([self.tag_step(self.tag_a, timing="relative", relative_source="event",
                                             relative_key="course_start", relative_value=2, relative_unit="days",
                                             relative_direction="before")])
        with self.at(T0):
            run = self.start(flow, data_text='{"course_start": "2026-03-10 08:00"}')
            run.action_run_to_end()
            self.assertEqual(run.line_ids.date, T0.replace(day=8, hour=8))
            missing = self.start(flow)
            missing.action_run_to_end()
        self.assertEqual(missing.line_ids.outcome, "skipped")

    @users("user_flows_admin")
    def test_event_data_must_be_a_json_object(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        with self.assertRaisesRegex(UserError, "not valid JSON"):
            self.start(flow, data_text="{plan: gold}").action_next_step()
        with self.assertRaisesRegex(UserError, "must be a JSON object"):
            self.start(flow, data_text="[1, 2]").action_next_step()

    @users("user_flows_admin")
    def test_goal_reached_ends_the_simulated_run(self):
        flow = self.make_flow([self.tag_step(self.tag_a), self.tag_step(self.tag_b)])
        flow.goal_domain = f"[('category_id', 'in', [{self.tag_c.id}])]"
        self.partner.category_id = self.tag_c
        run = self.start(flow)
        run.action_run_to_end()
        self.assertEqual(run.line_ids.mapped("outcome"), ["converted"])

    @users("user_flows_admin")
    def test_really_send_emails_and_sms_to_the_test_address_only(self):
        flow = self.make_flow([
            {"action_type": "email", "email_source": "custom", "email_subject": "Hello {{ object.name }}",
             "email_body": "<p>Hi</p>"},
            {"action_type": "sms", "sms_body": "Hi {{ object.name }}"},
            self.tag_step(self.tag_a),
        ])
        Mail, Sms = self.env["mail.mail"].sudo(), self.env["sms.sms"].sudo()  # the queues, seen by the cron
        mails_before = Mail.search([])
        sms_before = Sms.search([])
        run = self.start(flow, real_send=True, test_email="qa@example.com", test_phone="+32 470 99 99 99")
        run.action_run_to_end()
        mails = Mail.search([]) - mails_before
        sms = Sms.search([]) - sms_before
        self.assertEqual(mails.mapped("email_to"), ["qa@example.com"])
        self.assertIn("Hello Tess Tester", mails.subject)
        self.assertEqual(sms.mapped("number"), ["+32470999999"])
        self.assertEqual(run.line_ids.mapped("outcome")[0], "sent")
        self.assertTags(self.partner, absent=self.tag_a)
        self.assertFalse(self.Job.search([("flow_id", "=", flow.id)]))

    @users("user_flows_admin")
    def test_sms_preview_says_a_blacklisted_number_would_be_skipped(self):
        flow = self.make_flow([{"action_type": "sms", "sms_body": "Hi {{ object.name }}"}])
        self.env["phone.blacklist"].sudo().add("+32470123456")
        run = self.start(flow)
        run.action_run_to_end()
        self.assertIn("+32470123456 is blacklisted", run.line_ids.preview_html)
