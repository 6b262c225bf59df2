from odoo import http
from odoo.tests import tagged

from odoo.addons.salesjet_flows.models.website_visitor import partner_link_proof, trace_link_signature

from .sources_common import SalesjetHttpCase


@tagged("post_install", "-at_install")
class TestVisitorIdentity(SalesjetHttpCase):
    """An anonymous website visitor becomes the contact on server-side proofs only (docs/user-guide.md, Identity)."""

    # pages are served on a read-only cursor when the test says replicas exist, and Odoo then tracks no visit
    readonly_enabled = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pricing = cls.make_page("/pricing", "Pricing")

    def submit_contact_form(self, email="ada@example.com", page="/contactus"):
        values = {"contact_name": "Ada Lovelace", "email_from": email, "name": "Question",
                  "description": "Hello", "csrf_token": http.Request.csrf_token(self)}
        response = self.url_open("/website/form/crm.lead", data=values,
                                 headers={"Referer": f"{self.base_url()}{page}"})
        self.assertEqual(response.status_code, 200, response.text)
        return self.env["crm.lead"].browse(response.json()["id"])

    def visitors_of(self, partner):
        return self.env["website.visitor"].search([("partner_id", "=", partner.id)])

    def pricing_tracks(self):
        return self.env["website.track"].search([("page_id", "=", self.pricing.id)], order="id")

    def test_anonymous_form_sender_becomes_the_contact_and_starts_page_flows(self):
        visited = self.make_flow([self.tag_step(self.tag_a)],
                                 triggers=[{"trigger_type": "page_visit", "page_path": "/pricing"}])
        left = self.make_flow([self.tag_step(self.tag_b)],
                              triggers=[{"trigger_type": "page_leave", "page_path": "/pricing"}])
        condition = self.env["salesjet.flow.condition"].create({
            "step_id": visited.step_ids.id, "condition_type": "page_visited", "page_path": "/pricing",
            "within_days": 7})
        self.authenticate(None, None)
        self.assertEqual(self.url_open("/pricing").status_code, 200)
        first_visit = self.pricing_tracks()
        self.assertEqual(len(first_visit), 1, "Odoo tracked the anonymous visit")
        self.assertFalse(first_visit.visitor_id.partner_id)
        self.assertFalse(self.events("page_visit"), "an anonymous visit raises nothing")

        lead = self.submit_contact_form()
        partner = lead.partner_id
        self.assertTrue(partner, "the form's contact is created")
        self.assertEqual(first_visit.visitor_id.partner_id, partner, "the form linked the sender's visitor")
        # retroactive: the only /pricing visit so far is the one before the form
        self.assertEqual(condition._filter(partner), partner)
        funnel = self.env["salesjet.funnel"].create({"name": "Pricing",
                                                     "page_ids": [(0, 0, {"page_id": self.pricing.id})]})
        in_funnel = self.env["salesjet.flow.condition"].create({
            "step_id": visited.step_ids.id, "condition_type": "in_funnel", "funnel_id": funnel.id})
        self.assertEqual(in_funnel._filter(partner), partner)

        self.assertEqual(self.url_open("/pricing").status_code, 200)
        self.assertEqual(self.post_json("/salesjet/page_left", {"path": "/pricing"}).status_code, 204)
        self.assertEqual(self.events("page_visit").partner_id, partner)
        self.assertEqual(self.events("page_leave").partner_id, partner)
        self.assertEqual(visited.enrollment_ids.partner_id, partner)
        self.assertEqual(left.enrollment_ids.partner_id, partner)
        self.assertEqual(self.visitors_of(partner), first_visit.visitor_id, "the same visitor, the same session")
        self.assertIn(first_visit, self.visitors_of(partner).website_track_ids)

    def test_form_sent_without_any_flow_on_the_web_links_nothing(self):
        self.authenticate(None, None)
        self.url_open("/pricing")
        lead = self.submit_contact_form()
        self.assertFalse(lead.partner_id)
        self.assertFalse(self.pricing_tracks().visitor_id.partner_id)

    # -- tracked links of flow emails -----------------------------------------

    def make_click(self, partner):
        """A flow email's trace for ``partner`` and a tracked link of its step's mailing."""
        flow = self.make_flow([{"action_type": "email", "email_source": "custom", "email_subject": "Hi",
                                "email_body": "<p><a href='https://shop.example.com/offer'>Offer</a></p>"}])
        self.env.company.email = "shop@example.com"
        self.Event.post("sj_test", partner)
        self.run_scheduler()
        job = self.jobs_of(flow, partner)
        mail = self.env["mail.mail"].browse(job.res_id)
        return mail, job.mailing_trace_id

    def test_flow_email_links_carry_the_signature_of_their_trace(self):
        partner = self.make_partners(1)
        mail, trace = self.make_click(partner)
        body = str(mail._prepare_outgoing_body())
        self.assertIn(f"/m/{trace.id}?sj={trace_link_signature(self.env, trace.id)}", body)

    def signed_click_url(self, trace):
        link = self.env["link.tracker"].search([("mass_mailing_id", "=", trace.mass_mailing_id.id)], limit=1)
        self.assertTrue(link)
        return f"/r/{link.code}/m/{trace.id}?sj={trace_link_signature(self.env, trace.id)}"

    def test_signed_click_links_the_visitor_of_the_browser(self):
        partner = self.make_partners(1)
        _mail, trace = self.make_click(partner)
        self.authenticate(None, None)
        self.url_open("/pricing")
        visitor = self.pricing_tracks().visitor_id
        response = self.url_open(self.signed_click_url(trace), allow_redirects=False)
        self.assertIn(response.status_code, (301, 302, 303))
        self.assertEqual(visitor.partner_id, partner)
        self.assertTrue(trace.links_click_datetime, "Odoo still records the click")

    def test_signed_click_in_a_new_browser_links_the_visitor_of_its_first_page(self):
        partner = self.make_partners(1)
        _mail, trace = self.make_click(partner)
        flow = self.make_flow([self.tag_step(self.tag_a)],
                              triggers=[{"trigger_type": "page_visit", "page_path": "/pricing"}])
        self.authenticate(None, None)
        self.url_open(self.signed_click_url(trace), allow_redirects=False)
        self.url_open("/pricing")
        self.assertEqual(self.pricing_tracks().visitor_id.partner_id, partner)
        self.assertEqual(flow.enrollment_ids.partner_id, partner, "the first page already is the contact's")

    def test_forged_requests_link_nothing(self):
        victim = self.make_partners(1, prefix="SJ victim")
        _mail, trace = self.make_click(victim)
        self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": "page_leave"}])
        self.authenticate(None, None)
        self.url_open(f"/pricing?partner_id={victim.id}")
        visitor = self.pricing_tracks().visitor_id
        link = self.env["link.tracker"].search([("mass_mailing_id", "=", trace.mass_mailing_id.id)], limit=1)
        for query in ("", "?sj=", "?sj=0123456789abcdef01234567", f"?sj={trace_link_signature(self.env, trace.id + 1)}",
                      "?sj=%D9%A1%D9%A2"):
            self.url_open(f"/r/{link.code}/m/{trace.id}{query}", allow_redirects=False)
        self.post_json("/salesjet/page_left", {"path": "/pricing", "partner_id": victim.id})
        # a chain answer with a wrong token
        response = self.url_open(f"/salesjet/chain/answer/1.1.1.{'0' * 32}",
                                 data={"csrf_token": http.Request.csrf_token(self)})
        self.assertEqual(response.status_code, 403)
        self.url_open("/pricing")
        visitor.invalidate_recordset()
        self.assertFalse(visitor.partner_id)
        self.assertFalse(self.visitors_of(victim))
        self.assertFalse(self.events("page_leave"))

    # -- tracked links of flow SMS ---------------------------------------------

    def send_flow_sms(self, partner):
        flow = self.make_flow([{"action_type": "sms", "sms_body": "Offer: https://shop.example.com/offer"}])
        self.Event.post("sj_test", partner)
        self.run_scheduler()
        return self.env["sms.sms"].browse(self.jobs_of(flow, partner).res_id)

    def test_flow_sms_link_carries_the_contact_proof_and_a_click_links_the_visitor(self):
        belgium = self.env.ref("base.be")
        partner = self.make_partners(1, mobile="+32 470 12 34 56", country_id=belgium.id)
        sms = self.send_flow_sms(partner)
        proof = partner_link_proof(self.env, partner.id)
        self.assertRegex(sms.body, rf"/r/[A-Za-z0-9]+\?sj={proof}$")
        path = sms.body.split(self.env["salesjet.flow.step"].get_base_url().rstrip("/"), 1)[1]
        self.authenticate(None, None)
        self.url_open("/pricing")
        visitor = self.pricing_tracks().visitor_id
        forged = path.replace(proof, f"{partner.id}.{'0' * 16}")
        self.assertIn(self.url_open(forged, allow_redirects=False).status_code, (301, 302, 303))
        self.assertFalse(visitor.partner_id, "a forged proof links nothing")
        self.assertIn(self.url_open(path, allow_redirects=False).status_code, (301, 302, 303))
        visitor.invalidate_recordset()
        self.assertEqual(visitor.partner_id, partner)

    # -- chain answers ---------------------------------------------------------

    def test_chain_answer_links_the_visitor(self):
        chain = self.env["salesjet.flow"].create({"state": "running", "name": "SJ chain", "kind": "chain"})
        self.env["salesjet.flow.trigger"].create({"flow_id": chain.id, "trigger_type": "api",
                                                  "event_code": "sj_chain"})
        message = self.env["salesjet.chain.message"].create({
            "flow_id": chain.id, "channel": "email", "subject": "Hi", "body": "<p>Hi</p>",
            "button_ids": [(0, 0, {"label": "Yes", "kind": "reply", "reply_text": "Thanks"})]})
        partner = self.make_partners(1)
        self.Event.post("sj_chain", partner)
        enrollment = self.env["salesjet.flow.enrollment"].search([("flow_id", "=", chain.id)])
        token = self.env["salesjet.flow.step"]._chain_answer_token(enrollment.id, message.id, message.button_ids.id)
        self.authenticate(None, None)
        self.url_open("/pricing")
        visitor = self.pricing_tracks().visitor_id
        self.assertEqual(self.url_open(f"/salesjet/chain/answer/{token}").status_code, 200)
        self.assertFalse(visitor.partner_id, "opening the answer page (a GET, maybe a mail scanner) proves nothing")
        response = self.url_open(f"/salesjet/chain/answer/{token}", data={"csrf_token": http.Request.csrf_token(self)})
        self.assertEqual(response.status_code, 200)
        visitor.invalidate_recordset()
        self.assertEqual(visitor.partner_id, partner)

    # -- merging ---------------------------------------------------------------

    def test_two_visitors_of_one_contact_merge_with_their_visits(self):
        self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": "page_visit", "page_path": "/x"}])
        self.authenticate(None, None)
        self.url_open("/pricing")
        self.submit_contact_form()
        first = self.pricing_tracks().visitor_id
        partner = first.partner_id
        self.assertTrue(partner)
        # another browser (another session) of the same person
        self.authenticate(None, None)
        self.url_open("/sj-offer")
        second = self.env["website.track"].search([("page_id", "=", self.tracked_page.id)]).visitor_id
        self.assertNotEqual(first, second)
        self.submit_contact_form()
        visitors = self.visitors_of(partner)
        self.assertEqual(visitors, second, "merged into the visitor of the browser in use")
        self.assertEqual(visitors.website_track_ids.page_id, self.pricing | self.tracked_page)
        self.assertFalse(first.exists())
        self.assertEqual(len(visitors.lead_ids), 2, "the leads follow the merge (website_crm)")
