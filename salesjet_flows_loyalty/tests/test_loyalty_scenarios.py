from datetime import date, timedelta

from odoo import SUPERUSER_ID
from odoo.exceptions import ValidationError
from odoo.tests import users

from odoo.addons.salesjet_flows.tests.common import T0
from odoo.addons.sms.tests.common import SMSCase

from .common import LoyaltyCase


class TestLoyaltyAccrual(LoyaltyCase, SMSCase):

    def test_points_accrue_and_expire_on_their_own_dates_with_both_notices(self):
        flow = self.make_flow([self.accrue_step(
            loyalty_notice_days=3,
            loyalty_notice_before_text="Hi {{ object.name }}, {{ points }} points expire on {{ expiry }}.",
            loyalty_notice_expired_text="Hi {{ object.name }}, {{ points }} points have expired.")],
            kind="loyalty", reentry_policy="always")
        alice = self.make_partners(1, prefix="SJ alice")
        bob = self.make_partners(1, prefix="SJ bob", email=False, mobile="+32470123456")
        with self.at(T0):
            self.Event.post("sj_test", alice)
            self.Event.post("sj_test", bob)
            self.run_scheduler()
        with self.at(T0 + timedelta(days=2)):
            self.Event.post("sj_test", alice)
            self.run_scheduler()
        self.assertEqual(self.card_of(alice).points, 200)
        self.assertEqual(self.card_of(bob).points, 100, "a card is created for a contact who had none")
        first, second = self.Accrual.search([("partner_id", "=", alice.id)], order="id")
        self.assertEqual(first.date_expiry, T0 + timedelta(days=10))
        self.assertEqual(second.date_expiry, T0 + timedelta(days=12), "each accrual has its own expiry date")
        self.assertEqual(self.jobs_of(flow, bob).result, "100 points accrued, valid until 2026-03-12")
        self.assertEqual(self.card_of(alice).history_ids.mapped("issued"), [100, 100])

        with self.at(T0 + timedelta(days=7) - timedelta(minutes=1)):
            self.expire()
        self.assertFalse(self.mails_to(alice), "no notice before its day")
        with self.at(T0 + timedelta(days=7)):
            self.expire()
        self.assertEqual(self.mails_to(alice).mapped("subject"), ["Your 100 bonus points expire on 2026-03-12"])
        self.assertIn(f"Hi {alice.name}, 100 points expire on 2026-03-12.", str(self.mails_to(alice).body_html))
        sms = self.env["sms.sms"].search([("partner_id", "=", bob.id)])
        self.assertEqual((sms.number, sms.body), ("+32470123456", f"Hi {bob.name}, 100 points expire on 2026-03-12."),
                         "a contact without email gets the notice by SMS")
        self.assertEqual(first.notice_before_address, alice.email_normalized)

        # alice spends 150 points on an order: the bonus expiring first is used first
        with self.at(T0 + timedelta(days=8)):
            card = self.card_of(alice)
            card.points -= 150
            self.env["loyalty.history"].create({"card_id": card.id, "description": "Order S0042", "used": 150})
        self.Accrual.invalidate_model()
        self.assertEqual((first.remaining, first.state), (0, "used"))
        self.assertEqual((second.remaining, second.state), (50, "active"))

        with self.at(T0 + timedelta(days=10)):
            self.expire()
        self.assertEqual(self.card_of(bob).points, 0)
        bob_accrual = self.Accrual.search([("partner_id", "=", bob.id)])
        self.assertEqual((bob_accrual.state, bob_accrual.expired_points), ("expired", 100))
        self.assertEqual(self.env["sms.sms"].search([("partner_id", "=", bob.id)], order="id")[-1].body,
                         f"Hi {bob.name}, 100 points have expired.")
        self.assertEqual(self.card_of(alice).points, 50, "alice's spent bonus has nothing left to expire")
        self.assertEqual(first.state, "used")

        with self.at(T0 + timedelta(days=12)):
            self.expire()
        self.assertEqual(self.card_of(alice).points, 0)
        self.assertEqual((second.state, second.expired_points), ("expired", 50))
        self.assertEqual(self.mails_to(alice)[-1].subject, "Your 50 bonus points have expired")
        self.assertEqual(self.card_of(alice).history_ids.filtered(lambda h: h.description == "Bonus points expired")
                         .mapped("used"), [50])

    def test_expiry_never_takes_a_card_below_zero(self):
        flow = self.make_flow([self.accrue_step()], kind="loyalty")
        partner = self.make_partners(1)
        with self.at(T0):
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        self.card_of(partner).points = 30  # spent without a history line: nothing to consume from
        with self.at(T0 + timedelta(days=10)):
            self.expire()
        self.assertEqual(self.card_of(partner).points, 0)
        self.assertEqual(self.Accrual.search([("flow_id", "=", flow.id)]).expired_points, 30)

    @users("user_flows_admin")
    def test_bad_accrual_settings_are_refused(self):
        flow = self.make_flow([], kind="loyalty")
        Step = self.env["salesjet.flow.step"]
        coupons = self.env["loyalty.program"].sudo().create({"name": "SJ coupons", "program_type": "coupons"})
        with self.assertRaisesRegex(ValidationError, "not a loyalty card programme"):
            Step.create({"flow_id": flow.id, **self.accrue_step(loyalty_program_id=coupons.id)})
        with self.assertRaisesRegex(ValidationError, "fewer notice days than validity days"):
            Step.create({"flow_id": flow.id, **self.accrue_step(loyalty_notice_days=10,
                                                                loyalty_notice_before_text="Soon")})
        broken = {"flow_id": flow.id, **self.accrue_step(loyalty_notice_expired_text="{{ object.nope }}")}
        with self.assertRaisesRegex(ValidationError, "the placeholder “object.nope” is not allowed"):
            Step.create(broken)
        with self.assertRaisesRegex(ValidationError, "does not render"):
            Step.with_user(SUPERUSER_ID).create(broken)  # Settings administrators: still must render


