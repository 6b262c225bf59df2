"""Outages of the outside world: SMTP refusing, the SMS gateway answering errors, a webhook failing.

Email and SMS steps only queue (``mail.mail``, ``sms.sms``): their job is done when the
message is in Odoo's queue. A queue that cannot deliver shows on the message (mail
``exception`` with its reason, SMS ``error`` with its failure type), on the mail's
``mailing.trace`` (``error``) and in the step's statistics (not counted as sent); it is
never reported as sent. Webhooks call out from the job itself, so their failures are
retried by the engine and end on the job and the flow.
"""
import socket
import threading
from datetime import timedelta
from unittest.mock import patch

from odoo.modules import module as odoo_module

from odoo.addons.sms.tests.common import MockSMS

from .common import T0, SalesjetCase
from .fake_http import FakeReceiver


class ClosingSMTP:
    """A loopback 'SMTP server' that accepts connections and closes them at once."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def stop(self):
        self.sock.close()


def free_port():
    """A loopback port nobody listens on: connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Runs as the cron does (superuser): the mail queue and scheduler during an outage; no person acts here.
class TestMailOutage(SalesjetCase):

    def email_flow(self, server):
        return self.make_flow([{
            "action_type": "email", "email_source": "custom", "email_subject": "Hi {{ object.name }}",
            "email_body": "<p>Hello</p>", "mail_server_id": server.id,
        }])

    def _server(self, port):
        return self.env["ir.mail_server"].create({
            "name": f"SJ dead SMTP {port}", "smtp_host": "127.0.0.1", "smtp_port": port,
            "smtp_encryption": "none"})

    def _send_for_real(self, mails):
        # Odoo's mail code does not connect while a test runs: let it connect to our loopback peer
        with patch.object(odoo_module, "current_test", False):
            self.env["mail.mail"].browse(mails.ids).send(raise_exception=False)

    def test_smtp_refusing_or_closing_leaves_mails_in_exception_and_traces_not_sent(self):
        closing = ClosingSMTP()
        self.addCleanup(closing.stop)
        for port in (free_port(), closing.port):
            with self.subTest(port=port):
                server = self._server(port)
                flow = self.email_flow(server)
                partners = self.make_partners(3, prefix=f"SJ smtp {port}")
                with self.at(T0):
                    flow._enroll(partners.ids)
                    self.run_scheduler()
                jobs = self.jobs_of(flow)
                self.assertEqual(set(jobs.mapped("state")), {"done"}, "the step queued the mails")
                self.assertEqual(set(jobs.mapped("result")), {"Email queued."})
                mails = self.env["mail.mail"].browse(jobs.mapped("res_id"))
                self.assertEqual(mails.mapped("state"), ["outgoing"] * 3)
                self._send_for_real(mails)
                mails.invalidate_recordset()
                self.assertEqual(set(mails.mapped("state")), {"exception"}, "nothing is marked sent")
                self.assertTrue(all(mails.mapped("failure_reason")), "the reason is kept on the mail")
                traces = jobs.mailing_trace_id
                self.assertEqual(len(traces), 3)
                self.assertEqual(set(traces.mapped("trace_status")), {"error"})
                step = flow.step_ids
                step.invalidate_recordset()
                self.assertEqual(step.stat_sent, 0, "the statistics do not count them as sent")
        self.assertGreaterEqual(closing.connections, 1, "Odoo did try the closing server")


# Runs as the cron does (superuser): the SMS queue and scheduler during an outage; no person acts here.
class TestSmsOutage(SalesjetCase, MockSMS):

    def test_gateway_errors_leave_sms_in_error_never_sent(self):
        flow = self.make_flow([{"action_type": "sms", "sms_body": "Hi {{ object.name }}"}])
        partners = self.make_partners(3, prefix="SJ sms outage")
        for i, partner in enumerate(partners):
            partner.mobile = f"+3247055{i:04d}"
        with self.at(T0):
            flow._enroll(partners.ids)
            self.run_scheduler()
        jobs = self.jobs_of(flow)
        self.assertEqual(set(jobs.mapped("state")), {"done"})
        sms = self.env["sms.sms"].browse(jobs.mapped("res_id"))
        self.assertEqual(set(sms.mapped("state")), {"outgoing"})
        for error, failure in (("server_error", "sms_server"), ("credit", "sms_credit")):
            with self.subTest(error=error):
                sms.write({"state": "outgoing", "failure_type": False})
                with self.mockSMSGateway(sim_error=error):
                    sms._send(unlink_failed=False, unlink_sent=False)
                self.assertEqual(set(sms.mapped("state")), {"error"}, "nothing is marked sent")
                self.assertEqual(set(sms.mapped("failure_type")), {failure})
                self.assertFalse(self._sms, "the gateway delivered nothing")


# Runs as the cron does (superuser): the scheduler during a webhook outage; no person acts here.
class TestWebhookOutageIsolation(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = FakeReceiver(default=(500, '{"error": "down"}')).start()
        cls.addClassCleanup(cls.receiver.stop)
        cls.env["ir.config_parameter"].sudo().set_param("salesjet_flows.webhook_allow_private", "True")

    def test_failing_webhook_retries_then_fails_while_other_flows_and_contacts_go_on(self):
        self.env["ir.config_parameter"].sudo().set_param("salesjet_flows.job_max_attempts", 3)
        hook = self.make_flow([{"action_type": "webhook", "webhook_url": f"{self.receiver.url}/down",
                                "webhook_body": '{"id": {{ object.id }}}'}, self.tag_step(self.tag_b)],
                              name="SJ down hook")
        tags = self.make_flow([self.tag_step(self.tag_a)], name="SJ tags")
        partners = self.make_partners(4, prefix="SJ outage")
        with self.at(T0):
            hook._enroll(partners.ids)
            tags._enroll(partners.ids)
            self.run_scheduler()
        tag_jobs = self.jobs_of(tags)
        self.assertEqual(set(tag_jobs.mapped("state")), {"done"}, "the other flow went on in the same batch")
        for partner in partners:
            self.assertTags(partner, present=[self.tag_a], absent=[self.tag_b])
        hook_jobs = self.jobs_of(hook)
        self.assertEqual(set(hook_jobs.mapped("state")), {"pending"})
        self.assertEqual(set(hook_jobs.mapped("scheduled_date")), {T0 + timedelta(minutes=1)}, "backoff")
        self.assertTrue(all("500" in (job.error or "") for job in hook_jobs))
        with self.at(T0 + timedelta(minutes=1)):
            self.run_scheduler()
        self.assertEqual(set(hook_jobs.mapped("scheduled_date")), {T0 + timedelta(minutes=5)})
        with self.at(T0 + timedelta(minutes=5)):
            self.run_scheduler()
        self.assertEqual(set(hook_jobs.mapped("state")), {"failed"})
        self.assertEqual(set(hook_jobs.mapped("attempts")), {3})
        self.assertEqual(set(hook_jobs.mapped("http_status")), {500})
        self.assertEqual(set(hook_jobs.enrollment_id.mapped("state")), {"failed"})
        hook.invalidate_recordset()
        self.assertEqual(hook.failed_job_count, 4, "the failures show on the flow")
        self.assertEqual(len(self.jobs_of(hook)), 4, "a failed run does not go on to its next step")
        self.assertEqual(set(self.jobs_of(tags).enrollment_id.mapped("state")), {"done"})
