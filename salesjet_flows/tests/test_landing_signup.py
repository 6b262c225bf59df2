from odoo import http
from odoo.tests import HttpCase


class TestLandingSignup(HttpCase):
    """A website form sent from a chain trigger's landing page is a registration from that page."""

    def send_form(self, page, email):
        self.authenticate(None, None)
        response = self.url_open("/website/form/crm.lead", data={
            "contact_name": "Fish Lover", "email_from": email, "name": "Join the aquarium club",
            "csrf_token": http.Request.csrf_token(self),
        }, headers={"Referer": f"{self.base_url()}{page}"})
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.json().get("id"))

    def test_a_landing_page_form_starts_the_pet_shop_template_chain(self):
        self.env["salesjet.flow"].search([]).action_archive()
        chain = self.env.ref("salesjet_flows.flow_template_pet_shop_chain")._create_flows()
        chain.action_start()  # a ready-made flow starts as a draft
        self.assertEqual(chain.trigger_ids.landing_page, "/aquarium")
        self.send_form("/aquarium", "fish.lover@example.com")
        self.send_form("/contactus", "other.visitor@example.com")
        jobs = self.env["salesjet.flow.job"].search([("flow_id", "=", chain.id)])
        self.assertEqual(jobs.partner_id.mapped("email"), ["fish.lover@example.com"],
                         "the form of /aquarium starts the chain, another page's does not")
        self.env["salesjet.flow.job"]._process_due_batch()
        self.assertEqual(self.env["mail.mail"].search([("res_id", "=", jobs.partner_id.id),
                                                       ("model", "=", "res.partner")]).subject,
                         "Congratulations on your new fish, Fish Lover!")
        event = self.env["salesjet.event"].search([("code", "=", "landing_signup"),
                                                   ("partner_id", "=", jobs.partner_id.id)])
        self.assertEqual(event.data["page"], "/aquarium")
