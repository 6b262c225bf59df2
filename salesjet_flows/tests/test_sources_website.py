import base64
from datetime import timedelta
from unittest.mock import patch

from odoo import http
from odoo.tests import tagged, users
from odoo.tools import SQL

from odoo.addons.salesjet_flows.models.salesjet_event import SalesjetEvent

from .common import T0
from .sources_common import SalesjetHttpCase


@tagged("post_install", "-at_install")
class TestWebsiteFormSource(SalesjetHttpCase):

    def submit_contact_form(self, page="/contactus", **fields):
        values = {"contact_name": "Ada Lovelace", "email_from": "Ada.Lovelace@Example.com", "phone": "",
                  "name": "Question about pricing", "description": "Hello", "csrf_token": http.Request.csrf_token(self),
                  **fields}
        response = self.url_open("/website/form/crm.lead", data=values,
                                 headers={"Referer": f"{self.base_url()}{page}"})
        self.assertEqual(response.status_code, 200, response.text)
        return self.env["crm.lead"].browse(response.json()["id"])

    def test_form_submission_creates_the_contact_links_the_lead_and_starts_the_flow(self):
        flow = self.make_flow([self.tag_step(self.tag_a)],
                              triggers=[{"trigger_type": "website_form", "page_path": "/contactus"}])
        self.authenticate(None, None)
        lead = self.submit_contact_form(interest="webinar")
        partner = lead.partner_id
        self.assertTrue(partner, "the lead gets its contact")
        self.assertEqual(partner.email, "ada.lovelace@example.com")
        self.assertEqual(partner.name, "Ada Lovelace")
        event = self.events("website_form")
        self.assertEqual(event.lead_id, lead)
        self.assertEqual(event.partner_id, partner)
        self.assertEqual(event.data["path"], "/contactus")
        self.assertEqual(event.data["fields"]["interest"], "webinar")
        self.assertNotIn("csrf_token", event.data["fields"])
        self.assertEqual(flow.enrollment_ids.partner_id, partner)
        self.assertEqual(flow.enrollment_ids.lead_id, lead)
        self.run_scheduler()
        self.assertTags(partner, present=[self.tag_a])

    def test_form_finds_the_existing_contact_by_email_or_by_e164_phone(self):
        self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": "website_form"}],
                       reentry_policy="always")
        by_email = self.env["res.partner"].create({"name": "Grace", "email": "grace@example.com"})
        by_phone = self.env["res.partner"].create({"name": "Linus", "phone": "+32 470 12 34 56"})
        self.authenticate(None, None)
        lead = self.submit_contact_form(contact_name="G.", email_from="GRACE@example.com")
        self.assertEqual(lead.partner_id, by_email)
        lead = self.submit_contact_form(contact_name="L.", email_from="", phone="+32470123456")
        self.assertEqual(lead.partner_id, by_phone)

    def test_page_limited_and_funnel_limited_form_triggers(self):
        funnel = self.env["salesjet.funnel"].create({"name": "Spring", "page_ids": [
            (0, 0, {"path": "/spring"}), (0, 0, {"path": "/spring-offer/*"})]})
        on_page = self.make_flow([self.tag_step(self.tag_a)],
                                 triggers=[{"trigger_type": "website_form", "page_path": "/pricing"}])
        in_funnel = self.make_flow([self.tag_step(self.tag_b)],
                                   triggers=[{"trigger_type": "website_form", "funnel_id": funnel.id}])
        self.authenticate(None, None)
        self.submit_contact_form(page="/spring-offer/step-2?utm=x", email_from="one@example.com")
        self.submit_contact_form(page="/pricing/?utm_source=ad", email_from="two@example.com")
        self.submit_contact_form(page="/elsewhere", email_from="three@example.com")
        self.assertEqual(in_funnel.enrollment_ids.partner_id.mapped("email"), ["one@example.com"])
        self.assertEqual(on_page.enrollment_ids.partner_id.mapped("email"), ["two@example.com"])

    def test_lead_is_kept_and_event_retried_when_finding_the_contact_fails(self):
        flow = self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": "website_form"}])
        self.authenticate(None, None)
        with patch.object(SalesjetEvent, "_resolve_website_form", side_effect=RuntimeError("contacts locked"),
                          autospec=True):
            lead = self.submit_contact_form()
        self.assertTrue(lead.exists(), "the lead is never lost")
        event = self.events("website_form")
        self.assertEqual(event.state, "failed")
        self.assertIn("contacts locked", event.error)
        with self.at(event.date_next_attempt + timedelta(seconds=1)):
            self.Event._cron_process_events()
        self.assertEqual(event.state, "done")
        self.assertTrue(lead.partner_id)
        self.assertEqual(flow.enrollment_ids.partner_id, lead.partner_id)

    def test_form_lead_also_starts_lead_created_flows_and_every_run_keeps_the_lead(self):
        on_form = self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": "website_form"}])
        on_lead = self.make_flow([self.tag_step(self.tag_b)], triggers=[{"trigger_type": "lead_created"}])
        self.authenticate(None, None)
        lead = self.submit_contact_form()
        partner = lead.partner_id
        self.assertEqual(partner.email, "ada.lovelace@example.com", "found or created once, by the first event")
        self.assertEqual((on_lead.enrollment_ids.partner_id, on_lead.enrollment_ids.lead_id), (partner, lead))
        self.assertEqual((on_form.enrollment_ids.partner_id, on_form.enrollment_ids.lead_id), (partner, lead))
        # the lead event found the contact first: the visitor who sent the form is linked all the same
        self.assertTrue(lead.visitor_ids)
        self.assertEqual(lead.visitor_ids.partner_id, partner)

    def test_no_listening_flow_leaves_the_form_as_odoo_does(self):
        self.authenticate(None, None)
        lead = self.submit_contact_form()
        self.assertFalse(lead.partner_id)
        self.assertFalse(self.events("website_form"))


