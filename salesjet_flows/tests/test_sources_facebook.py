import hashlib
import hmac
import json
from datetime import timedelta

from odoo.tests import tagged

from .sources_common import FakeHttpServer, SalesjetHttpCase

URL = "/salesjet/facebook/webhook"
SECRET = "app-secret-for-tests"


@tagged("post_install", "-at_install")
class TestFacebookLeadAds(SalesjetHttpCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.graph = FakeHttpServer().start()
        cls.addClassCleanup(cls.graph.stop)
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param("salesjet_flows.facebook_verify_token", "verify-me")
        params.set_param("salesjet_flows.facebook_app_secret", SECRET)
        params.set_param("salesjet_flows.facebook_graph_url", cls.graph.url)
        params.set_param("salesjet_flows.facebook_graph_version", "v19.0")
        cls.form = cls.env["salesjet.facebook.form"].create({
            "name": "Spring promotion", "page_id": "1111", "form_id": "2222", "access_token": "page-token",
            "field_ids": [(0, 0, {"facebook_field": "email", "partner_field": "email"}),
                          (0, 0, {"facebook_field": "full_name", "partner_field": "name"}),
                          (0, 0, {"facebook_field": "phone_number", "partner_field": "phone"}),
                          (0, 0, {"facebook_field": "city", "partner_field": "city"})],
        })
        cls.flow = cls.make_flow([cls.tag_step(cls.tag_a)], triggers=[
            {"trigger_type": "facebook_lead", "facebook_form_id": cls.form.id}])

    def setUp(self):
        super().setUp()
        self.graph.routes.clear()
        self.graph.calls.clear()
        self.graph.headers.clear()

    def graph_lead(self, leadgen_id, email="fb.lead@example.com", status=200):
        self.graph.routes[f"/v19.0/{leadgen_id}"] = (status, {"id": leadgen_id, "field_data": [
            {"name": "email", "values": [email]},
            {"name": "full_name", "values": ["Facebook Lead"]},
            {"name": "phone_number", "values": ["+32470999888"]},
            {"name": "city", "values": ["Ghent"]},
        ]})

    def notify(self, leadgen_id, form_id="2222", secret=SECRET, raw=None, signature=None):
        body = raw if raw is not None else json.dumps({"object": "page", "entry": [{
            "id": "1111", "time": 1, "changes": [
                {"field": "leadgen", "value": {"leadgen_id": leadgen_id, "page_id": "1111", "form_id": form_id}}]}]}
        ).encode()
        headers = {}
        if secret:
            headers["X-Hub-Signature-256"] = signature or "sha256=" + hmac.new(
                secret.encode(), body, hashlib.sha256).hexdigest()
        return self.post_json(URL, raw=body, headers=headers)

    def test_handshake_echoes_the_challenge_only_for_our_verify_token(self):
        ok = self.url_open(f"{URL}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")
        self.assertEqual(ok.status_code, 200)
        self.assertEqual(ok.text, "1158201444")
        for query in ("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
                      "hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1", ""):
            response = self.url_open(f"{URL}?{query}")
            self.assertEqual(response.status_code, 403, query)
            self.assertNotIn("1158201444", response.text)

    def test_signed_notification_fetches_the_lead_maps_it_and_starts_the_flow(self):
        self.graph_lead("5550001")
        response = self.notify("5550001")
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json(), {"received": 1, "ignored": 0})
        self.assertEqual(self.graph.calls, ["/v19.0/5550001"], "the page token is not in the URL")
        self.assertEqual(self.graph.headers[0]["Authorization"], "Bearer page-token")
        event = self.events("facebook_lead")
        self.assertEqual(event.external_id, "facebook:5550001")
        self.assertEqual(event.state, "done")
        partner = event.partner_id
        self.assertEqual((partner.name, partner.email, partner.phone, partner.city),
                         ("Facebook Lead", "fb.lead@example.com", "+32470999888", "Ghent"))
        self.assertEqual(event.data["fields"]["city"], "Ghent")
        self.assertEqual(self.flow.enrollment_ids.partner_id, partner)

    def test_facebook_lead_becomes_a_crm_lead_that_the_run_keeps(self):
        team = self.env["crm.team"].create({"name": "SJ Facebook team"})
        self.form.team_id = team
        self.graph_lead("5550009")
        self.notify("5550009")
        event = self.events("facebook_lead")
        lead = event.lead_id
        self.assertTrue(lead, "a CRM lead is created for the ad's lead")
        self.assertEqual(lead.partner_id, event.partner_id)
        self.assertEqual((lead.source_id, lead.medium_id, lead.team_id),
                         (self.env.ref("utm.utm_source_facebook"), self.env.ref("utm.utm_medium_facebook"), team))
        self.assertIn("Ghent", lead.description)
        self.assertEqual((self.flow.enrollment_ids.partner_id, self.flow.enrollment_ids.lead_id),
                         (event.partner_id, lead))
        self.notify("5550009")
        self.assertEqual(self.env["crm.lead"].search_count([("partner_id", "=", event.partner_id.id)]), 1,
                         "a second notification creates no second lead")

    def test_second_notification_of_the_same_lead_changes_nothing(self):
        self.graph_lead("5550002")
        self.notify("5550002")
        self.notify("5550002")
        self.assertEqual(len(self.events("facebook_lead")), 1)
        self.assertEqual(len(self.graph.calls), 1, "the lead is read once")
        self.assertEqual(self.flow.enrollment_count, 1)

    def test_existing_contact_is_found_by_email(self):
        known = self.env["res.partner"].create({"name": "Known", "email": "known@example.com"})
        self.graph_lead("5550003", email="KNOWN@example.com")
        self.notify("5550003")
        self.assertEqual(self.events("facebook_lead").partner_id, known)

    def test_unsigned_or_wrongly_signed_notifications_are_refused(self):
        self.graph_lead("5550004")
        self.assertEqual(self.notify("5550004", secret=None).status_code, 403)
        self.assertEqual(self.notify("5550004", secret="other-secret").status_code, 403)
        self.assertEqual(self.notify("5550004", signature="sha256=00").status_code, 403)
        self.assertFalse(self.events("facebook_lead"))
        self.assertFalse(self.graph.calls)

    def test_graph_failure_keeps_the_notification_and_the_cron_retries_it(self):
        self.graph.routes["/v19.0/5550005"] = (500, {"error": {"message": "Service temporarily unavailable"}})
        self.assertEqual(self.notify("5550005").status_code, 200, "Facebook is told the notification arrived")
        event = self.events("facebook_lead")
        self.assertEqual(event.state, "failed")
        self.assertIn("Service temporarily unavailable", event.error)
        self.assertFalse(event.partner_id)
        self.graph_lead("5550005")
        with self.at(event.date_next_attempt + timedelta(seconds=1)):
            self.Event._cron_process_events()
        self.assertEqual(event.state, "done")
        self.assertEqual(event.partner_id.email, "fb.lead@example.com")
        self.assertEqual(self.flow.enrollment_ids.partner_id, event.partner_id)

    def test_garbage_is_refused_and_unknown_forms_ignored(self):
        self.assertEqual(self.notify(None, raw=b"{not json").status_code, 400)
        self.assertEqual(self.notify(None, raw=b'{"entry": "nope"}').status_code, 400)
        bad_id = json.dumps({"entry": [{"changes": [{"field": "leadgen", "value": {
            "leadgen_id": "12; DROP", "page_id": "1111", "form_id": "2222"}}]}]}).encode()
        self.assertEqual(self.notify(None, raw=bad_id).status_code, 400)
        self.assertEqual(self.notify(None, raw=b"{" + b" " * 300000 + b"}").status_code, 413)
        response = self.notify("5550006", form_id="9999")
        self.assertEqual(response.json(), {"received": 0, "ignored": 1})
        self.assertFalse(self.events("facebook_lead"))
        self.assertFalse(self.graph.calls)

    def test_access_token_is_for_administrators_only(self):
        manager = self.env["res.users"].create({
            "name": "Flow manager", "login": "sj_fb_manager",
            "groups_id": [(6, 0, [self.env.ref("salesjet_flows.group_salesjet_manager").id])]})
        self.assertNotIn("access_token", self.form.with_user(manager).fields_get())

    def test_page_token_travels_in_a_header_and_never_reaches_the_event_error(self):
        self.graph.routes["/v19.0/5550007"] = (
            400, {"error": {"message": "Invalid token page-token for this lead"}})  # a Graph that quotes it
        self.notify("5550007")
        event = self.events("facebook_lead")
        self.assertEqual(event.state, "failed")
        self.assertEqual(self.graph.calls, ["/v19.0/5550007"])
        self.assertEqual(self.graph.headers[0]["Authorization"], "Bearer page-token")
        self.assertIn("[redacted]", event.error)
        self.assertNotIn("page-token", event.error)

    def test_a_connection_error_does_not_copy_the_page_token_into_the_event_error(self):
        # nothing listens on the discard port: requests' error quotes the whole URL it tried
        self.env["ir.config_parameter"].sudo().set_param("salesjet_flows.facebook_graph_url", "http://127.0.0.1:9")
        self.notify("5550008")
        event = self.events("facebook_lead")
        self.assertEqual(event.state, "failed")
        self.assertIn("5550008", event.error, "the error still says which lead failed")
        self.assertNotIn("page-token", event.error)
        user = self.env["res.users"].create({
            "name": "Flows reader", "login": "sj_fb_reader",
            "groups_id": [(6, 0, [self.env.ref("salesjet_flows.group_salesjet_user").id])]})
        self.assertNotIn("page-token", event.with_user(user).read(["error"])[0]["error"])
