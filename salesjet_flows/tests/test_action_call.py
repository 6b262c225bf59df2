import base64
import socket
from datetime import timedelta
from urllib.parse import parse_qs

from lxml import etree

from odoo import SUPERUSER_ID
from odoo.exceptions import UserError, ValidationError
from odoo.tests import users

from .common import T0, SalesjetCase
from .fake_http import FakeReceiver

TWILIO_ANSWER = '{"sid": "CA0123456789abcdef", "status": "queued"}'


class TestCallStep(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.twilio = FakeReceiver(default=(201, TWILIO_ANSWER)).start()
        cls.addClassCleanup(cls.twilio.stop)
        cls.belgium = cls.env.ref("base.be")
        cls.template = cls.env["salesjet.call.template"].create({
            "name": "Welcome call",
            "from_number": "+1 415 555 0100",
            "record": True,
            "line_ids": [
                (0, 0, {"sequence": 1, "kind": "say",
                        "text": "Hello {{ object.name }}, plan {{ event.get('plan') ||| basic }}."}),
                (0, 0, {"sequence": 2, "kind": "pause", "seconds": 2}),
                (0, 0, {"sequence": 3, "kind": "connect", "number": "+32 2 555 12 34"}),
                (0, 0, {"sequence": 4, "kind": "hangup"}),
            ],
        })

    def setUp(self):
        super().setUp()
        self.twilio.reset()

    def use_twilio(self, base_url=None):
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("salesjet_flows.call_provider", "twilio")
        params.set_param("salesjet_flows.twilio_account_sid", "AC42")
        params.set_param("salesjet_flows.twilio_auth_token", "s3cret-token")
        params.set_param("salesjet_flows.twilio_base_url", base_url or self.twilio.url)

    def call_flow(self, **vals):
        return self.make_flow([{"action_type": "call", "call_template_id": self.template.id, **vals}])

    def callee(self, name="SJ callee", **vals):
        return self.env["res.partner"].create({"name": name, "mobile": "0470 12 34 56",
                                               "country_id": self.belgium.id, **vals})

    # -- Twilio-compatible provider ------------------------------------------

    def test_twilio_call_posts_the_rendered_escaped_script_with_basic_auth(self):
        self.use_twilio()
        flow = self.call_flow()
        partner = self.callee(name="O'Brien & <Sons>")
        with self.at(T0):
            self.Event.post("sj_test", partner, data={"plan": "gold"})
            self.run_scheduler()
        self.assertEqual(len(self.twilio.requests), 1)
        request = self.twilio.requests[0]
        self.assertEqual(request["method"], "POST")
        self.assertEqual(request["path"], "/2010-04-01/Accounts/AC42/Calls.json")
        self.assertEqual(request["headers"]["Authorization"],
                         "Basic " + base64.b64encode(b"AC42:s3cret-token").decode())
        form = {key: values[0] for key, values in parse_qs(request["body"].decode()).items()}
        self.assertEqual(form["To"], "+32470123456", "the contact's mobile in E.164")
        self.assertEqual(form["From"], "+14155550100")
        self.assertEqual(form["Record"], "true")
        twiml = form["Twiml"]
        self.assertIn("O'Brien &amp; &lt;Sons&gt;", twiml, "contact data is XML-escaped")
        root = etree.fromstring(twiml.encode())
        self.assertEqual([child.tag for child in root], ["Say", "Pause", "Dial", "Hangup"])
        self.assertEqual(root[0].text, "Hello O'Brien & <Sons>, plan gold.")
        self.assertEqual(root[1].get("length"), "2")
        self.assertEqual(root[2].text, "+3225551234")
        job = self.jobs_of(flow)
        self.assertEqual(job.state, "done")
        self.assertIn("CA0123456789abcdef", job.result)
        self.assertIn("queued", job.result)
        self.assertEqual(job.http_status, 201)

    def test_twilio_server_error_is_retried_with_backoff_then_fails(self):
        self.use_twilio()
        self.env["ir.config_parameter"].sudo().set_param("salesjet_flows.job_max_attempts", 2)
        self.twilio.responses = [(500, '{"message": "upstream down"}')] * 2
        flow = self.call_flow()
        partner = self.callee()
        with self.at(T0):
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        job = self.jobs_of(flow)
        self.assertEqual((job.state, job.attempts), ("pending", 1), "retried later")
        self.assertEqual(job.scheduled_date, T0 + timedelta(minutes=1))
        self.assertEqual(job.http_status, 500)
        self.assertIn("HTTP 500", job.error)
        with self.at(T0 + timedelta(minutes=1)):
            self.run_scheduler()
        self.assertEqual(job.state, "failed")
        self.assertEqual(job.result, "Failed after 2 attempts.")
        self.assertIn("upstream down", job.error)
        self.assertEqual(job.enrollment_id.state, "failed")
        self.assertEqual(len(self.twilio.requests), 2)

    def test_twilio_refusal_fails_the_job_without_retry(self):
        self.use_twilio()
        self.twilio.responses = [(400, '{"message": "The To number is not a valid phone number."}')]
        flow = self.call_flow()
        with self.at(T0):
            self.Event.post("sj_test", self.callee())
            self.run_scheduler()
        job = self.jobs_of(flow)
        self.assertEqual((job.state, job.attempts, job.http_status), ("failed", 1, 400))
        self.assertIn("not a valid phone number", job.result)

    def test_unreachable_provider_stops_the_batch_and_postpones_the_rest_without_losing_attempts(self):
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            closed_port = sock.getsockname()[1]
        self.use_twilio(base_url=f"http://127.0.0.1:{closed_port}")
        flow = self.call_flow()
        partners = self.env["res.partner"].concat(*[self.callee(name=f"SJ callee {i}") for i in range(5)])
        with self.at(T0):
            for partner in partners:
                self.Event.post("sj_test", partner)
            self.Job._process_due_batch()
        jobs = self.jobs_of(flow)
        self.assertEqual(set(jobs.mapped("state")), {"pending"})
        tried = jobs.filtered(lambda j: j.attempts == 1)
        postponed = jobs.filtered(lambda j: j.attempts == 0)
        self.assertEqual((len(tried), len(postponed)), (3, 2), "three failures in a row stop the batch")
        self.assertTrue(all("Connection refused" in job.error or "Failed to establish" in job.error for job in tried))
        self.assertTrue(all(job.result.startswith("Not sent yet") for job in postponed))
        self.assertEqual(set(postponed.mapped("scheduled_date")), {T0 + timedelta(minutes=1)})

    def test_twilio_without_credentials_keeps_the_job_retrying_with_the_reason(self):
        self.env["ir.config_parameter"].sudo().set_param("salesjet_flows.call_provider", "twilio")
        flow = self.call_flow()
        with self.at(T0):
            self.Event.post("sj_test", self.callee())
            self.run_scheduler()
        job = self.jobs_of(flow)
        self.assertEqual(job.state, "pending")
        self.assertIn("set its account SID and auth token", job.error)
        self.assertFalse(self.twilio.requests)

    # -- activity provider ---------------------------------------------------

    def test_activity_provider_plans_a_call_with_the_script_for_the_salesperson(self):
        salesperson = self.env["res.users"].create({"name": "SJ seller", "login": "sj_seller"})
        flow = self.call_flow()
        own, orphan = self.callee(name="SJ owned", user_id=salesperson.id), self.callee(name="SJ orphan")
        with self.at(T0):
            self.Event.post("sj_test", own, data={"plan": "gold"})
            self.Event.post("sj_test", orphan)
            self.run_scheduler()
        self.assertFalse(self.twilio.requests)
        activities = {}
        for partner in (own, orphan):
            job = self.jobs_of(flow, partner)
            self.assertEqual((job.state, job.res_model), ("done", "mail.activity"))
            activities[partner] = self.env["mail.activity"].browse(job.res_id)
        activity = activities[own]
        self.assertEqual(activity.user_id, salesperson)
        self.assertEqual((activity.res_model, activity.res_id), ("res.partner", own.id))
        self.assertEqual(activity.activity_type_id, self.env.ref("mail.mail_activity_data_call"))
        note = str(activity.note)
        for expected in ("+32470123456", "Say: Hello SJ owned, plan gold.", "Pause 2 seconds",
                         "Transfer to +3225551234", "Hang up"):
            self.assertIn(expected, note)
        self.assertEqual(activities[orphan].user_id, flow.user_id, "no salesperson: the flow's responsible")

    # -- contacts and validation ---------------------------------------------

    def test_contacts_without_a_valid_number_are_skipped(self):
        self.use_twilio()
        flow = self.call_flow()
        missing = self.callee(name="SJ no number", mobile=False)
        invalid = self.callee(name="SJ bad number", mobile="12")
        phone_only = self.callee(name="SJ landline", mobile=False, phone="02 511 22 33")
        for partner in (missing, invalid, phone_only):
            self.Event.post("sj_test", partner)
        self.run_scheduler()
        self.assertEqual((self.jobs_of(flow, missing).state, self.jobs_of(flow, missing).result),
                         ("skipped", "No phone number."))
        self.assertEqual(self.jobs_of(flow, invalid).result, "Invalid phone number: 12")
        self.assertEqual(self.jobs_of(flow, phone_only).state, "done", "the phone is used when there is no mobile")
        self.assertEqual([parse_qs(r["body"].decode())["To"][0] for r in self.twilio.requests], ["+3225112233"])

    @users("user_flows_admin")
    def test_bad_call_templates_and_steps_are_refused(self):
        Template = self.env["salesjet.call.template"]
        with self.assertRaisesRegex(ValidationError, "has no script"):
            Template.create({"name": "Empty"})
        with self.assertRaisesRegex(ValidationError, "give the number each “connect” line transfers to"):
            Template.create({"name": "Transfer", "line_ids": [(0, 0, {"kind": "connect"})]})
        with self.assertRaisesRegex(ValidationError, "not a valid number to connect to"):
            Template.create({"name": "Transfer", "line_ids": [(0, 0, {"kind": "connect", "number": "123"})]})
        with self.assertRaisesRegex(ValidationError, "write the message"):
            Template.create({"name": "Mute", "line_ids": [(0, 0, {"kind": "say"})]})
        broken = {"name": "Broken", "line_ids": [(0, 0, {"kind": "say", "text": "Hi {{ object.nope }}"})]}
        with self.assertRaisesRegex(ValidationError, "the placeholder “object.nope” is not allowed"):
            Template.create(broken)
        with self.assertRaisesRegex(ValidationError, "does not render"):
            Template.with_user(SUPERUSER_ID).create(broken)  # Settings administrators: still must render
        with self.assertRaisesRegex(ValidationError, "from 1 to 600 seconds"):
            Template.create({"name": "Long", "line_ids": [(0, 0, {"kind": "pause", "seconds": 0})]})
        template = self.template.with_env(self.env)
        with self.assertRaisesRegex(ValidationError, "not a valid number to call from"):
            template.from_number = "hello"
        with self.assertRaisesRegex(ValidationError, "has no script"):
            template.line_ids = [(5, 0, 0)]
        with self.assertRaisesRegex(ValidationError, "choose the call template"):
            self.make_flow([{"action_type": "call"}])

    # -- test call -----------------------------------------------------------

    @users("user_flows_admin")
    def test_test_call_places_one_call_and_reports_it(self):
        self.use_twilio()
        wizard = self.env["salesjet.call.test"].create({"template_id": self.template.id, "number": "+32 470 99 88 77"})
        action = wizard.action_call()
        self.assertIn("CA0123456789abcdef", action["params"]["message"])
        form = parse_qs(self.twilio.requests[0]["body"].decode())
        self.assertEqual(form["To"], ["+32470998877"])
        self.assertIn(self.env.user.partner_id.name, form["Twiml"][0], "rendered for the chosen contact")

    @users("user_flows_admin")
    def test_test_call_explains_failures(self):
        self.use_twilio()
        wizard = self.env["salesjet.call.test"].create({"template_id": self.template.id, "number": "nope"})
        with self.assertRaisesRegex(UserError, "not a valid phone number"):
            wizard.action_call()
        wizard.number = "+32 470 99 88 77"
        self.twilio.responses = [(401, '{"message": "Authenticate"}')]
        with self.assertRaisesRegex(UserError, "The test call failed: .*HTTP 401.*Authenticate"):
            wizard.action_call()

    @users("user_flows_admin")
    def test_test_call_without_telephony_plans_an_activity(self):
        wizard = self.env["salesjet.call.test"].create({"template_id": self.template.id, "number": "+32 470 99 88 77"})
        wizard.action_call()
        activity = self.env["mail.activity"].search([("res_model", "=", "res.partner"),
                                                     ("res_id", "=", self.env.user.partner_id.id)], order="id desc",
                                                    limit=1)
        self.assertIn("+32470998877", str(activity.note))
        self.assertFalse(self.twilio.requests)

    def test_settings_store_the_provider_and_its_credentials(self):
        self.env["res.config.settings"].create({
            "salesjet_call_provider": "twilio", "salesjet_twilio_account_sid": "AC9",
            "salesjet_twilio_auth_token": "tok", "salesjet_webhook_allow_private": True,
        }).execute()
        params = self.env["ir.config_parameter"].sudo()
        self.assertEqual(self.env["salesjet.call.provider"]._current(), "twilio")
        self.assertEqual(self.env["salesjet.call.provider"]._twilio_settings(),
                         {"sid": "AC9", "token": "tok", "base": "https://api.twilio.com"})
        self.assertEqual(params.get_param("salesjet_flows.webhook_allow_private"), "True")
