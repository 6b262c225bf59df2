"""Consent: contacts who opted out (blacklisted email or phone) and archived contacts get no
message from any step, first runs and repeats alike, and the job says why."""
from datetime import timedelta

from .common import T0, SalesjetCase

EMAIL_REASONS = {"email_blacklisted": "Email address blacklisted", "archived": "Contact archived."}
PHONE_REASONS = {"phone_blacklisted": "Phone number blacklisted", "archived": "Contact archived."}


# Runs as the cron does (superuser): the scheduler honouring consent at send time; no person acts here.
class TestConsent(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.email = "shop@example.com"
        cls.env["ir.config_parameter"].sudo().set_param("salesjet_flows.call_provider", "activity")
        cls.belgium = cls.env.ref("base.be")
        cls.call_template = cls.env["salesjet.call.template"].create({
            "name": "SJ consent call", "line_ids": [(0, 0, {"kind": "say", "text": "Hello {{ object.name }}"})]})

    def contacts(self, tag):
        """One contact of each kind, all with an email address and a mobile number."""
        Partner = self.env["res.partner"].with_context(active_test=False)
        kinds = {}
        for i, kind in enumerate(("control", "email_blacklisted", "phone_blacklisted", "archived")):
            kinds[kind] = Partner.create({
                "name": f"SJ consent {tag} {kind}", "email": f"sj.consent.{tag}.{kind}@example.com",
                "mobile": f"+3247066{i}{len(tag):03d}"[:12], "country_id": self.belgium.id})
        self.env["mail.blacklist"]._add(kinds["email_blacklisted"].email)
        self.env["phone.blacklist"]._add([kinds["phone_blacklisted"].mobile])
        kinds["archived"].active = False
        return kinds

    def messages_to(self, partner):
        """Everything that could reach the contact: mails, SMS, calls (activities) of flows."""
        return {
            "mail": self.env["mail.mail"].search_count([("recipient_ids", "in", partner.id)]),
            "sms": self.env["sms.sms"].search_count([("partner_id", "=", partner.id)]),
            "call": self.env["mail.activity"].search_count([("res_model", "=", "res.partner"),
                                                            ("res_id", "=", partner.id)]),
        }

    def chain(self, channel):
        flow = self.env["salesjet.flow"].create({"state": "running",
            "name": f"SJ consent chain {channel}", "kind": "chain"})
        self.env["salesjet.flow.trigger"].create({"flow_id": flow.id, "trigger_type": "api",
                                                 "event_code": "sj_test"})
        self.env["salesjet.chain.message"].create([{
            "flow_id": flow.id, "sequence": seq, "channel": channel, "subject": "Chain {{ object.name }}",
            "body": "<p>Message {{ object.name }}</p>", "delay_value": seq - 1, "delay_unit": "hours",
        } for seq in (1, 2)])
        return flow

    def test_opted_out_and_archived_contacts_get_no_message_from_any_step(self):
        repeat = {"repeat": True, "repeat_interval": 1, "repeat_unit": "days", "repeat_max": 2}
        table = [
            # (label, how to build the flow, channel it uses, {kind: skip reason})
            ("email", lambda: self.make_flow([{"action_type": "email", "email_source": "custom",
                                               "email_subject": "Hi {{ object.name }}", "email_body": "<p>Hi</p>",
                                               **repeat}]), "mail", EMAIL_REASONS),
            ("sms", lambda: self.make_flow([{"action_type": "sms", "sms_body": "Hi {{ object.name }}", **repeat}]),
             "sms", PHONE_REASONS),
            ("call", lambda: self.make_flow([{"action_type": "call", "call_template_id": self.call_template.id,
                                              **repeat}]), "call", PHONE_REASONS),
            ("chain email", lambda: self.chain("email"), "mail", EMAIL_REASONS),
            ("chain sms", lambda: self.chain("sms"), "sms", PHONE_REASONS),
        ]
        for label, make, channel, reasons in table:
            with self.subTest(label):
                self.env["salesjet.flow"].search([]).action_archive()
                flow = make()
                kinds = self.contacts(label.replace(" ", ""))
                before = {kind: self.messages_to(partner) for kind, partner in kinds.items()}
                with self.at(T0):
                    flow._enroll([partner.id for partner in kinds.values()])
                    self.run_scheduler()
                # repeats and later chain messages
                for days in (1, 2, 3):
                    with self.at(T0 + timedelta(days=days)):
                        self.run_scheduler()
                for kind, partner in kinds.items():
                    jobs = self.jobs_of(flow, partner)
                    sent = self.messages_to(partner)[channel] - before[kind][channel]
                    if kind in reasons:
                        self.assertEqual(sent, 0, f"{label}: {kind} got a message")
                        self.assertTrue(jobs)
                        for job in jobs:
                            self.assertEqual(job.state, "skipped", f"{label}: {kind}")
                            self.assertIn(reasons[kind], job.result, f"{label}: {kind}")
                    else:
                        # the control contacts do get their messages: the test would see one
                        self.assertGreaterEqual(sent, 2, f"{label}: {kind} should get the repeats/chain messages")

    def test_list_step_does_not_subscribe_again_a_contact_who_opted_out(self):
        mailing_list = self.env["mailing.list"].create({"name": "SJ consent list"})
        partner = self.make_partners(1, prefix="SJ consent list")
        contact = self.env["mailing.contact"].create({"name": partner.name, "email": partner.email,
                                                      "list_ids": [(4, mailing_list.id)]})
        contact.subscription_ids.write({"opt_out": True})
        flow = self.make_flow([{"action_type": "list_add", "mailing_list_id": mailing_list.id}])
        with self.at(T0):
            flow._enroll(partner.ids)
            self.run_scheduler()
        job = self.jobs_of(flow)
        self.assertEqual(job.state, "skipped", job.result)
        self.assertTrue(contact.subscription_ids.opt_out, "still opted out")
