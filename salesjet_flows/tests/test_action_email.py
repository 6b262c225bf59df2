from datetime import timedelta

from odoo import SUPERUSER_ID
from odoo.exceptions import ValidationError
from odoo.tests import users

from odoo.addons.mail.tests.common import MockEmail

from .common import T0, SalesjetCase


class TestEmailStep(SalesjetCase, MockEmail):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.email = "shop@example.com"

    def email_step(self, **vals):
        return {
            "action_type": "email", "email_source": "custom",
            "email_subject": "Hello {{ object.name }}",
            "email_body": "<p>Dear {{ object.name ||| friend }}, plan {{ event.get('plan') ||| basic }}. "
                          "<a href='https://shop.example.com/offer'>Offer</a></p>",
            **vals,
        }

    def test_email_step_queues_a_rendered_tracked_mail_per_contact(self):
        flow = self.make_flow([self.email_step()])
        alice, bob = self.make_partners(2)
        with self.at(T0):
            self.Event.post("sj_test", alice, data={"plan": "gold"})
            self.Event.post("sj_test", bob)
            self.run_scheduler()
        step = flow.step_ids
        self.assertTrue(step.mail_template_id.salesjet_step_id == step, "the text is saved as the step's template")
        for partner, plan in ((alice, "gold"), (bob, "basic")):
            job = self.jobs_of(flow, partner)
            self.assertEqual(job.state, "done")
            mail = self.env["mail.mail"].browse(job.res_id)
            self.assertEqual(job.res_model, "mail.mail")
            self.assertEqual(mail.subject, f"Hello {partner.name}")
            self.assertIn(f"Dear {partner.name}, plan {plan}.", str(mail.body_html))
            self.assertEqual(mail.recipient_ids, partner)
            self.assertEqual(mail.state, "outgoing", "queued in Odoo's mail queue")
            self.assertEqual(mail.mailing_id, step.mailing_id)
            self.assertIn("/r/", str(mail.body_html), "links are shortened for click tracking")
            trace = job.mailing_trace_id
            self.assertEqual((trace.model, trace.res_id, trace.mass_mailing_id),
                             ("res.partner", partner.id, step.mailing_id))

    def test_email_step_escapes_html_from_contact_data(self):
        flow = self.make_flow([self.email_step()])
        partner = self.make_partners(1)
        partner.name = "<script>alert(1)</script>"
        self.Event.post("sj_test", partner)
        self.run_scheduler()
        body = str(self.env["mail.mail"].browse(self.jobs_of(flow).res_id).body_html)
        self.assertNotIn("<script>", body)
        self.assertIn("&lt;script&gt;", body)

    def test_email_step_skips_contacts_who_cannot_be_mailed(self):
        flow = self.make_flow([self.email_step()])
        no_email, invalid, blacklisted, archived, ok = self.make_partners(5)
        no_email.email = False
        invalid.email = "not-an-email"
        self.env["mail.blacklist"].create({"email": blacklisted.email})
        for partner in (no_email, invalid, blacklisted, archived, ok):
            self.Event.post("sj_test", partner)
        archived.active = False
        self.run_scheduler()
        reasons = {p: self.jobs_of(flow, p).result for p in (no_email, invalid, blacklisted, archived)}
        self.assertEqual(reasons[no_email], "No email address.")
        self.assertEqual(reasons[invalid], "Invalid email address.")
        self.assertIn("blacklisted", reasons[blacklisted])
        self.assertEqual(reasons[archived], "Contact archived.")
        for partner in (no_email, invalid, blacklisted, archived):
            self.assertEqual(self.jobs_of(flow, partner).state, "skipped")
        self.assertEqual(self.jobs_of(flow, ok).state, "done")
        self.assertEqual(self.env["mail.mail"].search_count([("mailing_id", "=", flow.step_ids.mailing_id.id)]), 1)

    def test_email_to_a_fixed_address_notifies_staff_without_tracking(self):
        flow = self.make_flow([self.email_step(email_to_mode="fixed", email_to_fixed="sales@example.com",
                                               email_subject="New lead: {{ object.name }}")])
        partner = self.make_partners(1)
        partner.email = False  # the contact's own address does not matter here
        self.Event.post("sj_test", partner)
        self.run_scheduler()
        job = self.jobs_of(flow)
        mail = self.env["mail.mail"].browse(job.res_id)
        self.assertEqual(job.state, "done")
        self.assertEqual(mail.email_to, "sales@example.com")
        self.assertEqual(mail.subject, f"New lead: {partner.name}")
        self.assertFalse(job.mailing_trace_id)

    def test_email_step_uses_an_existing_template_and_the_chosen_server(self):
        server = self.env["ir.mail_server"].create({"name": "Flows SMTP", "smtp_host": "127.0.0.1", "smtp_port": 2525})
        template = self.env["mail.template"].create({
            "name": "Welcome", "model_id": self.env["ir.model"]._get_id("res.partner"),
            "subject": "Welcome {{ object.name }}", "body_html": "<p>Hi <t t-out='object.name'/></p>"})
        flow = self.make_flow([{"action_type": "email", "email_source": "template", "mail_template_id": template.id,
                                "mail_server_id": server.id}])
        partner = self.make_partners(1)
        self.Event.post("sj_test", partner)
        self.run_scheduler()
        mail = self.env["mail.mail"].browse(self.jobs_of(flow).res_id)
        self.assertEqual(mail.subject, f"Welcome {partner.name}")
        self.assertEqual(mail.mail_server_id, server)
        self.assertEqual(flow.step_ids.mail_template_id, template, "an existing template is not copied")

    def test_resend_until_opened_stops_once_the_mail_is_opened(self):
        flow = self.make_flow([self.email_step(repeat=True, repeat_interval=2, repeat_unit="days", repeat_max=3)])
        step = flow.step_ids
        self.env["salesjet.flow.condition"].create({
            "step_id": step.id, "condition_type": "email_opened", "negate": True, "mail_step_id": step.id})
        partner = self.make_partners(1)
        with self.at(T0):
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        with self.at(T0 + timedelta(days=2)):
            self.run_scheduler()
        self.assertEqual(self.jobs_of(flow).mapped("state"), ["done", "done", "pending"])
        self.jobs_of(flow)[1].mailing_trace_id.set_opened()
        with self.at(T0 + timedelta(days=4)):
            self.run_scheduler()
        jobs = self.jobs_of(flow)
        self.assertEqual(jobs.mapped("state"), ["done", "done", "skipped"])
        self.assertEqual(self.env["mail.mail"].search_count([("mailing_id", "=", step.mailing_id.id)]), 2)
        self.assertEqual(jobs.enrollment_id.state, "done")

    def test_link_clicked_condition(self):
        flow = self.make_flow([self.email_step()])
        clicker, other = self.make_partners(2)
        for partner in (clicker, other):
            self.Event.post("sj_test", partner)
        self.run_scheduler()
        self.jobs_of(flow, clicker).mailing_trace_id.set_clicked()
        condition = self.env["salesjet.flow.condition"].create({
            "step_id": flow.step_ids.id, "condition_type": "email_clicked", "mail_step_id": flow.step_ids.id})
        self.assertEqual(condition._filter(clicker | other), clicker)
        condition.condition_type = "email_opened"
        self.assertEqual(condition._filter(clicker | other), clicker, "a click counts as an open")

    @users("user_flows_admin")
    def test_bad_email_settings_are_refused(self):
        flow = self.make_flow([])
        Step = self.env["salesjet.flow.step"]
        with self.assertRaisesRegex(ValidationError, "write the email's subject"):
            Step.create({"flow_id": flow.id, "action_type": "email", "email_source": "custom"})
        with self.assertRaisesRegex(ValidationError, "choose the email template"):
            Step.create({"flow_id": flow.id, "action_type": "email", "email_source": "template"})
        with self.assertRaisesRegex(ValidationError, "not a valid email address"):
            Step.create({"flow_id": flow.id, **self.email_step(email_to_mode="fixed", email_to_fixed="nope")})
        broken = {"flow_id": flow.id, **self.email_step(email_subject="Hi {{ object.no_such_field }}")}
        with self.assertRaisesRegex(ValidationError, "the placeholder “object.no_such_field” is not allowed"):
            Step.create(broken)
        with self.assertRaisesRegex(ValidationError, "does not render"):
            Step.with_user(SUPERUSER_ID).create(broken)  # Settings administrators: still must render

    @users("user_flows_admin")
    def test_send_a_test_email_really_sends_it(self):
        flow = self.make_flow([self.email_step()])
        wizard = self.env["salesjet.step.test"].create({
            "step_id": flow.step_ids.id, "partner_id": self.make_partners(1).id, "email_to": "tester@example.com"})
        with self.mock_mail_gateway():
            wizard.action_send()
        self.assertSentEmail(self.env.company.email_formatted, ["tester@example.com"])
        self.assertIn("[Test] Hello SJ contact 0", self._mails[0]["subject"])