class TestLoyaltyTriggers(LoyaltyCase):

    def test_a_purchase_starts_the_scenario_once_per_order(self):
        flow = self.make_flow([self.accrue_step()], triggers=[{"trigger_type": "loyalty_purchase"}],
                              kind="loyalty", reentry_policy="always")
        partner = self.make_partners(1)
        card = self.env["loyalty.card"].create({"program_id": self.program.id, "partner_id": partner.id})
        History = self.env["loyalty.history"]
        # what sale_loyalty writes when an order is confirmed (twice for the same order: one event)
        for _i in range(2):
            History.create({"card_id": card.id, "description": "S00042", "issued": 12,
                            "order_model": "sale.order", "order_id": 42})
        History.create({"card_id": card.id, "description": "Manual update", "issued": 5})
        self.run_scheduler()
        events = self.Event.search([("kind", "=", "loyalty_purchase"), ("partner_id", "=", partner.id)])
        self.assertEqual(events.external_id, "sale.order:42")
        self.assertEqual(len(self.jobs_of(flow)), 1)
        self.assertEqual(self.jobs_of(flow).state, "done")

    def test_an_archived_scenario_waits_until_it_is_restored(self):
        flow = self.make_flow([self.accrue_step()], triggers=[{"trigger_type": "loyalty_purchase"}],
                              kind="loyalty", reentry_policy="always")
        partner = self.make_partners(1)
        card = self.env["loyalty.card"].create({"program_id": self.program.id, "partner_id": partner.id})
        flow.action_archive()
        self.assertIn(flow, self.env["salesjet.flow"].with_context(active_test=False).search(
            [("kind", "=", "loyalty"), ("active", "=", False)]), "archived scenarios stay listed")
        self.env["loyalty.history"].create({"card_id": card.id, "description": "S1", "issued": 1,
                                            "order_model": "sale.order", "order_id": 1})
        self.run_scheduler()
        self.assertFalse(self.jobs_of(flow))
        flow.action_unarchive()
        self.env["loyalty.history"].create({"card_id": card.id, "description": "S2", "issued": 1,
                                            "order_model": "sale.order", "order_id": 2})
        self.run_scheduler()
        self.assertEqual(self.jobs_of(flow).state, "done", "the purchase after the restore starts it")
        self.assertEqual(self.card_of(partner).points, 100, "one bonus: the purchase while archived gave none")

    def test_a_portal_registration_starts_the_scenario(self):
        members = self.env["res.partner.category"].create({"name": "SJ new members"})
        flow = self.make_flow([{"action_type": "segment_add", "tag_ids": [(6, 0, members.ids)]}],
                              triggers=[{"trigger_type": "loyalty_registration"}], kind="loyalty")
        user = self.env["res.users"].create({
            "name": "SJ portal client", "login": "sj.portal@example.com", "email": "sj.portal@example.com",
            "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])]})
        self.env["res.users"].create({"name": "SJ employee", "login": "sj.employee@example.com"})
        self.Event._cron_process_events()
        self.run_scheduler()
        self.assertEqual(self.jobs_of(flow).partner_id, user.partner_id, "employees are not clients")
        self.assertEqual(user.partner_id.category_id.name, "SJ new members")

    def test_birthday_posts_one_event_n_days_before_each_year(self):
        flow = self.make_flow([self.accrue_step(loyalty_points=50)], kind="loyalty", reentry_policy="always",
                              triggers=[{"trigger_type": "loyalty_date", "date_days_before": 3,
                                         "date_field_id": self.env["ir.model.fields"]._get(
                                             "res.partner", "salesjet_birthday").id}])
        in_three_days, tomorrow, leap = self.make_partners(3)
        in_three_days.salesjet_birthday = date(1990, 3, 5)  # T0 is 2026-03-02
        tomorrow.salesjet_birthday = date(1985, 3, 3)
        leap.salesjet_birthday = date(2000, 2, 29)
        with self.at(T0):
            self.env["salesjet.flow.trigger"]._cron_post_date_events()
            self.env["salesjet.flow.trigger"]._cron_post_date_events()  # a second run the same day
            self.run_scheduler()
        self.assertEqual(self.jobs_of(flow).partner_id, in_three_days)
        self.assertEqual(self.card_of(in_three_days).points, 50)
        self.assertEqual(self.Event.search([("kind", "=", "loyalty_date")]).external_id,
                         f"date:{flow.trigger_ids.id}:{in_three_days.id}:2026-03-05")
        with self.at(T0 - timedelta(days=4)):  # 2026-02-26: 3 days before 03-01... and 02-28 for leap days
            self.env["salesjet.flow.trigger"]._cron_post_date_events()
        with self.at(T0 - timedelta(days=5)):  # 2026-02-25 + 3 = 02-28, not a leap year
            self.env["salesjet.flow.trigger"]._cron_post_date_events()
        self.assertIn(leap, self.Event.search([("kind", "=", "loyalty_date")]).partner_id,
                      "born on February 29th: celebrated on the 28th in other years")


class TestLoyaltyLog(LoyaltyCase, SMSCase):

    def test_the_log_lists_what_was_sent_with_address_scenario_date_and_points(self):
        chain = self.env["salesjet.flow"].create({"state": "running", "name": "SJ fish chain", "kind": "chain"})
        self.env["salesjet.chain.message"].create({
            "flow_id": chain.id, "channel": "email", "subject": "Welcome", "body": "<p>Hello</p>",
            "points": 20, "loyalty_program_id": self.program.id, "loyalty_validity_days": 5})
        self.env["salesjet.chain.message"].create({
            "flow_id": chain.id, "channel": "sms", "body": "<p>Tip of the day</p>", "delay_value": 1,
            "delay_unit": "days"})
        self.make_flow([self.accrue_step(), {"action_type": "chain_start", "chain_flow_id": chain.id}],
                       kind="loyalty", name="SJ purchase scenario")
        partner = self.make_partners(1, mobile="+32470123456")
        with self.at(T0):
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        with self.at(T0 + timedelta(days=1)):
            self.run_scheduler()
        self.assertEqual(self.card_of(partner).points, 120, "100 from the scenario, 20 with the chain's email")
        self.env.flush_all()
        log = self.env["salesjet.loyalty.log"].search([("partner_id", "=", partner.id)], order="date, id")
        rows = [(row.flow_id.name, row.channel or False, row.address or False, row.points) for row in log]
        self.assertEqual(rows, [
            ("SJ purchase scenario", False, False, 100),
            ("SJ purchase scenario", False, False, 0),
            ("SJ fish chain", "email", partner.email, 20),
            ("SJ fish chain", "sms", "+32470123456", 0),
        ])
        self.assertEqual(log[-1].date, T0 + timedelta(days=1))


class TestLoyaltyPreview(LoyaltyCase):

    def test_test_run_shows_the_points_without_accruing_them(self):
        flow = self.make_flow([self.accrue_step()])
        partner = self.make_partners(1)
        run = self.env["salesjet.flow.test.run"].create({"flow_id": flow.id, "partner_id": partner.id})
        run.action_run_to_end()
        self.assertIn("Adds 100.0 points to the “SJ pet club” card (now 0 points)", run.line_ids.preview_html)
        self.assertFalse(self.card_of(partner), "a test run creates no card")
        self.assertFalse(self.Accrual.search([("partner_id", "=", partner.id)]))
