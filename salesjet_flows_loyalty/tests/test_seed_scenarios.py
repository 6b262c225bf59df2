from datetime import timedelta
from unittest.mock import patch

from odoo import SUPERUSER_ID
from odoo.exceptions import ValidationError
from odoo.tests import users

from odoo.addons.salesjet_flows.tests.common import T0
from odoo.addons.sms.tests.common import SMSCase

from .common import LoyaltyCase


class TestSeedScenarios(LoyaltyCase, SMSCase):
    """Loyalty scenarios and chains behave as the seed (the loyalty system page) describes."""

    def test_an_archived_scenario_holds_its_waiting_steps_and_resumes_on_restore(self):
        chain = self.make_chain([
            {"channel": "email", "subject": "Welcome to the fish club", "body": "<p>Hello</p>"},
            {"channel": "email", "subject": "Fish care tips", "body": "<p>Tips</p>", "delay_value": 1,
             "delay_unit": "days"},
        ], code=False)
        scenario = self.make_flow([
            self.accrue_step(timing="delay", delay_value=1, delay_unit="hours"),
            {"action_type": "chain_start", "chain_flow_id": chain.id},
        ], kind="loyalty", name="SJ bonus after a purchase")
        partner = self.make_partners(1)
        with self.at(T0):
            self.Event.post("sj_test", partner)
            self.run_scheduler()
            scenario.action_archive()
        with self.at(T0 + timedelta(hours=2)):
            self.run_scheduler()
        self.assertEqual(self.jobs_of(scenario).mapped("state"), ["pending"], "the delayed bonus waits")
        self.assertFalse(self.card_of(partner), "no bonus while the scenario is archived")
        self.assertFalse(self.jobs_of(chain), "the chain does not start")

        with self.at(T0 + timedelta(hours=3)):
            scenario.action_unarchive()
            self.run_scheduler()
        self.assertEqual(self.jobs_of(scenario).mapped("state"), ["done", "done"], "restored: it runs on at once")
        self.assertEqual(self.card_of(partner).points, 100)
        self.assertEqual(self.mails_to(partner).mapped("subject"), ["Welcome to the fish club"])

        # archiving the chain holds its next message the same way
        with self.at(T0 + timedelta(hours=4)):
            chain.action_archive()
        with self.at(T0 + timedelta(days=2)):
            self.run_scheduler()
            self.assertEqual(self.jobs_of(chain).mapped("state"), ["done", "pending"])
            chain.action_unarchive()
            self.run_scheduler()
        self.assertEqual(self.jobs_of(chain).mapped("state"), ["done", "done"])
        self.assertEqual(self.mails_to(partner).mapped("subject"), ["Welcome to the fish club", "Fish care tips"])

    def test_restoring_a_flow_wakes_the_scheduler(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        flow.action_archive()
        with patch.object(type(self.Job), "_trigger_scheduler") as wake:
            flow.name = "SJ renamed"
            wake.assert_not_called()
            flow.action_unarchive()
        wake.assert_called_once()

    def test_chain_points_get_both_expiry_notices_on_their_days(self):
        self.make_chain([{
            "channel": "sms", "body": "<p>Welcome, here are 20 points</p>",
            "points": 20, "loyalty_program_id": self.program.id, "loyalty_validity_days": 5,
            "loyalty_notice_days": 2,
            "loyalty_notice_before_text": "Hi {{ object.name }}, {{ points }} points expire on {{ expiry }}.",
            "loyalty_notice_expired_text": "Hi {{ object.name }}, {{ points }} points have expired.",
        }])
        alice = self.make_partners(1, prefix="SJ alice", mobile="+32470111111")
        bob = self.make_partners(1, prefix="SJ bob", email=False, mobile="+32470123456")
        with self.at(T0):
            self.Event.post("sj_chain", alice)
            self.Event.post("sj_chain", bob)
            self.run_scheduler()
        self.assertEqual(self.card_of(alice).points, 20)
        accrual = self.Accrual.search([("partner_id", "=", alice.id)])
        self.assertEqual((accrual.date_notice, accrual.date_expiry),
                         (T0 + timedelta(days=3), T0 + timedelta(days=5)))

        with self.at(T0 + timedelta(days=3) - timedelta(minutes=1)):
            self.expire()
        self.assertFalse(self.mails_to(alice), "no notice before its day")
        with self.at(T0 + timedelta(days=3)):
            self.expire()
            self.expire()
        self.assertEqual(self.mails_to(alice).mapped("subject"), ["Your 20 bonus points expire on 2026-03-07"])
        self.assertIn(f"Hi {alice.name}, 20 points expire on 2026-03-07.", str(self.mails_to(alice).body_html))
        self.assertEqual(self.env["sms.sms"].search([("partner_id", "=", bob.id)], order="id")[-1].body,
                         f"Hi {bob.name}, 20 points expire on 2026-03-07.", "without email: by SMS")

        with self.at(T0 + timedelta(days=5)):
            self.expire()
            self.expire()
        self.assertEqual(self.card_of(alice).points, 0)
        self.assertEqual(self.mails_to(alice)[-1].subject, "Your 20 bonus points have expired")
        self.assertEqual(self.env["sms.sms"].search([("partner_id", "=", bob.id)], order="id")[-1].body,
                         f"Hi {bob.name}, 20 points have expired.")

    @users("user_flows_admin")
    def test_chain_notices_need_points_that_expire(self):
        chain = self.make_chain([], code=False)
        Message = self.env["salesjet.chain.message"]
        base = {"flow_id": chain.id, "channel": "sms", "body": "<p>Hi</p>"}
        with self.assertRaisesRegex(ValidationError, "expiry notices need points that expire"):
            Message.create({**base, "loyalty_notice_expired_text": "Gone"})
        with self.assertRaisesRegex(ValidationError, "fewer notice days than validity days"):
            Message.create({**base, "points": 5, "loyalty_program_id": self.program.id,
                            "loyalty_validity_days": 3, "loyalty_notice_days": 3,
                            "loyalty_notice_before_text": "Soon"})
        broken = {**base, "points": 5, "loyalty_program_id": self.program.id,
                  "loyalty_notice_expired_text": "{{ object.nope }}"}
        with self.assertRaisesRegex(ValidationError, "the placeholder “object.nope” is not allowed"):
            Message.create(broken)
        with self.assertRaisesRegex(ValidationError, "does not render"):
            Message.with_user(SUPERUSER_ID).create(broken)  # Settings administrators: still must render