@tagged("post_install", "-at_install")
class TestPageSources(SalesjetHttpCase):
    # pages are served on a read-only cursor when the test says replicas exist, and Odoo then tracks
    # no visit at all (as with a real read replica); Odoo's own visitor tests do the same
    readonly_enabled = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal = cls.make_portal_user("sjvisitor", "visitor@example.com")

    def test_identified_visitor_page_visit_starts_the_page_flow(self):
        flow = self.make_flow([self.tag_step(self.tag_a)],
                              triggers=[{"trigger_type": "page_visit", "page_path": "/sj-offer"}])
        other = self.make_flow([self.tag_step(self.tag_b)],
                               triggers=[{"trigger_type": "page_visit", "page_path": "/other"}])
        self.authenticate("sjvisitor", "sjvisitor-pass-2026")
        response = self.url_open("/sj-offer")
        self.assertEqual(response.status_code, 200)
        event = self.events("page_visit")
        self.assertEqual(len(event), 1)
        self.assertEqual(event.partner_id, self.portal.partner_id)
        self.assertEqual(event.data["path"], "/sj-offer")
        self.assertTrue(event.data["url"].endswith("/sj-offer"))
        self.assertEqual(event.data["page_id"], self.tracked_page.id)
        self.assertEqual(flow.enrollment_ids.partner_id, self.portal.partner_id)
        self.assertFalse(other.enrollment_ids)
        # a reload within the same visit (30 minutes) and a page no trigger watches raise nothing more
        self.url_open("/sj-offer")
        self.url_open(self.make_page("/sj-unwatched", "Unwatched").url)
        self.assertEqual(len(self.events("page_visit")), 1)

    def test_funnel_page_visit_trigger_fires_for_any_page_of_the_funnel(self):
        second = self.make_page("/sj-offer-2", "Second step")
        funnel = self.env["salesjet.funnel"].create({"name": "Offer", "page_ids": [
            (0, 0, {"page_id": self.tracked_page.id}), (0, 0, {"page_id": second.id})]})
        flow = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always",
                              triggers=[{"trigger_type": "page_visit", "funnel_id": funnel.id}])
        self.authenticate("sjvisitor", "sjvisitor-pass-2026")
        self.url_open("/sj-offer-2")
        self.url_open("/sj-offer")
        self.assertEqual(flow.enrollment_count, 2)
        self.assertEqual([event.data["path"] for event in self.events("page_visit")], ["/sj-offer-2", "/sj-offer"])

    def test_anonymous_visit_raises_no_event(self):
        self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": "page_visit"}])
        self.authenticate(None, None)
        self.url_open("/sj-offer")
        self.assertTrue(self.env["website.track"].search_count([("page_id", "=", self.tracked_page.id)]))
        self.assertFalse(self.events("page_visit"))

    def test_page_left_beacon_records_one_event_for_an_identified_visitor(self):
        flow = self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": "page_leave",
                                                                      "page_path": "/sj-offer"}])
        self.authenticate("sjvisitor", "sjvisitor-pass-2026")
        for _i in range(2):
            response = self.post_json("/salesjet/page_left", {"path": "/sj-offer", "url": "http://x/sj-offer"})
            self.assertEqual(response.status_code, 204)
        event = self.events("page_leave")
        self.assertEqual(len(event), 1, "one event per contact and page in ten minutes")
        self.assertEqual(event.partner_id, self.portal.partner_id)
        self.assertEqual(event.data["path"], "/sj-offer")
        self.assertEqual(flow.enrollment_ids.partner_id, self.portal.partner_id)
        # a page no trigger watches stores nothing
        self.assertEqual(self.post_json("/salesjet/page_left", {"path": "/unwatched"}).status_code, 204)
        self.assertEqual(len(self.events("page_leave")), 1)

    def test_page_left_beacon_of_an_anonymous_visitor_stores_nothing(self):
        self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": "page_leave"}])
        self.authenticate(None, None)
        response = self.post_json("/salesjet/page_left", {"path": "/sj-offer"})
        self.assertEqual(response.status_code, 204)
        self.assertFalse(self.events("page_leave"))

    def test_page_left_beacon_refuses_garbage(self):
        self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": "page_leave"}])
        self.authenticate("sjvisitor", "sjvisitor-pass-2026")
        for raw, status in ((b"{not json", 400), (b"[1, 2]", 400), (b'{"path": "no-slash"}', 400),
                            (b'{"path": 42}', 400), (b'{"path": "/' + b"a" * 3000 + b'"}', 413)):
            response = self.post_json("/salesjet/page_left", raw=raw)
            self.assertEqual(response.status_code, status, raw[:40])
            self.assertNotIn("Traceback", response.text)
        self.assertEqual(self.url_open("/salesjet/page_left").status_code, 405, "a beacon is a POST")
        self.assertFalse(self.events("page_leave"))

    def test_watched_page_carries_the_exit_popup_settings_and_others_do_not(self):
        self.make_flow([self.tag_step(self.tag_a)], triggers=[{
            "trigger_type": "page_leave", "page_path": "/sj-offer", "popup_enabled": True,
            "popup_title": "Wait!", "popup_text": "10% off with WELCOME10", "popup_button_label": "Shop",
            "popup_button_url": "/shop"}])
        self.authenticate(None, None)
        html = self.url_open("/sj-offer").text
        self.assertIn('id="salesjet_exit_intent"', html)
        self.assertIn('data-popup-title="Wait!"', html)
        self.assertIn('data-popup-button-url="/shop"', html)
        other = self.make_page("/sj-other", "Other page")
        self.assertNotIn("salesjet_exit_intent", self.url_open(other.url).text)

    def test_exit_intent_script_shows_the_popup_and_sends_the_page_left_beacon(self):
        """The real script in a real browser: the mouse leaves through the top, the tab is hidden."""
        flow = self.make_flow([self.tag_step(self.tag_a)], triggers=[{
            "trigger_type": "page_leave", "page_path": "/sj-offer", "popup_enabled": True,
            "popup_title": "Wait!", "popup_text": "10% off with WELCOME10", "popup_button_label": "Shop",
            "popup_button_url": "/shop"}])
        code = """
            document.documentElement.dispatchEvent(new MouseEvent("mouseleave", {clientY: -5}));
            const popup = document.querySelector(".salesjet_exit_popup");
            if (!popup || !popup.textContent.includes("Wait!") || !popup.querySelector("a[href='/shop']")) {
                console.error("the exit pop-up did not open");
            }
            Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
            document.dispatchEvent(new Event("visibilitychange"));
            setTimeout(() => console.log("test successful"), 1500);
        """
        self.browser_js("/sj-offer", code,
                        ready="document.getElementById('salesjet_exit_intent')?.dataset.ready === '1'",
                        login="sjvisitor")
        event = self.events("page_leave")
        self.assertEqual(event.partner_id, self.portal.partner_id)
        self.assertEqual(event.data["path"], "/sj-offer")
        self.assertEqual(flow.enrollment_ids.partner_id, self.portal.partner_id)

    @users("user_flows_admin")
    def test_popup_needs_a_text_and_a_safe_link(self):
        flow = self.make_flow([self.tag_step(self.tag_a)], triggers=[])
        Trigger = self.env["salesjet.flow.trigger"]
        base = {"flow_id": flow.id, "trigger_type": "page_leave", "popup_enabled": True, "popup_title": "Hi"}
        with self.assertRaisesRegex(Exception, "title and a text"):
            Trigger.create(base)
        with self.assertRaisesRegex(Exception, "button link"):
            Trigger.create({**base, "popup_text": "x", "popup_button_url": "javascript:alert(1)"})
        with self.assertRaisesRegex(Exception, "starting with /"):
            Trigger.create({**base, "popup_text": "x", "page_path": "pricing"})

    def test_tracked_download_serves_the_file_and_starts_the_flow_of_an_identified_visitor(self):
        download = self.env["salesjet.download"].create({
            "name": "Pricing guide", "file": base64.b64encode(b"%PDF-1.4 guide"), "file_name": "guide.pdf"})
        other = self.env["salesjet.download"].create({"name": "Other", "file": base64.b64encode(b"x")})
        flow = self.make_flow([self.tag_step(self.tag_a)],
                              triggers=[{"trigger_type": "file_download", "download_id": download.id}])
        self.make_flow([self.tag_step(self.tag_b)],
                       triggers=[{"trigger_type": "file_download", "download_id": other.id}])
        self.authenticate("sjvisitor", "sjvisitor-pass-2026")
        response = self.url_open(f"/salesjet/download/{download.token}")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, b"%PDF-1.4 guide")
        self.assertIn("guide.pdf", response.headers["Content-Disposition"])
        self.assertEqual(flow.enrollment_ids.partner_id, self.portal.partner_id)
        self.assertEqual(self.events("file_download").data["download_id"], download.id)
        download.invalidate_recordset(["download_count"])
        self.assertEqual(download.download_count, 1)

    def test_download_link_answers_404_for_unknown_or_archived_files(self):
        download = self.env["salesjet.download"].create({"name": "Guide", "file": base64.b64encode(b"x")})
        self.authenticate(None, None)
        self.assertEqual(self.url_open("/salesjet/download/nope").status_code, 404)
        self.assertEqual(self.url_open(f"/salesjet/download/{download.token}").status_code, 200)
        self.assertFalse(self.events("file_download"), "an anonymous download raises no event")
        token = download.token
        download.action_archive()
        self.assertEqual(self.url_open(f"/salesjet/download/{token}").status_code, 404)


