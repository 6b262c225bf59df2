from datetime import timedelta

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import users

from ..models.salesjet_flow_step_split import split_point
from .common import T0, SalesjetCase
from .test_split import TestSplit


class TestSplitHoldBack(SalesjetCase):
    """A split that tests on a share of its audience holds the others back until the winner is known."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.email = "shop@example.com"

    email_step = TestSplit.email_step
    make_split_flow = TestSplit.make_split_flow

    def split_jobs(self, split, partners=None):
        domain = [("step_id", "=", split.id)]
        if partners is not None:
            domain.append(("partner_id", "in", partners.ids))
        return self.Job.search(domain)

    def start_test(self, count=60, share=30, **split_vals):
        flow, split, branches, steps = self.make_split_flow(split_test_share=share, **split_vals)
        partners = self.make_partners(count)
        with self.at(T0):
            flow._enroll(partners.ids)
            self.run_scheduler()
        jobs = self.split_jobs(split)
        held = jobs.filtered("split_held")
        return flow, split, branches, steps, jobs, held

    def test_only_the_test_share_goes_down_the_branches_the_others_wait_with_a_reason(self):
        flow, split, (branch_a, branch_b), (email_a, _tag_a, email_b), jobs, held = self.start_test(400, share=25)
        tested = jobs - held
        self.assertEqual(len(jobs), 400)
        self.assertTrue(0.18 < len(tested) / 400 < 0.32, f"25% tested expected, got {len(tested) / 400:.0%}")
        for job in jobs[:80]:
            self.assertEqual(job in held, split_point(split.id, job.enrollment_id.id) >= 25,
                             "the same stable point decides who is tested")
        self.assertEqual(set(tested.mapped("state")), {"done"})
        self.assertTrue(tested.filtered(lambda j: j.branch_id == branch_a)
                        and tested.filtered(lambda j: j.branch_id == branch_b),
                        "the tested share is spread over both branches")
        self.assertEqual(set(held.mapped("state")), {"pending"}, "held-back contacts wait at the split")
        self.assertFalse(held.branch_id, "no branch before the winner is known")
        self.assertEqual(set(held.mapped("scheduled_date")), {T0 + timedelta(days=2)},
                         "they wait until the end of the test period")
        self.assertIn("Held back", held[0].result)
        self.assertEqual(held.mapped("attempts"), [0] * len(held), "waiting is not an attempt")
        self.assertEqual(self.Job.search([("step_id", "in", (email_a | email_b).ids)]).partner_id,
                         tested.partner_id, "only the tested share received the branches' emails")
        self.assertEqual(set(held.enrollment_id.mapped("state")), {"running"})
        self.assertEqual(branch_a.sent_count + branch_b.sent_count, len(tested))
        self.assertEqual(split.split_held_count, len(held), "the split's form counts them")
        with self.at(T0 + timedelta(days=1)):
            self.assertEqual(self.run_scheduler(), 0, "nothing runs for them during the test")

    def test_winner_picked_on_the_criterion_then_the_held_back_follow_it(self):
        flow, split, (branch_a, branch_b), (email_a, _tag_a, email_b), jobs, held = self.start_test(80, share=40)
        self.assertTrue(held)
        with self.at(T0 + timedelta(hours=3)):
            self.Job.search([("step_id", "=", email_b.id)]).mailing_trace_id.set_clicked()
        with self.at(T0 + timedelta(days=2, minutes=5)):
            self.env["salesjet.flow.step"]._cron_end_split_tests()
            self.assertEqual(split.split_winner_id, branch_b, "B's clicks win")
            self.run_scheduler()
        held.invalidate_recordset()
        self.assertEqual(set(held.mapped("state")), {"done"})
        self.assertEqual(held.branch_id, branch_b, "every held-back contact goes down the winner's branch")
        split.invalidate_recordset(["split_held_count"])
        self.assertEqual(split.split_held_count, 0)
        self.assertTrue(all(held.mapped("split_held")), "the job still tells it was held back")
        self.assertEqual(self.Job.search([("step_id", "=", email_b.id), ("partner_id", "in", held.partner_id.ids)])
                         .partner_id, held.partner_id)
        self.assertFalse(self.Job.search([("step_id", "=", email_a.id), ("partner_id", "in", held.partner_id.ids)]))
        for partner in held.partner_id[:5]:
            self.assertTags(partner, present=[self.tag_c], absent=[self.tag_a])
        self.assertEqual(set(self.jobs_of(flow).enrollment_id.mapped("state")), {"done"})

    def test_the_scheduler_alone_ends_a_test_whose_held_back_contacts_come_due(self):
        _flow, split, (branch_a, _b), (email_a, _tag_a, _email_b), _jobs, held = self.start_test(40, share=50)
        with self.at(T0 + timedelta(hours=1)):
            self.Job.search([("step_id", "=", email_a.id)]).mailing_trace_id.set_clicked()
        with self.at(T0 + timedelta(days=2)):
            self.run_scheduler()
        self.assertEqual(split.split_winner_id, branch_a)
        self.assertEqual(held.branch_id, branch_a)
        self.assertEqual(set(held.mapped("state")), {"done"})

    def test_manual_winner_waits_for_a_pick_then_releases_the_held_back(self):
        flow, split, (branch_a, branch_b), (email_a, _tag_a, _email_b), _jobs, held = self.start_test(
            50, share=40, split_criterion="manual")
        with self.at(T0 + timedelta(hours=1)):
            self.Job.search([("step_id", "=", email_a.id)]).mailing_trace_id.set_clicked()
        with self.at(T0 + timedelta(days=2, hours=1)):
            self.env["salesjet.flow.step"]._cron_end_split_tests()
            self.run_scheduler()
        self.assertFalse(split.split_winner_id, "a winner chosen by hand is never picked by the cron")
        self.assertEqual(set(held.mapped("state")), {"pending"})
        self.assertEqual(set(held.mapped("scheduled_date")), {T0 + timedelta(days=4, hours=1)},
                         "after the period they are looked at again one period later")
        with self.at(T0 + timedelta(days=2, hours=2)):
            branch_b.with_user(self.user_flows_admin).action_pick_winner()
            self.assertEqual(set(held.mapped("scheduled_date")), {T0 + timedelta(days=2, hours=2)},
                             "the pick puts them back in the queue at once")
            self.run_scheduler()
        self.assertEqual(split.split_winner_id, branch_b, "the pick overrides A's better clicks")
        self.assertEqual(held.branch_id, branch_b)
        self.assertEqual(set(held.mapped("state")), {"done"})
        message = flow.message_ids.filtered(lambda m: "picked branch B" in (m.body or ""))
        self.assertEqual(len(message), 1)
        with self.assertRaisesRegex(ValidationError, "already has a winner"):
            branch_a.action_pick_winner()

    def test_only_a_flows_administrator_picks_a_winner(self):
        _flow, split, (branch_a, _b), _steps, _jobs, held = self.start_test(20, share=50)
        with self.assertRaises(AccessError):
            branch_a.with_user(self.user_marketing).action_pick_winner()
        self.assertFalse(split.split_winner_id)
        self.assertEqual(set(held.mapped("state")), {"pending"})

    def test_ties_go_to_the_first_branch_and_the_held_back_follow_it(self):
        _flow, split, (branch_a, _b), _steps, _jobs, held = self.start_test(40, share=50)
        with self.at(T0 + timedelta(days=2)):
            self.env["salesjet.flow.step"]._cron_end_split_tests()
            self.run_scheduler()
        self.assertEqual(split.split_winner_id, branch_a, "0% against 0%: the first branch wins")
        self.assertEqual(held.branch_id, branch_a)

    def test_held_back_of_ended_runs_and_stopped_flows_go_nowhere(self):
        flow, split, (_a, branch_b), _steps, _jobs, held = self.start_test(40, share=50)
        stopped_run = held[:2].enrollment_id
        stopped_run.action_stop()
        with self.at(T0 + timedelta(hours=2)):
            branch_b.action_pick_winner()
            self.run_scheduler()
        self.assertEqual(set(held[:2].mapped("state")), {"cancelled"}, "a run stopped by hand stays stopped")
        self.assertFalse(held[:2].branch_id)
        self.assertEqual(set(held[2:].mapped("state")), {"done"})
        # a stopped flow: its held-back contacts are cancelled and a later winner sends nobody
        flow2, split2, (_a2, branch_b2), _steps2, _jobs2, held2 = self.start_test(30, share=50)
        with self.at(T0 + timedelta(hours=3)):
            flow2.action_stop()
            branch_b2.action_pick_winner()
            self.run_scheduler()
        self.assertEqual(set(held2.mapped("state")), {"cancelled"})
        self.assertFalse(held2.branch_id)
        self.assertEqual(set(held2.enrollment_id.mapped("state")), {"stopped"})

    def test_release_is_bounded_and_the_cron_finishes_it(self):
        from ..models import salesjet_flow_step_split as split_module
        _flow, split, (branch_a, _b), _steps, _jobs, held = self.start_test(60, share=20)
        self.assertGreater(len(held), 10)
        self.patch(split_module, "RELEASE_BATCH_SIZE", 10)
        with self.at(T0 + timedelta(hours=1)):
            branch_a.action_pick_winner()
            due = held.filtered(lambda j: j.scheduled_date == T0 + timedelta(hours=1))
            self.assertEqual(len(due), 10, "one statement puts back a bounded share")
            for _call in range(10):
                self.env["salesjet.flow.step"]._cron_end_split_tests()
            self.run_scheduler()
        self.assertEqual(set(held.mapped("state")), {"done"})
        self.assertEqual(held.branch_id, branch_a)

    @users("user_flows_admin")
    def test_test_share_is_between_one_and_one_hundred(self):
        with self.assertRaisesRegex(ValidationError, "test share is between 1 and 100"):
            self.make_split_flow(split_test_share=0)
        with self.assertRaisesRegex(ValidationError, "test share is between 1 and 100"):
            self.make_split_flow(split_test_share=120)
