from datetime import timedelta

from odoo.exceptions import UserError, ValidationError
from odoo.tests import users

from .common import T0, SalesjetCase


class TestSplit(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.email = "shop@example.com"

    def email_step(self, subject, **vals):
        return {"action_type": "email", "email_source": "custom", "email_subject": subject,
                "email_body": "<p>Hi <a href='https://shop.example.com/offer'>Offer</a></p>", **vals}

    def make_split_flow(self, shares=(50, 50), **split_vals):
        """Split (A/B) → branch A: email A, branch B: email B → main chain: tag C."""
        flow = self.make_flow([
            {"action_type": "split", "name": "Subject test", "split_criterion": "clicks",
             "split_test_value": 2, "split_test_unit": "days",
             "branch_ids": [(0, 0, {"name": name, "percentage": share, "sequence": i})
                            for i, (name, share) in enumerate(zip("AB", shares, strict=True))], **split_vals},
            self.tag_step(self.tag_c),
        ])
        split = flow.step_ids[0]
        branch_a, branch_b = split.branch_ids
        Step = self.env["salesjet.flow.step"]
        email_a = Step.create(dict(self.email_step("Version A"), flow_id=flow.id, branch_id=branch_a.id, sequence=11))
        tag_a = Step.create(dict(self.tag_step(self.tag_a), flow_id=flow.id, branch_id=branch_a.id, sequence=12))
        email_b = Step.create(dict(self.email_step("Version B"), flow_id=flow.id, branch_id=branch_b.id, sequence=13))
        return flow, split, (branch_a, branch_b), (email_a, tag_a, email_b)

    def test_split_sends_each_run_down_one_branch_then_back_to_the_main_chain(self):
        flow, split, (branch_a, branch_b), (email_a, tag_a_step, email_b) = self.make_split_flow()
        partners = self.make_partners(40)
        with self.at(T0):
            flow._enroll(partners.ids)
            self.run_scheduler()
        split_jobs = self.Job.search([("step_id", "=", split.id)])
        self.assertEqual(len(split_jobs), 40)
        in_a = split_jobs.filtered(lambda j: j.branch_id == branch_a).partner_id
        in_b = split_jobs.filtered(lambda j: j.branch_id == branch_b).partner_id
        self.assertTrue(in_a and in_b, "both branches get contacts")
        self.assertEqual(len(in_a) + len(in_b), 40, "every run goes down exactly one branch")
        self.assertEqual(self.Job.search([("step_id", "=", email_a.id)]).partner_id, in_a)
        self.assertEqual(self.Job.search([("step_id", "=", tag_a_step.id)]).partner_id, in_a,
                         "a branch's steps run in order")
        self.assertEqual(self.Job.search([("step_id", "=", email_b.id)]).partner_id, in_b)
        for partner in in_a:
            self.assertTags(partner, present=[self.tag_a, self.tag_c])
        for partner in in_b:
            self.assertTags(partner, present=[self.tag_c], absent=[self.tag_a])
        self.assertEqual(set(self.jobs_of(flow).enrollment_id.mapped("state")), {"done"},
                         "after its branch every run comes back to the main chain and completes")
        self.assertEqual(split.split_started, T0)
        self.assertEqual((branch_a.sent_count, branch_b.sent_count), (len(in_a), len(in_b)))

    def test_assignment_follows_the_shares_and_is_deterministic(self):
        flow, split, (branch_a, branch_b), _steps = self.make_split_flow(shares=(80, 20))
        partners = self.make_partners(500)
        with self.at(T0):
            enrollments = flow._enroll(partners.ids)
            self.run_scheduler()
        jobs = self.Job.search([("step_id", "=", split.id)])
        share_a = len(jobs.filtered(lambda j: j.branch_id == branch_a)) / len(jobs)
        self.assertTrue(0.72 < share_a < 0.88, f"80% expected in A, got {share_a:.0%}")
        from ..models.salesjet_flow_step_split import split_point
        for job in jobs[:50]:
            expected = branch_a if split_point(split.id, job.enrollment_id.id) < 80 else branch_b
            self.assertEqual(job.branch_id, expected, "the same run always lands in the same branch")
        self.assertEqual(len(enrollments), 500)

    def test_winner_on_clicks_takes_every_later_contact_and_is_announced(self):
        flow, split, (branch_a, branch_b), (email_a, _tag, email_b) = self.make_split_flow()
        first = self.make_partners(40, prefix="SJ early")
        with self.at(T0):
            flow._enroll(first.ids)
            self.run_scheduler()
        b_jobs = self.Job.search([("step_id", "=", email_b.id)])
        a_jobs = self.Job.search([("step_id", "=", email_a.id)])
        self.assertTrue(b_jobs.mailing_trace_id and a_jobs.mailing_trace_id, "branch emails are tracked")
        # every contact of branch B clicks, one of branch A
        with self.at(T0 + timedelta(hours=5)):
            b_jobs.mailing_trace_id.set_clicked()
            a_jobs[:1].mailing_trace_id.set_clicked()
        self.assertEqual(branch_b.click_count, len(b_jobs))
        self.assertEqual(branch_b.score, 100.0)
        with self.at(T0 + timedelta(days=1)):
            self.env["salesjet.flow.step"]._cron_end_split_tests()
        self.assertFalse(split.split_winner_id, "no winner before the test period is over")
        later = self.make_partners(30, prefix="SJ late")
        with self.at(T0 + timedelta(days=2, hours=1)):
            flow._enroll(later.ids)
            self.run_scheduler()
        self.assertEqual(split.split_winner_id, branch_b)
        self.assertEqual(split.split_ended, T0 + timedelta(days=2, hours=1))
        late_jobs = self.Job.search([("step_id", "=", split.id), ("partner_id", "in", later.ids)])
        self.assertEqual(len(late_jobs), 30)
        self.assertEqual(late_jobs.branch_id, branch_b, "after the test everyone goes down the winner")
        self.assertEqual(self.Job.search([("step_id", "=", email_b.id), ("partner_id", "in", later.ids)]).partner_id,
                         later)
        a_rate = 100.0 / len(a_jobs)
        message = flow.message_ids.filtered(lambda m: "won on" in (m.body or ""))
        self.assertEqual(len(message), 1)
        self.assertIn(f"branch B won on clicks: 100.0% against {a_rate:.1f}% (A)", message.body)
        self.assertTrue(branch_b.is_winner and not branch_a.is_winner)

    def test_winner_on_goal(self):
        flow, split, (branch_a, branch_b), _steps = self.make_split_flow(
            split_criterion="goal", split_goal_domain=f"[('category_id', 'in', [{self.tag_b.id}])]")
        partners = self.make_partners(20)
        with self.at(T0):
            flow._enroll(partners.ids)
            self.run_scheduler()
        in_a = self.Job.search([("step_id", "=", split.id), ("branch_id", "=", branch_a.id)]).partner_id
        in_a[:2].category_id = self.tag_b
        self.assertEqual(branch_a.goal_count, 2)
        with self.at(T0 + timedelta(days=3)):
            split._split_end_test()
        self.assertEqual(split.split_winner_id, branch_a)

    @users("user_flows_admin")
    def test_shares_must_add_up_to_one_hundred(self):
        with self.assertRaisesRegex(ValidationError, "add up to 90"):
            self.make_split_flow(shares=(60, 30))
        with self.assertRaisesRegex(ValidationError, "at least two branches"):
            self.make_flow([{"action_type": "split", "branch_ids": [(0, 0, {"name": "A", "percentage": 100})]}])
        _flow, split, (branch_a, _b), _steps = self.make_split_flow()
        with self.assertRaisesRegex(ValidationError, "add up to 110"):
            branch_a.percentage = 60

    @users("user_flows_admin")
    def test_diagram_groups_branch_steps_after_their_split(self):
        flow, split, _branches, (email_a, tag_a_step, email_b) = self.make_split_flow()
        flow.invalidate_recordset(["diagram_data"])
        nodes = flow.diagram_data["steps"]
        self.assertEqual([n["id"] for n in nodes],
                         [split.id, email_a.id, tag_a_step.id, email_b.id,
                          flow.step_ids.filtered(lambda s: s.action_type == "add_tag" and not s.branch_id).id])
        self.assertTrue(nodes[1]["title"].startswith("Branch A"))
        self.assertEqual(nodes[3]["branch"], "B")

    @users("user_flows_admin")
    def test_copy_and_export_keep_the_branches(self):
        flow, split, _branches, (email_a, tag_a_step, email_b) = self.make_split_flow(shares=(70, 30))
        payload = self.env["salesjet.flow.transfer"].export_flows(flow)
        for other in (flow.copy(), self.env["salesjet.flow.transfer"].import_flows(payload)):
            new_split = other.step_ids.filtered(lambda s: s.action_type == "split")
            self.assertEqual(new_split.branch_ids.mapped("name"), ["A", "B"])
            self.assertEqual(new_split.branch_ids.mapped("percentage"), [70, 30])
            in_branches = other.step_ids.filtered("branch_id")
            self.assertEqual(len(in_branches), 3)
            self.assertEqual(in_branches.branch_id, new_split.branch_ids, "the steps point to the new branches")
            self.assertEqual(other.step_ids.filtered(lambda s: s.email_subject == "Version B").branch_id.name, "B")

    @users("user_flows_admin")
    def test_a_split_whose_branches_have_waiting_contacts_cannot_be_deleted(self):
        flow, split, _branches, (email_a, _tag, email_b) = self.make_split_flow()
        (email_a | email_b).write({"timing": "delay", "delay_value": 1, "delay_unit": "days"})
        with self.at(T0):
            flow._enroll(self.make_partners(6).ids)
            self.run_scheduler()
        waiting = self.Job.search([("flow_id", "=", flow.id), ("state", "=", "pending")])
        self.assertEqual(len(waiting), 6)
        with self.assertRaisesRegex(UserError, "6 contacts wait on the steps of this split's branches"):
            split.with_context(salesjet_step_removal=True).unlink()
        self.assertEqual(len(waiting.exists()), 6, "no waiting job lost")

    def test_cron_ends_the_tests_whose_period_is_over_and_only_those(self):
        flow, split, _branches, _steps = self.make_split_flow()
        _flow_h, split_hours, _branches_h, _steps_h = self.make_split_flow(split_test_unit="hours",
                                                                            split_test_value=60)
        partners = self.make_partners(6)
        with self.at(T0):
            flow._enroll(partners[:3].ids)
            _flow_h._enroll(partners[3:].ids)
            self.run_scheduler()
        with self.at(T0 + timedelta(days=2, minutes=1)):
            self.env["salesjet.flow.step"]._cron_end_split_tests()
        self.assertTrue(split.split_winner_id, "two days are over: the test ended")
        self.assertEqual(split.split_ended, T0 + timedelta(days=2, minutes=1))
        self.assertFalse(split_hours.split_winner_id, "60 hours are not over yet")
        with self.at(T0 + timedelta(hours=60)):
            self.env["salesjet.flow.step"]._cron_end_split_tests()
        self.assertTrue(split_hours.split_winner_id, "the test period in hours ends on time")
