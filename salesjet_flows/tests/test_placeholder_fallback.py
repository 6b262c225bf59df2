from odoo.tests import Form

from odoo.addons.mail.tests.common import MockEmail
from odoo.addons.sms.tests.common import SMSCase

from ..tools.placeholders import placeholder_fallback, with_fallbacks
from .common import SalesjetCase


class TestPlaceholderFallback(SalesjetCase, SMSCase, MockEmail):
    """A missing value never renders empty: every placeholder shows a visible fallback
    (``#Contact | Phone#``) unless its author wrote another one with ``||| default``."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.email = "shop@example.com"
        cls.partner = cls.env["res.partner"].create({
            "name": "No Phone", "email": "no.phone@example.com", "mobile": "+32470555555", "lang": "en_US"})

    def sms_of(self, flow):
        job = self.jobs_of(flow, self.partner)
        self.assertEqual(job.state, "done", job.result)
        return self.env["sms.sms"].browse(job.res_id)

    def test_sms_with_a_missing_phone_shows_the_fields_label_not_a_blank(self):
        flow = self.make_flow([{"action_type": "sms",
                                "sms_body": "Call us back at {{ object.phone }}, {{ object.name }}."}])
        self.Event.post("sj_test", self.partner)
        self.run_scheduler()
        self.assertEqual(self.sms_of(flow).body, "Call us back at #Contact | Phone#, No Phone.")

    def test_authors_default_wins_over_the_fallback(self):
        flow = self.make_flow([{"action_type": "sms",
                                "sms_body": "Call us back at {{ object.phone ||| our shop }}."}])
        self.Event.post("sj_test", self.partner)
        self.run_scheduler()
        self.assertEqual(self.sms_of(flow).body, "Call us back at our shop.")

    def test_missing_event_and_lead_values_show_their_labels(self):
        flow = self.make_flow([{"action_type": "sms", "sms_body":
                                "{{ event.get('age') }} / {{ event.get('city') }} / {{ lead.name }} / "
                                "{{ event.get('size') }}"}])
        self.Event.post("sj_test", self.partner, data={"city": "", "fields": {"size": "XL"}})
        self.run_scheduler()
        self.assertEqual(self.sms_of(flow).body, "#Event | age# / #Event | city# / #Lead | Opportunity# / XL",
                         "an empty value counts as missing; a form's fields are read at the top of event")

    def test_email_subject_and_body_show_the_fallback(self):
        flow = self.make_flow([{
            "action_type": "email", "email_source": "custom",
            "email_subject": "Your number {{ object.phone }}",
            "email_body": "<p>We call {{ object.phone }} or {{ object.name ||| you }}.</p>",
        }])
        self.Event.post("sj_test", self.partner)
        self.run_scheduler()
        job = self.jobs_of(flow, self.partner)
        mail = self.env["mail.mail"].browse(job.res_id)
        self.assertEqual(mail.subject, "Your number #Contact | Phone#")
        self.assertIn("We call #Contact | Phone# or No Phone.", str(mail.body_html))

    def test_note_shows_the_fallback(self):
        self.make_flow([{"action_type": "note", "note_body": "Phone: {{ object.phone }}"}])
        self.Event.post("sj_test", self.partner)
        self.run_scheduler()
        self.assertIn("Phone: #Contact | Phone#", self.partner.message_ids[:1].body)

    def test_webhooks_keep_missing_values_empty(self):
        # data for machines: a fallback text would be taken for a value
        self.assertEqual(with_fallbacks(self.env, ""), "")
        step = self.make_flow([{"action_type": "note", "note_body": "x"}]).step_ids
        self.assertEqual(step._render_preview("{{ object.phone }}", self.partner, {}, fallbacks=False), "")
        self.assertEqual(step._render_preview("{{ object.phone }}", self.partner, {}), "#Contact | Phone#")

    def test_fallback_rule(self):
        self.assertEqual(placeholder_fallback(self.env, "object.country_id.name"), "#Contact | Country | Country Name#")
        self.assertEqual(placeholder_fallback(self.env, "format_date(object.create_date)"), "#Contact | Created on#")
        self.assertEqual(placeholder_fallback(self.env, "event['plan']"), "#Event | plan#")
        self.assertEqual(placeholder_fallback(self.env, "1 + 1"), "#Value#")
        self.assertEqual(with_fallbacks(self.env, '<p><t t-out="object.phone"/></p>', "qweb"),
                         '<p><t t-out="object.phone">#Contact | Phone#</t></p>')

    def test_picker_builds_a_placeholder_with_its_fallback(self):
        step = self.make_flow([{"action_type": "sms", "sms_body": "Hi"}]).step_ids
        with Form(step) as form:
            form.placeholder_field_id = self.env["ir.model.fields"]._get("res.partner", "phone")
            self.assertEqual(form.placeholder_snippet, "{{ object.phone ||| #Contact | Phone# }}")
            form.placeholder_root = "event"
            form.placeholder_event_key = "age"
            self.assertEqual(form.placeholder_snippet, "{{ event.get('age') ||| #Event | age# }}")
            form.placeholder_root = "lead"
            form.placeholder_field_id = self.env["ir.model.fields"]._get("crm.lead", "email_from")
            self.assertEqual(form.placeholder_snippet, "{{ lead.email_from ||| #Lead | Email# }}")

    def test_sms_preview_renders_for_the_sample_contact_or_the_user(self):
        step = self.make_flow([{"action_type": "sms",
                                "sms_body": "Hi {{ object.name }}, call {{ object.phone }}"}]).step_ids
        step.preview_partner_id = self.partner
        self.assertEqual(step.sms_preview, "Hi No Phone, call #Contact | Phone#")
        step.preview_partner_id = False
        self.assertIn(f"Hi {self.env.user.partner_id.name}", step.sms_preview)
