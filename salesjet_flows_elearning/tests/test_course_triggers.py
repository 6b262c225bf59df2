from datetime import timedelta

from psycopg2 import IntegrityError

from odoo.exceptions import ValidationError
from odoo.tests import Form, users
from odoo.tools import mute_logger

from odoo.addons.salesjet_flows.tests.common import T0
from odoo.addons.salesjet_flows_elearning.models.salesjet_flow_trigger import COURSE_TRIGGER_TYPES

from .common import SalesjetCourseCase


class TestCourseTriggers(SalesjetCourseCase):

    def course_flow(self, trigger_type, reentry_policy="always", **trigger):
        return self.make_flow([self.tag_step(self.tag_a)], reentry_policy=reentry_policy,
                              triggers=[{"trigger_type": trigger_type, **trigger}])

    def events(self, kind, user=None):
        domain = [("kind", "=", kind)]
        if user:
            domain.append(("partner_id", "=", user.partner_id.id))
        return self.Event.search(domain)

    def test_completing_every_lesson_starts_the_course_completed_flow(self):
        flow = self.course_flow("course_completed", course_ids=[(6, 0, self.course.ids)])
        self.join(self.learner)
        self.complete(self.learner, self.lesson_1)
        self.assertFalse(flow.enrollment_ids, "half a course is not a completed course")
        self.complete(self.learner, self.lesson_2)
        self.assertEqual(self.membership(self.learner).member_status, "completed")
        run = flow.enrollment_ids
        self.assertEqual(run.partner_id, self.learner.partner_id)
        self.assertEqual(run.data["course_name"], "SJ Gardening")
        self.assertTrue(run.data["course_url"].endswith(f"-{self.course.id}"))
        self.run_scheduler()
        self.assertTags(self.learner.partner_id, present=self.tag_a)

    def test_course_completed_flow_ignores_other_courses(self):
        flow = self.course_flow("course_completed", course_ids=[(6, 0, self.course.ids)])
        self.join(self.learner, self.other_course)
        self.complete(self.learner, self.other_course.slide_ids)
        self.assertEqual(self.membership(self.learner, self.other_course).member_status, "completed")
        self.assertFalse(flow.enrollment_ids)

    def test_lesson_completed_trigger_starts_only_for_the_chosen_lesson_and_once(self):
        flow = self.course_flow("lesson_completed", lesson_ids=[(6, 0, self.lesson_2.ids)])
        self.join(self.learner)
        self.complete(self.learner, self.lesson_1)
        self.assertFalse(flow.enrollment_ids)
        self.complete(self.learner, self.lesson_2)
        self.assertEqual(flow.enrollment_ids.partner_id, self.learner.partner_id)
        self.assertEqual(flow.enrollment_ids.data["lesson_name"], self.lesson_2.name)
        # marked not done then done again: the same lesson is not raised twice (the flow accepts every event)
        self.lesson_2.with_user(self.learner).action_mark_uncompleted()
        self.complete(self.learner, self.lesson_2)
        self.assertEqual(len(flow.enrollment_ids), 1)
        self.assertEqual(len(self.events("lesson_completed", self.learner).filtered(
            lambda e: e.data["lesson_id"] == self.lesson_2.id)), 1)

    def test_joining_a_course_starts_the_course_enrolled_flow(self):
        flow = self.course_flow("course_enrolled", course_ids=[(6, 0, self.course.ids)])
        self.join(self.learner, self.other_course)
        self.assertFalse(flow.enrollment_ids, "another course")
        self.join(self.learner)
        self.assertEqual(flow.enrollment_ids.partner_id, self.learner.partner_id)
        self.join(self.learner)
        self.assertEqual(len(flow.enrollment_ids), 1, "joining again while a member is not a new enrolment")

    def test_invited_contact_is_enrolled_only_when_joining(self):
        flow = self.course_flow("course_enrolled")
        self.course._action_add_members(self.learner.partner_id, member_status="invited")
        self.assertFalse(flow.enrollment_ids, "an invitation is not an enrolment")
        self.join(self.learner)
        self.assertEqual(flow.enrollment_ids.partner_id, self.learner.partner_id)

    def test_first_lesson_viewed_starts_the_course_started_flow_once(self):
        flow = self.course_flow("course_started")
        self.join(self.learner)
        self.join(self.learner_2)
        self.view(self.learner, self.lesson_1)
        self.assertEqual(flow.enrollment_ids.partner_id, self.learner.partner_id)
        self.complete(self.learner, self.lesson_2)
        self.view(self.learner, self.lesson_2)
        self.assertEqual(len(flow.enrollment_ids), 1, "later lessons do not start the course again")
        self.complete(self.learner_2, self.lesson_2)
        self.assertEqual(flow.enrollment_ids.partner_id, self.learner.partner_id | self.learner_2.partner_id,
                         "completing a first lesson without viewing it first starts the course too")

    def test_course_events_are_not_stored_when_no_flow_listens(self):
        self.join(self.learner)
        self.complete(self.learner, self.course.slide_ids)
        # other modules (the loyalty bridge's registration scenario) may listen to the portal sign-up
        events = self.Event.search([("partner_id", "=", self.learner.partner_id.id),
                                    ("kind", "in", list(COURSE_TRIGGER_TYPES))])
        self.assertFalse(events, events.mapped(lambda e: (e.kind, e.code, e.source)))

    def test_inactivity_cron_raises_the_event_once_per_idle_period(self):
        flow = self.course_flow("course_inactive", course_inactive_days=3, course_ids=[(6, 0, self.course.ids)])
        cron = self.env.ref("salesjet_flows_elearning.ir_cron_salesjet_course_inactivity")
        with self.at(T0):
            self.join(self.learner)
            self.join(self.learner_2)
            self.join(self.learner, self.other_course)  # not watched by this trigger
        with self.at(T0 + timedelta(days=1)):
            self.view(self.learner_2, self.lesson_1)
        with self.at(T0 + timedelta(days=2, hours=23)):
            cron.method_direct_trigger()
            self.assertFalse(flow.enrollment_ids, "not yet 3 days")
        with self.at(T0 + timedelta(days=3, hours=1)):
            cron.method_direct_trigger()
            self.assertEqual(flow.enrollment_ids.partner_id, self.learner.partner_id)
            self.assertEqual(flow.enrollment_ids.data["days"], 3)
        with self.at(T0 + timedelta(days=4, hours=1)):
            cron.method_direct_trigger()
            self.assertEqual(flow.enrollment_ids.partner_id, self.learner.partner_id | self.learner_2.partner_id,
                             "3 days after learner 2's last lesson view")
        with self.at(T0 + timedelta(days=9)):
            cron.method_direct_trigger()
            self.assertEqual(len(flow.enrollment_ids), 2, "each period of inactivity is raised once")
            self.view(self.learner, self.lesson_1)  # back, then idle again
        with self.at(T0 + timedelta(days=12, hours=1)):
            cron.method_direct_trigger()
        self.assertEqual(len(flow.enrollment_ids.filtered(lambda r: r.partner_id == self.learner.partner_id)), 2)
        self.assertEqual(len(self.events("course_inactive")), 3)

    @users("user_flows_admin")
    def test_inactivity_trigger_needs_a_positive_number_of_days(self):
        with self.assertRaisesRegex(ValidationError, "at least 1"):
            self.course_flow("course_inactive", course_inactive_days=0)

    def test_a_course_a_trigger_filters_on_cannot_be_deleted(self):
        self.course_flow("course_completed", course_ids=[(6, 0, self.other_course.ids)])
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.other_course.unlink()
            self.env.flush_all()

    def test_reminder_every_3_days_until_the_course_is_started(self):
        self.env.company.email = "school@example.com"
        with self.at(T0):
            flow = self.make_flow([{
                "action_type": "email", "email_source": "custom",
                "email_subject": "Start {{ event.get('course_name') }}",
                "email_body": "<p>Your course: {{ event.get('course_url') }}</p>",
                "timing": "delay", "delay_value": 3, "delay_unit": "days",
                "repeat": True, "repeat_interval": 3, "repeat_unit": "days", "repeat_max": 5,
            }], triggers=[{"trigger_type": "course_enrolled", "course_ids": [(6, 0, self.course.ids)]}])
            self.env["salesjet.flow.condition"].create({
                "step_id": flow.step_ids.id, "condition_type": "course_started", "negate": True,
                "course_ids": [(6, 0, self.course.ids)]})
            self.join(self.learner)
        for days in (3, 6):
            with self.at(T0 + timedelta(days=days, minutes=1)):
                self.run_scheduler()
        with self.at(T0 + timedelta(days=7)):
            self.view(self.learner, self.lesson_1)
        with self.at(T0 + timedelta(days=9, minutes=1)):
            self.run_scheduler()
        jobs = self.jobs_of(flow)
        self.assertEqual(jobs.mapped("state"), ["done", "done", "skipped"])
        self.assertEqual(jobs[2].result, "Repeat ended: the conditions no longer hold.")
        mails = self.env["mail.mail"].search([("mailing_id", "=", flow.step_ids.mailing_id.id)])
        self.assertEqual(len(mails), 2)
        self.assertEqual(mails[0].subject, "Start SJ Gardening")
        self.assertEqual(flow.enrollment_ids.state, "done")

    # as superuser: Odoo shows lessons that are not previews only to eLearning officers and course members,
    # so a Flows administrator without eLearning rights cannot pick the lesson of a "lesson completed" trigger
    def test_forms_show_only_the_fields_of_the_chosen_type(self):
        flow = self.make_flow([], triggers=[])
        trigger = Form(self.env["salesjet.flow.trigger"].with_context(default_flow_id=flow.id))
        trigger.trigger_type = "lesson_completed"
        trigger.lesson_ids.add(self.lesson_1)
        with self.assertRaises(AssertionError):
            trigger.course_inactive_days = 5  # invisible for this type
        trigger.trigger_type = "course_inactive"
        trigger.course_inactive_days = 5
        self.assertEqual(trigger.save().name, "Inactive on a course: 5 days")
        step = Form(self.env["salesjet.flow.step"].with_context(default_flow_id=flow.id))
        with self.assertRaises(AssertionError):
            step.enroll_course_id = self.course
        step.action_type = "course_enroll"
        step.enroll_course_id = self.course
        self.assertEqual(step.save().enroll_course_id, self.course)
