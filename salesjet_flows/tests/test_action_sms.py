from odoo.exceptions import ValidationError
from odoo.tests import users

from odoo.addons.salesjet_flows.models.website_visitor import partner_link_proof
from odoo.addons.sms.tests.common import SMSCase

from .common import T0, SalesjetCase


class TestSmsStep(SalesjetCase, SMSCase):

    def sms_step(self, **vals):
        return {"action_type": "sms", "sms_body": "Hi {{ object.name }}, code {{ object.ref ||| #Contact | Code# }}",
                **vals}

    def test_sms_step_queues_a_rendered_sms_to_the_e164_number(self):
        belgium = self.env.ref("base.be")
        flow = self.make_flow([self.sms_step()])
        partner = self.make_partners(1, mobile="0470 12 34 56", country_id=belgium.id)
        with self.at(T0):
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        job = self.jobs_of(flow)
        sms = self.env["sms.sms"].browse(job.res_id)
        self.assertEqual(job.state, "done")
        self.assertEqual(sms.number, "+32470123456")
        self.assertEqual(sms.body, f"Hi {partner.name}, code #Contact | Code#", "a visible default for missing data")
        self.assertEqual(sms.state, "outgoing")
        with self.mockSMSGateway():
            sms.send()
        self.assertSMSIapSent(["+32470123456"], content=f"Hi {partner.name}")

    def test_sms_step_takes_the_number_from_the_event(self):
        flow = self.make_flow([self.sms_step(sms_number_source="event", sms_number_key="phone")])
        partner = self.make_partners(1)
        self.Event.post("sj_test", partner, data={"phone": "+33 6 12 34 56 78"})
        self.run_scheduler()
        self.assertEqual(self.env["sms.sms"].browse(self.jobs_of(flow).res_id).number, "+33612345678")

    def test_sms_step_skips_missing_invalid_and_blacklisted_numbers(self):
        flow = self.make_flow([self.sms_step()])
        belgium = self.env.ref("base.be")
        missing, invalid, blacklisted = self.make_partners(3, country_id=belgium.id)
        invalid.mobile = "12"
        blacklisted.mobile = "+32 470 99 99 99"
        self.env["phone.blacklist"].create({"number": "+32470999999"})
        for partner in (missing, invalid, blacklisted):
            self.Event.post("sj_test", partner)
        self.run_scheduler()
        self.assertEqual(self.jobs_of(flow, missing).result, "No phone number.")
        self.assertEqual(self.jobs_of(flow, invalid).result, "Invalid phone number: 12")
        self.assertIn("blacklisted", self.jobs_of(flow, blacklisted).result)
        self.assertEqual(set(self.jobs_of(flow).mapped("state")), {"skipped"})
        self.assertFalse(self.env["sms.sms"].search([("partner_id", "in", (missing | invalid | blacklisted).ids)]))

    @users("user_flows_admin")
    def test_sms_settings_are_validated(self):
        flow = self.make_flow([])
        with self.assertRaisesRegex(ValidationError, "choose an SMS template or write the text"):
            self.env["salesjet.flow.step"].create({"flow_id": flow.id, "action_type": "sms"})
        with self.assertRaisesRegex(ValidationError, "which value of the event"):
            self.env["salesjet.flow.step"].create({"flow_id": flow.id, **self.sms_step(sms_number_source="event")})

    @users("user_flows_admin")
    def test_send_a_test_sms(self):
        flow = self.make_flow([self.sms_step()])
        wizard = self.env["salesjet.step.test"].create({"step_id": flow.step_ids.id, "phone_to": "+32 470 11 22 33",
                                                        "partner_id": self.make_partners(1).id})
        with self.mockSMSGateway():
            wizard.action_send()
        self.assertSMSIapSent(["+32470112233"], content="Hi SJ contact 0")

    def test_sms_links_are_tracked_per_step_and_clicks_counted(self):
        belgium = self.env.ref("base.be")
        flow = self.make_flow([self.sms_step(
            sms_body="{{ object.name }}: https://shop.example.com/offer and https://shop.example.com/offer/2")])
        partners = self.make_partners(3, country_id=belgium.id)
        for i, partner in enumerate(partners):
            partner.mobile = f"+32 470 12 34 5{i}"
            self.Event.post("sj_test", partner)
        self.run_scheduler()
        step = flow.step_ids
        bodies = self.env["sms.sms"].browse(self.jobs_of(flow).mapped("res_id")).mapped("body")
        trackers = self.env["link.tracker"].search([("mass_mailing_id", "=", step.mailing_id.id)])
        self.assertEqual(sorted(trackers.mapped("url")),
                         ["https://shop.example.com/offer", "https://shop.example.com/offer/2"],
                         "one tracker per distinct link for the whole batch")
        for partner, body in zip(partners, bodies, strict=True):
            # each link carries the contact's signed proof, which identifies the clicker's website visitor
            first, second = trackers if trackers[0].url.endswith("offer") else trackers[::-1]
            proof = f"?sj={partner_link_proof(self.env, partner.id)}"
            self.assertEqual(body, f"{partner.name}: {first.short_url}{proof} and {second.short_url}{proof}")
        Click = self.env["link.tracker.click"]
        offer = trackers.filtered(lambda t: t.url.endswith("/offer"))
        Click.add_click(offer.code, ip="10.0.0.1", country_code="BE")
        Click.add_click(offer.code, ip="10.0.0.2", country_code="BE")
        step.invalidate_recordset()
        self.assertEqual((step.stat_sent, step.stat_clicked), (3, 2))
        self.assertAlmostEqual(step.stat_clicked_ratio, 66.7, places=1)