class TestVisitConditions(SalesjetHttpCase):
    """Conditions on website.track rows (as Odoo's visitor tracking writes them)."""

    def make_visit(self, partner, url, when, page=None):
        visitor = self.env["website.visitor"].create({"access_token": str(partner.id), "partner_id": partner.id})
        self.env["website.track"].create({"visitor_id": visitor.id, "url": url, "visit_datetime": when,
                                          "page_id": page.id if page else False})

    def test_in_funnel_and_page_visited_conditions_filter_in_one_query(self):
        funnel = self.env["salesjet.funnel"].create({"name": "Spring", "page_ids": [
            (0, 0, {"page_id": self.tracked_page.id}), (0, 0, {"path": "/shop/*"})]})
        flow = self.make_flow([self.tag_step(self.tag_a)])
        old, recent, deep, nested, never = self.make_partners(5)
        self.make_visit(old, "https://www.example.com/sj-offer?utm=1", T0 - timedelta(days=30))
        self.make_visit(recent, "http://localhost:8069/other", T0 - timedelta(days=1), page=self.tracked_page)
        self.make_visit(deep, "https://www.example.com/shop/chairs/12", T0 - timedelta(days=2))
        self.make_visit(nested, "https://www.example.com/blog/sj-offer", T0 - timedelta(days=1))
        Condition = self.env["salesjet.flow.condition"]
        in_funnel = Condition.create({"step_id": flow.step_ids.id, "condition_type": "in_funnel",
                                      "funnel_id": funnel.id})
        visited = Condition.create({"step_id": flow.step_ids.id, "condition_type": "page_visited",
                                    "page_path": "/sj-offer", "within_days": 7})
        everyone = old | recent | deep | nested | never
        with self.at(T0):
            self.assertEqual(in_funnel._filter(everyone), old | recent | deep)
            in_funnel.within_days = 7
            self.assertEqual(in_funnel._filter(everyone), recent | deep)
            self.assertEqual(visited._filter(everyone), self.env["res.partner"],
                             "/blog/sj-offer is not /sj-offer and the page_id match is only for funnels")
            visited.within_days = 0
            self.assertEqual(visited._filter(everyone), old)
            with self.assertQueryCount(__system__=2):
                (in_funnel | visited)._filter(everyone)

    @users("user_flows_admin")
    def test_visit_conditions_need_their_settings(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        Condition = self.env["salesjet.flow.condition"]
        with self.assertRaisesRegex(Exception, "Choose the funnel"):
            Condition.create({"step_id": flow.step_ids.id, "condition_type": "in_funnel"})
        with self.assertRaisesRegex(Exception, "starting with /"):
            Condition.create({"step_id": flow.step_ids.id, "condition_type": "page_visited", "page_path": "x"})


class TestPathsAndContacts(SalesjetHttpCase):

    def test_paths_compare_without_host_query_or_trailing_slash_and_star_means_under(self):
        from ..tools.paths import normalize_path, path_matches
        self.assertEqual(normalize_path("https://shop.example.com/pricing/?a=1#top"), "/pricing")
        self.assertEqual(normalize_path(""), "/")
        self.assertTrue(path_matches("/shop*", "/shop"))
        self.assertTrue(path_matches("/shop*", "/shop/chairs/12"))
        self.assertFalse(path_matches("/shop*", "/shopping"))
        self.assertFalse(path_matches("/pricing", "/blog/pricing"))

    def test_contacts_are_found_or_created_set_based(self):
        Partner = self.env["res.partner"]
        known = Partner.create({"name": "Known", "email": "known@example.com"})
        self.env.flush_all()
        # bounded, whatever the number of entries: one search per key kind and one create; the
        # exact figure depends on the create hooks of the installed modules (accounting adds one)
        with self.assertQueryCount(__system__=16):
            found = Partner._salesjet_find_or_create([
                {"email": "KNOWN@example.com"}, {"email": "new@example.com", "name": "New"},
                {"email": "new@example.com"}, {"phone": "0470 12 34 56", "country_id": self.env.ref("base.be").id},
                {}])
        self.assertEqual(found[0], known)
        self.assertEqual(found[1], found[2], "the same new address gives one contact")
        self.assertEqual(found[3].phone_sanitized, "+32470123456")
        self.assertFalse(found[4])

    def test_contacts_are_found_through_an_index_not_by_reading_every_contact(self):
        """Odoo stores a contact's normalised email and phone without an index: every event finding its
        contact read the whole contact table (26 ms at 114,000 contacts, bench/). The lookups
        ``_salesjet_find_or_create`` makes are served by an index (sequential scans switched off, a
        lookup that has none falls back to one)."""
        Partner = self.env["res.partner"]
        company = [("company_id", "in", [False, self.env.company.id])]
        for field, values in (("email_normalized", ["known@example.com"]),
                              ("phone_sanitized", ["+32470123456", "+32470123457"])):
            query = Partner.with_context(active_test=False)._search([(field, "in", values), *company])
            self.env.cr.execute("SET LOCAL enable_seqscan = off")
            self.env.cr.execute(SQL("EXPLAIN %s", query.select()))
            plan = "\n".join(row[0] for row in self.env.cr.fetchall())
            self.env.cr.execute("SET LOCAL enable_seqscan = on")
            self.assertIn(f"res_partner__{field}_index", plan)
            self.assertNotIn("Seq Scan on res_partner", plan)
