from datetime import timedelta

from odoo import fields, http
from odoo.tests import tagged, users

from .sources_common import SalesjetHttpCase


@tagged("post_install", "-at_install")
class TestFunnelRegistrants(SalesjetHttpCase):
    """A funnel's registrants: contacts who sent a website form from one of its pages."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.funnel = cls.env["salesjet.funnel"].create({"name": "Spring", "page_ids": [
            (0, 0, {"path": "/lp-a"}), (0, 0, {"path": "/lp-b/*"})]})

    def submit_form(self, email, page):
        values = {"contact_name": email.split("@")[0], "email_from": email, "name": "Register",
                  "csrf_token": http.Request.csrf_token(self)}
        response = self.url_open("/website/form/crm.lead", data=values,
                                 headers={"Referer": f"{self.base_url()}{page}"})
        self.assertEqual(response.status_code, 200, response.text)
        return self.env["crm.lead"].browse(response.json()["id"]).partner_id

    def test_registrants_of_each_landing_page_start_the_flow_and_pass_the_condition(self):
        flow = self.make_flow([self.tag_step(self.tag_a)], triggers=[
            {"trigger_type": "funnel_registered", "funnel_id": self.funnel.id}])
        condition = self.env["salesjet.flow.condition"].create({
            "step_id": flow.step_ids.id, "condition_type": "funnel_registered", "funnel_id": self.funnel.id})
        self.assertEqual(condition.name, "registered in Spring")
        self.authenticate(None, None)
        on_a = self.submit_form("a@example.com", "/lp-a?utm_source=ad")
        on_b = self.submit_form("b@example.com", "/lp-b/step-2")
        elsewhere = self.submit_form("c@example.com", "/contactus")
        self.assertTrue(on_a and on_b and elsewhere, "the funnel trigger listens to forms: contacts are found")
        self.assertEqual(flow.enrollment_ids.partner_id, on_a | on_b)
        self.assertEqual(condition._filter(on_a | on_b | elsewhere), on_a | on_b)
        condition.negate = True
        self.assertEqual(condition._filter(on_a | on_b | elsewhere), elsewhere)
        self.assertEqual(self.funnel.registrant_count, 2)
        action = self.funnel.action_view_registrants()
        registrations = self.env[action["res_model"]].search(action["domain"])
        self.assertEqual(registrations.partner_id, on_a | on_b)
        self.assertEqual(set(registrations.mapped("kind")), {"website_form"})

    def test_registered_within_days_counts_only_recent_forms(self):
        self.make_flow([self.tag_step(self.tag_a)], triggers=[
            {"trigger_type": "funnel_registered", "funnel_id": self.funnel.id}])
        flow = self.make_flow([self.tag_step(self.tag_b)])
        condition = self.env["salesjet.flow.condition"].create({
            "step_id": flow.step_ids.id, "condition_type": "funnel_registered", "funnel_id": self.funnel.id,
            "within_days": 7})
        self.authenticate(None, None)
        old = self.submit_form("old@example.com", "/lp-a")
        recent = self.submit_form("recent@example.com", "/lp-b")
        old_event = self.events("website_form").filtered(lambda e: e.partner_id == old)
        self.env.cr.execute("UPDATE salesjet_event SET create_date = %s WHERE id = %s",
                            (fields.Datetime.now() - timedelta(days=30), old_event.id))
        self.env.invalidate_all()
        self.assertEqual(condition._filter(old | recent), recent)
        condition.within_days = 0
        self.assertEqual(condition._filter(old | recent), old | recent)

    @users("user_flows_admin")
    def test_funnel_registration_settings_are_required(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        with self.assertRaisesRegex(Exception, "choose the funnel"):
            self.env["salesjet.flow.trigger"].create({"flow_id": flow.id, "trigger_type": "funnel_registered"})
        with self.assertRaisesRegex(Exception, "Choose the funnel"):
            self.env["salesjet.flow.condition"].create({"step_id": flow.step_ids.id,
                                                        "condition_type": "funnel_registered"})

    def test_funnel_of_another_company_does_not_count_its_forms(self):
        other = self.env["res.company"].create({"name": "SJ other company"})
        foreign = self.env["salesjet.funnel"].create({"name": "Foreign", "company_id": other.id,
                                                      "page_ids": [(0, 0, {"path": "/lp-a"})]})
        self.make_flow([self.tag_step(self.tag_a)], triggers=[
            {"trigger_type": "funnel_registered", "funnel_id": self.funnel.id}])
        self.authenticate(None, None)
        self.submit_form("a@example.com", "/lp-a")
        self.assertEqual(self.funnel.registrant_count, 1)
        self.assertEqual(foreign.registrant_count, 0)
