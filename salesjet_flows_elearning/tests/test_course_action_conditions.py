from datetime import timedelta

from odoo.exceptions import ValidationError
from odoo.tests import users

from odoo.addons.salesjet_flows.tests.common import T0

from .common import SalesjetCourseCase


class TestCourseEnrollStep(SalesjetCourseCase):

    def test_enroll_step_adds_the_course_subscription_and_skips_members(self):
        flow = self.make_flow([{"action_type": "course_enroll", "enroll_course_id": self.course.id}])
        newcomer = self.make_partners(1)
        self.join(self.learner)
        self.course._action_add_members(self.learner_2.partner_id, member_status="invited")
        for partner in (newcomer, self.learner.partner_id, self.learner_2.partner_id):
            self.Event.post("sj_test", partner)
        self.run_scheduler()
        new_job, member_job, invited_job = (self.jobs_of(flow, p) for p in
                                            (newcomer, self.learner.partner_id, self.learner_2.partner_id))
        self.assertEqual((new_job.state, new_job.result), ("done", "Enrolled in SJ Gardening."))
        membership = self.env["slide.channel.partner"].browse(new_job.res_id)
        self.assertEqual((new_job.res_model, membership.partner_id, membership.member_status),
                         ("slide.channel.partner", newcomer, "joined"))
        self.assertIn(newcomer, self.course.message_partner_ids, "enrolled as by the course's own method")
        self.assertEqual((member_job.state, member_job.result), ("skipped", "Already enrolled in SJ Gardening."))
        self.assertEqual(invited_job.state, "done", "an invited contact is enrolled")
        self.assertEqual(self.membership(self.learner_2).member_status, "joined")

    def test_enroll_step_starts_course_enrolled_flows(self):
        follow_up = self.make_flow([self.tag_step(self.tag_b)], triggers=[{"trigger_type": "course_enrolled"}])
        self.make_flow([{"action_type": "course_enroll", "enroll_course_id": self.course.id}])
        partner = self.make_partners(1)
        self.Event.post("sj_test", partner)
        self.run_scheduler()
        self.assertEqual(follow_up.enrollment_ids.partner_id, partner)

    @users("user_flows_admin")
    def test_enroll_step_needs_a_course(self):
        with self.assertRaisesRegex(ValidationError, "choose the course"):
            self.make_flow([{"action_type": "course_enroll"}])


class TestCourseConditions(SalesjetCourseCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.step = cls.make_flow([cls.tag_step(cls.tag_a)]).step_ids
        cls.nobody = cls.make_partners(1, prefix="SJ no account")

    def condition(self, condition_type, **vals):
        return self.env["salesjet.flow.condition"].create({
            "step_id": self.step.id, "condition_type": condition_type, **vals})

    def assertFilter(self, condition, expected, msg=None):
        partners = self.learner.partner_id | self.learner_2.partner_id | self.nobody
        self.assertEqual(condition._filter(partners), expected, msg or condition.name)
        condition.negate = True
        self.assertEqual(condition._filter(partners), partners - expected, condition.name)
        condition.negate = False

    def test_has_user_account(self):
        self.learner_2.active = False
        self.assertFilter(self.condition("has_user"), self.learner.partner_id)

    def test_has_active_subscription(self):
        self.join(self.learner)
        self.join(self.learner_2, self.other_course)
        self.assertFilter(self.condition("course_member", course_ids=[(6, 0, self.course.ids)]),
                          self.learner.partner_id)
        self.assertFilter(self.condition("course_member"), self.learner.partner_id | self.learner_2.partner_id)
        self.course._remove_membership(self.learner.partner_id.ids)
        self.assertFilter(self.condition("course_member", course_ids=[(6, 0, self.course.ids)]),
                          self.env["res.partner"], "a removed member")

    def test_started_a_course(self):
        self.join(self.learner)
        self.join(self.learner_2)
        self.view(self.learner, self.lesson_2)
        self.assertFilter(self.condition("course_started", course_ids=[(6, 0, self.course.ids)]),
                          self.learner.partner_id)
        self.assertFilter(self.condition("course_started", course_ids=[(6, 0, self.other_course.ids)]),
                          self.env["res.partner"])

    def test_completed_a_course_and_a_lesson(self):
        self.join(self.learner)
        self.join(self.learner_2)
        self.complete(self.learner, self.course.slide_ids)
        self.complete(self.learner_2, self.lesson_1)
        self.assertFilter(self.condition("course_completed", course_ids=[(6, 0, self.course.ids)]),
                          self.learner.partner_id)
        self.assertFilter(self.condition("lesson_completed", lesson_ids=[(6, 0, self.lesson_1.ids)]),
                          self.learner.partner_id | self.learner_2.partner_id)
        self.assertFilter(self.condition("lesson_completed", lesson_ids=[(6, 0, self.lesson_2.ids)]),
                          self.learner.partner_id)
        self.view(self.learner_2, self.lesson_2)
        self.assertFilter(self.condition("lesson_completed", lesson_ids=[(6, 0, self.lesson_2.ids)]),
                          self.learner.partner_id, "viewed is not completed")

    def test_last_active_on_courses_before_or_after_a_date(self):
        with self.at(T0):
            self.join(self.learner)
            self.join(self.learner_2)
        with self.at(T0 + timedelta(days=10)):
            self.view(self.learner_2, self.lesson_1)
        cutoff = T0 + timedelta(days=5)
        self.assertFilter(self.condition("course_activity", activity_operator="before", activity_date=cutoff),
                          self.learner.partner_id)
        self.assertFilter(self.condition("course_activity", activity_operator="after", activity_date=cutoff),
                          self.learner_2.partner_id)
        self.assertFilter(self.condition("course_activity", activity_operator="after", activity_date=cutoff,
                                         course_ids=[(6, 0, self.other_course.ids)]),
                          self.env["res.partner"])

    def test_a_batch_is_filtered_in_one_query(self):
        self.join(self.learner)
        self.complete(self.learner, self.lesson_1)
        conditions = (self.condition("has_user") | self.condition("course_member")
                      | self.condition("course_started") | self.condition("lesson_completed",
                                                                          lesson_ids=[(6, 0, self.lesson_1.ids)])
                      | self.condition("course_activity", activity_operator="after", activity_date=T0))
        partners = self.make_partners(50) | self.learner.partner_id
        self.env.flush_all()
        conditions.mapped("name")  # compute the display values outside the count
        with self.assertQueryCount(1):
            self.assertEqual(conditions._filter(partners), self.learner.partner_id)

    @users("user_flows_admin")
    def test_course_conditions_need_their_settings(self):
        with self.assertRaisesRegex(ValidationError, "Choose the lessons"):
            self.condition("lesson_completed")
        with self.assertRaisesRegex(ValidationError, "a date"):
            self.condition("course_activity", activity_date=False)
