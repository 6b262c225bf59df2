import hashlib
import hmac
import json
from datetime import timedelta

from odoo import SUPERUSER_ID
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import users

from ..tools.http import AddressRefused, new_session
from .common import T0, SalesjetCase
from .fake_http import FakeReceiver

ALLOW_PRIVATE = "salesjet_flows.webhook_allow_private"


class TestWebhookStep(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = FakeReceiver().start()
        cls.addClassCleanup(cls.receiver.stop)

    def setUp(self):
        super().setUp()
        self.receiver.reset()
        self.allow_private(True)  # the fake receiver listens on loopback

    def allow_private(self, allowed):
        self.env["ir.config_parameter"].sudo().set_param(ALLOW_PRIVATE, "True" if allowed else False)

    def webhook_step(self, **vals):
        return {
            "action_type": "webhook", "webhook_url": f"{self.receiver.url}/hooks/salesjet?src=flow",
            "webhook_headers": "Authorization: Bearer t0k3n\nX-Tenant:  acme ",
            "webhook_body": '{"id": {{ object.id }}, "name": "{{ object.name }}", '
                            '"plan": "{{ event.get(\'plan\') ||| basic }}", "source": "salesjet"}',
            **vals,
        }

    def run_at(self, when):
        with self.at(when):
            self.run_scheduler()

    def post_at_t0(self, partners):
        with self.at(T0):
            for partner in partners:
                self.Event.post("sj_test", partner)

    def test_webhook_posts_rendered_json_signed_with_the_flow_secret(self):
        flow = self.make_flow([self.webhook_step()])
        tricky, plain = self.make_partners(2)
        tricky.name = 'Ann "the \\ quote" Smith\nJr'
        with self.at(T0):
            self.Event.post("sj_test", tricky, data={"plan": "gold"})
            self.Event.post("sj_test", plain)
            self.run_scheduler()
        self.assertEqual(len(self.receiver.requests), 2, "one request per contact")
        by_id = {}
        for request in self.receiver.requests:
            self.assertEqual((request["method"], request["path"]), ("POST", "/hooks/salesjet?src=flow"))
            headers = request["headers"]
            expected = "sha256=" + hmac.new(flow.webhook_secret.encode(), request["body"], hashlib.sha256).hexdigest()
            self.assertEqual(headers["X-SalesJet-Signature"], expected)
            self.assertEqual(headers["X-SalesJet-Timestamp"], str(int(T0.timestamp())))
            self.assertEqual(headers["Authorization"], "Bearer t0k3n")
            self.assertEqual(headers["X-Tenant"], "acme")
            self.assertEqual(headers["Content-Type"], "application/json")
            data = json.loads(request["body"])
            by_id[data["id"]] = (data, headers["Idempotency-Key"])
        self.assertEqual(by_id[tricky.id][0], {"id": tricky.id, "name": tricky.name, "plan": "gold",
                                               "source": "salesjet"}, "contact data is JSON-escaped")
        self.assertEqual(by_id[plain.id][0]["plan"], "basic")
        for partner in (tricky, plain):
            job = self.jobs_of(flow, partner)
            self.assertEqual(by_id[partner.id][1], f"salesjet-job-{job.id}")
            self.assertEqual((job.state, job.http_status, job.http_response), ("done", 200, '{"ok": true}'))
            self.assertEqual(job.result, "Webhook delivered: HTTP 200.")

    def test_get_webhook_sends_no_body_and_signs_the_empty_body(self):
        flow = self.make_flow([self.webhook_step(webhook_method="GET", webhook_body=False)])
        self.Event.post("sj_test", self.make_partners(1))
        self.run_scheduler()
        request = self.receiver.requests[0]
        self.assertEqual((request["method"], request["body"]), ("GET", b""))
        self.assertEqual(request["headers"]["X-SalesJet-Signature"],
                         "sha256=" + hmac.new(flow.webhook_secret.encode(), b"", hashlib.sha256).hexdigest())

    def test_server_errors_are_retried_with_backoff_then_fail_keeping_the_answer(self):
        self.env["ir.config_parameter"].sudo().set_param("salesjet_flows.job_max_attempts", 3)
        self.receiver.responses = [(503, "busy")] + [(500, '{"error": "' + "x" * 2000 + '"}')] * 2
        flow = self.make_flow([self.webhook_step()])
        self.post_at_t0(self.make_partners(1))
        self.run_at(T0)
        job = self.jobs_of(flow)
        self.assertEqual((job.state, job.attempts, job.http_status, job.http_response), ("pending", 1, 503, "busy"))
        self.assertEqual(job.scheduled_date, T0 + timedelta(minutes=1))
        self.run_at(T0 + timedelta(minutes=1))
        self.assertEqual((job.state, job.attempts), ("pending", 2))
        self.assertEqual(job.scheduled_date, T0 + timedelta(minutes=5), "then after 4 minutes")
        self.run_at(T0 + timedelta(minutes=5))
        self.assertEqual((job.state, job.attempts, job.http_status), ("failed", 3, 500))
        self.assertEqual(len(job.http_response), 1000, "an excerpt of the answer is kept")
        self.assertIn("HTTP 500", job.error)
        self.assertEqual(len(self.receiver.requests), 3)
        keys = {request["headers"]["Idempotency-Key"] for request in self.receiver.requests}
        self.assertEqual(keys, {f"salesjet-job-{job.id}"}, "retries carry the same idempotency key")

    def test_timeout_is_retried_then_fails(self):
        self.env["ir.config_parameter"].sudo().set_param("salesjet_flows.job_max_attempts", 2)
        self.receiver.responses = [(200, "late", 5), (200, "late", 5)]
        flow = self.make_flow([self.webhook_step(webhook_timeout=1)])
        self.post_at_t0(self.make_partners(1))
        self.run_at(T0)
        job = self.jobs_of(flow)
        self.assertEqual((job.state, job.attempts), ("pending", 1))
        self.assertIn("timed out", job.error)
        self.run_at(T0 + timedelta(minutes=1))
        self.assertEqual((job.state, job.http_status), ("failed", 0))
        self.assertEqual(job.result, "Failed after 2 attempts.")

    def test_client_error_fails_at_once_without_retry(self):
        self.receiver.responses = [(422, '{"error": "email is required"}')]
        flow = self.make_flow([self.webhook_step()])
        self.post_at_t0(self.make_partners(1))
        self.run_at(T0)
        job = self.jobs_of(flow)
        self.assertEqual((job.state, job.attempts, job.http_status), ("failed", 1, 422))
        self.assertEqual(job.http_response, '{"error": "email is required"}')
        self.assertIn("HTTP 422", job.result)
        self.assertIn("Failed without retry", job.result)
        self.assertEqual(job.enrollment_id.state, "failed")
        self.assertEqual(len(self.receiver.requests), 1)

    def test_redirects_are_not_followed(self):
        self.receiver.responses = [(302, "")]
        flow = self.make_flow([self.webhook_step()])
        self.Event.post("sj_test", self.make_partners(1))
        self.run_scheduler()
        job = self.jobs_of(flow)
        self.assertEqual((job.state, job.http_status), ("failed", 302))
        self.assertEqual(len(self.receiver.requests), 1)

    def test_one_failing_contact_does_not_resend_the_others(self):
        self.receiver.responses = [(200, "ok"), (500, "boom"), (200, "ok")]
        flow = self.make_flow([self.webhook_step()])
        for partner in self.make_partners(3):
            self.Event.post("sj_test", partner)
        self.run_scheduler()
        self.assertEqual(len(self.receiver.requests), 3, "each contact's request is sent once")
        self.assertEqual(sorted(self.jobs_of(flow).mapped("state")), ["done", "done", "pending"])

    # -- address guard -------------------------------------------------------

    @users("user_flows_admin")
    def test_private_addresses_are_refused_on_save(self):
        self.allow_private(False)
        flow = self.make_flow([])
        for url in ("http://127.0.0.1:8069/x", "https://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data",
                    "http://[::1]/x", "http://localhost/x", "http://0.0.0.0/", "http://[::ffff:192.168.1.1]/"):
            with self.assertRaisesRegex(ValidationError, "loopback, private, link-local or reserved", msg=url):
                self.env["salesjet.flow.step"].create({"flow_id": flow.id, **self.webhook_step(webhook_url=url)})

    @users("user_flows_admin")
    def test_public_addresses_and_unresolved_names_are_accepted_on_save_and_checked_when_sent(self):
        self.allow_private(False)
        public = self.make_flow([self.webhook_step(webhook_url="https://93.184.216.34/hook")])
        self.assertEqual(public.step_ids.webhook_url, "https://93.184.216.34/hook")
        public.action_archive()  # nothing may leave this machine
        # DNS may be down when saving: the name is checked again when sending
        flow = self.make_flow([self.webhook_step(webhook_url="https://hooks.salesjet.invalid/hook")])
        self.post_at_t0(self.make_partners(1))
        self.run_at(T0)
        job = self.jobs_of(flow)
        self.assertEqual((job.state, job.attempts), ("pending", 1), "retried: the name may resolve later")
        self.assertIn("does not resolve", job.error)

    def test_private_addresses_are_refused_again_at_send_time(self):
        flows = [self.make_flow([self.webhook_step(webhook_url=url)])
                 for url in (self.receiver.url + "/x", "http://10.0.0.5/x", "http://169.254.169.254/x")]
        self.allow_private(False)  # e.g. an administrator switched it off, or the name now resolves elsewhere
        self.post_at_t0(self.make_partners(1))
        self.run_at(T0)
        self.assertFalse(self.receiver.requests)
        for flow in flows:
            job = self.jobs_of(flow)
            self.assertEqual((job.state, job.attempts), ("failed", 1), "refused without retry")
            self.assertIn("loopback, private, link-local or reserved", job.result)

    def test_connection_guard_checks_the_connected_address(self):
        with new_session(guarded=True) as session, self.assertRaisesRegex(AddressRefused, "127.0.0.1"):
            session.get(self.receiver.url + "/x", timeout=2)
        with new_session(guarded=True) as session, self.assertRaisesRegex(AddressRefused, "127.0.0.1"):
            # refused before the TLS handshake, which this plain HTTP receiver could not answer
            session.get(self.receiver.url.replace("http://", "https://") + "/x", timeout=2)
        self.assertFalse(self.receiver.requests, "refused before anything was sent")
        with new_session(guarded=False) as session:
            self.assertEqual(session.get(self.receiver.url + "/x", timeout=2).status_code, 200)

    # -- settings validation -------------------------------------------------

    @users("user_flows_admin")
    def test_bad_webhook_settings_are_refused_on_save(self):
        flow = self.make_flow([])
        Step = self.env["salesjet.flow.step"]
        cases = [
            ({"webhook_url": False}, "give the URL"),
            ({"webhook_url": "ftp://example.com/x"}, "not a web address"),
            ({"webhook_url": "hooks.example.com/x"}, "not a web address"),
            ({"webhook_url": "https:///x"}, "has no host name"),
            ({"webhook_url": "https://example.com:99999/x"}, "not a valid URL"),
            ({"webhook_url": "https://exa mple.com/x"}, "contains spaces"),
            ({"webhook_headers": "Authorization Bearer x"}, "is not “Name: value”"),
            ({"webhook_headers": "Bad Name: x"}, "not a valid header name"),
            ({"webhook_headers": "X-SalesJet-Signature: forged"}, "set by the step itself"),
            ({"webhook_body": '{"name": {{ object.name }}}'}, "not valid JSON once rendered"),
            ({"webhook_body": '{"x": "{{ object.no_such_field }}"}'},
             "JSON body: the placeholder “object.no_such_field” is not allowed"),
            ({"webhook_body": ""}, "write the JSON body"),
            ({"webhook_timeout": 0}, "timeout is from 1 to 60 seconds"),
        ]
        for vals, message in cases:
            with self.subTest(vals=vals), self.assertRaisesRegex(ValidationError, message):
                Step.create({"flow_id": flow.id, **self.webhook_step(**vals)})
        # beyond the placeholder language (Settings administrators), a text must still render
        with self.assertRaisesRegex(ValidationError, "JSON body does not render"):
            Step.with_user(SUPERUSER_ID).create({"flow_id": flow.id, **self.webhook_step(
                webhook_body='{"x": "{{ object.no_such_field }}"}')})

    # -- signing secret ------------------------------------------------------

    def test_each_flow_gets_its_own_secret_managers_only_can_regenerate(self):
        first, second = self.make_flow([]), self.make_flow([])
        self.assertEqual(len(first.webhook_secret), 64)
        self.assertNotEqual(first.webhook_secret, second.webhook_secret)
        self.assertFalse(first.copy().webhook_secret == first.webhook_secret, "a copy gets its own secret")
        old = first.webhook_secret
        first.action_regenerate_webhook_secret()
        self.assertNotEqual(first.webhook_secret, old)
        user = self.env["res.users"].create({
            "name": "SJ flow user", "login": "sj_flow_user",
            "groups_id": [(6, 0, [self.env.ref("salesjet_flows.group_salesjet_user").id])]})
        with self.assertRaises(AccessError):
            first.with_user(user).read(["webhook_secret"])
        with self.assertRaises(AccessError):
            first.with_user(user).action_regenerate_webhook_secret()
