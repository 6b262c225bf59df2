"""Consent for loyalty notices: opted-out and archived contacts get no expiry notice."""
from datetime import timedelta

from odoo.addons.salesjet_flows.tests.common import T0

from .common import LoyaltyCase


class TestLoyaltyNoticeConsent(LoyaltyCase):

    def test_expiry_notices_skip_blacklisted_and_archived_contacts(self):
        flow = self.make_flow([self.accrue_step(
            loyalty_notice_days=3, loyalty_notice_before_text="Hi {{ object.name }}, {{ points }} points expire.",
            loyalty_notice_expired_text="Hi {{ object.name }}, {{ points }} points expired.")],
            kind="loyalty", reentry_policy="always")
        Partner = self.env["res.partner"]
        control = Partner.create({"name": "SJ notice control", "email": "sj.notice.ok@example.com"})
        no_email = Partner.create({"name": "SJ notice sms", "mobile": "+32470777001"})
        email_out = Partner.create({"name": "SJ notice email out", "email": "sj.notice.out@example.com",
                                    "mobile": "+32470777002"})
        phone_out = Partner.create({"name": "SJ notice phone out", "mobile": "+32470777003"})
        archived = Partner.create({"name": "SJ notice archived", "email": "sj.notice.arch@example.com",
                                   "mobile": "+32470777004"})
        self.env["mail.blacklist"]._add(email_out.email)
        self.env["phone.blacklist"]._add([phone_out.mobile])
        everyone = control | no_email | email_out | phone_out | archived
        with self.at(T0):
            flow._enroll(everyone.ids)
            self.run_scheduler()
        archived.active = False
        for days in (7, 10):
            with self.at(T0 + timedelta(days=days)):
                self.expire()

        def sent(partner):
            return (self.env["mail.mail"].search_count([("recipient_ids", "in", partner.id)]),
                    self.env["sms.sms"].search_count([("partner_id", "=", partner.id)]))

        self.assertEqual(sent(control), (2, 0), "the control contact gets both notices by email")
        self.assertEqual(sent(no_email), (0, 2), "a contact without email gets them by SMS")
        self.assertEqual(sent(email_out), (0, 0), "opted out of emails: no email, and no SMS instead")
        self.assertEqual(sent(phone_out), (0, 0), "opted out of SMS")
        self.assertEqual(sent(archived), (0, 0), "archived")
