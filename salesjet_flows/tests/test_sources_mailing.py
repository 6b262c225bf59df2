from unittest.mock import patch

from .common import SalesjetCase


class TestEmailTrackingSources(SalesjetCase):
    """Opens, clicks, replies and bounces of flow emails, from Odoo's own mailing.trace."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.email = "shop@example.com"
        cls.newsletter = cls.make_flow([{
            "action_type": "email", "email_source": "custom", "email_subject": "News",
            "email_body": "<p>Hi <a href='https://shop.example.com'>shop</a></p>"}], name="Newsletter")
        cls.other_mail = cls.make_flow([{
            "action_type": "email", "email_source": "custom", "email_subject": "Other",
            "email_body": "<p>Other</p>"}], name="Other mail", triggers=[{"trigger_type": "api",
                                                                            "event_code": "sj_other"}])

    def send(self, flow, partners, code="sj_test"):
        for partner in partners:
            self.Event.post(code, partner)
        self.run_scheduler()
        return {partner: self.jobs_of(flow, partner).mailing_trace_id for partner in partners}

    def test_each_tracking_kind_starts_its_flow_once_per_trace(self):
        step = self.newsletter.step_ids
        followups = {
            kind: self.make_flow([self.tag_step(tag)], name=kind, reentry_policy="always",
                                 triggers=[{"trigger_type": kind, "mail_step_id": step.id}])
            for kind, tag in (("email_open", self.tag_a), ("email_click", self.tag_b),
                              ("email_reply", self.tag_c), ("email_bounce", self.tag_a))
        }
        opener, clicker, replier, bouncer = partners = self.make_partners(4)
        traces = self.send(self.newsletter, partners)
        traces[opener].set_opened()
        traces[opener].set_opened()  # a second open of the same mail changes nothing
        traces[clicker].set_clicked()
        traces[replier].set_replied()
        traces[bouncer].set_bounced(bounce_message="550 no such user")
        self.assertEqual(followups["email_open"].enrollment_ids.partner_id, opener)
        self.assertEqual(len(followups["email_open"].enrollment_ids), 1, "one event per trace and kind")
        self.assertEqual(followups["email_click"].enrollment_ids.partner_id, clicker)
        self.assertEqual(followups["email_reply"].enrollment_ids.partner_id, replier)
        self.assertEqual(followups["email_bounce"].enrollment_ids.partner_id, bouncer)
        event = self.Event.search([("kind", "=", "email_open")])
        self.assertEqual(event.external_id, f"trace:{traces[opener].id}")
        self.assertEqual(event.data["mailing_id"], step.mailing_id.id)

    def test_trigger_limited_to_a_step_ignores_other_emails_and_template_limit_works(self):
        step = self.newsletter.step_ids
        by_step = self.make_flow([self.tag_step(self.tag_a)], triggers=[
            {"trigger_type": "email_open", "mail_step_id": step.id}])
        by_template = self.make_flow([self.tag_step(self.tag_b)], triggers=[
            {"trigger_type": "email_open", "mail_template_id": self.other_mail.step_ids.mail_template_id.id}])
        any_mail = self.make_flow([self.tag_step(self.tag_c)], triggers=[{"trigger_type": "email_open"}])
        reader = self.make_partners(1)
        news = self.send(self.newsletter, reader)[reader]
        other = self.send(self.other_mail, reader, code="sj_other")[reader]
        news.set_opened()
        self.assertEqual(by_step.enrollment_ids.partner_id, reader)
        self.assertFalse(by_template.enrollment_ids)
        other.set_opened()
        self.assertEqual(by_template.enrollment_ids.partner_id, reader)
        self.assertEqual(any_mail.enrollment_count, 1, "once per contact: the flow's re-entry policy")

    def test_a_click_through_the_link_tracker_starts_the_flow(self):
        step = self.newsletter.step_ids
        flow = self.make_flow([self.tag_step(self.tag_a)], triggers=[
            {"trigger_type": "email_click", "mail_step_id": step.id}])
        reader = self.make_partners(1)
        trace = self.send(self.newsletter, reader)[reader]
        link = self.env["link.tracker"].search([("mass_mailing_id", "=", step.mailing_id.id)], limit=1)
        self.assertTrue(link, "the email's link is tracked")
        self.env["link.tracker.click"].sudo().add_click(link.code, ip="127.0.0.1", country_code="BE",
                                                        mailing_trace_id=trace.id)
        self.assertEqual(flow.enrollment_ids.partner_id, reader)

    def test_tracking_never_fails_because_of_a_flow(self):
        self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": "email_open"}])
        reader = self.make_partners(1)
        trace = self.send(self.newsletter, reader)[reader]
        with patch.object(type(self.Event), "post", side_effect=RuntimeError("events table locked")):
            trace.set_opened()
        self.assertEqual(trace.trace_status, "open", "Odoo's own tracking went through")


class TestListAndSignupSources(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.weekly = cls.env["mailing.list"].create({"name": "Weekly"})
        cls.monthly = cls.env["mailing.list"].create({"name": "Monthly"})

    def test_subscription_to_the_list_finds_or_creates_the_contact_and_starts_the_flow(self):
        flow = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always",
                              triggers=[{"trigger_type": "list_subscribe", "mailing_list_id": self.weekly.id}])
        known = self.env["res.partner"].create({"name": "Known", "email": "known@example.com"})
        contacts = self.env["mailing.contact"].create([
            {"name": "Known", "email": "Known@Example.com", "list_ids": [(4, self.weekly.id)]},
            {"name": "Newbie", "email": "newbie@example.com", "list_ids": [(4, self.weekly.id)]},
            {"name": "Elsewhere", "email": "elsewhere@example.com", "list_ids": [(4, self.monthly.id)]},
        ])
        partners = flow.enrollment_ids.partner_id
        self.assertEqual(len(partners), 2)
        self.assertIn(known, partners)
        self.assertEqual((partners - known).email, "newbie@example.com")
        self.assertEqual(self.Event.search([("kind", "=", "list_subscribe")], order="id")[0].data["list"], "Weekly")
        # opting out then in again is a new subscription event
        subscription = contacts[1].subscription_ids
        subscription.opt_out = True
        self.assertEqual(flow.enrollment_count, 2)
        subscription.opt_out = False
        self.assertEqual(flow.enrollment_count, 3)
        # a subscription record created directly (as the subscription form does) counts too
        self.env["mailing.subscription"].create({"contact_id": contacts[2].id, "list_id": self.weekly.id})
        self.assertEqual(flow.enrollment_count, 4)
        # and so does adding the list to a contact's lists
        late = self.env["mailing.contact"].create({"name": "Late", "email": "late@example.com"})
        late.write({"list_ids": [(4, self.weekly.id)]})
        self.assertEqual(flow.enrollment_count, 5)
        self.assertEqual(flow.enrollment_ids.partner_id.filtered(lambda p: p.email == "late@example.com").name,
                         "Late")

    def test_no_listening_flow_creates_no_contact(self):
        self.env["mailing.contact"].create({"name": "Quiet", "email": "quiet@example.com",
                                            "list_ids": [(4, self.weekly.id)]})
        self.assertFalse(self.env["res.partner"].search([("email", "=", "quiet@example.com")]))

    def test_portal_signup_starts_the_signup_flow(self):
        flow = self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": "signup"}])
        self.env["website"].get_current_website().auth_signup_uninvited = "b2c"
        self.env["res.users"].sudo().signup({"login": "newcomer@example.com", "name": "Newcomer",
                                             "email": "newcomer@example.com", "password": "newcomer-2026"})
        user = self.env["res.users"].search([("login", "=", "newcomer@example.com")])
        self.assertTrue(user.share, "a portal account")
        self.assertEqual(flow.enrollment_ids.partner_id, user.partner_id)
        self.assertEqual(self.Event.search([("kind", "=", "signup")]).external_id, f"signup:{user.id}")
