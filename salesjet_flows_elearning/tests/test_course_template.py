from odoo.tests import users

from .common import SalesjetCourseCase


class TestCourseReminderTemplate(SalesjetCourseCase):

    @users("user_flows_admin")
    def test_course_reminder_repeats_until_started_then_calls(self):
        flow = self.env.ref("salesjet_flows_elearning.flow_template_course_reminder")._create_flows()
        self.assertEqual(flow.trigger_ids.trigger_type, "course_enrolled")
        reminder, call = flow.step_ids
        self.assertEqual((reminder.action_type, reminder.delay_value, reminder.repeat, reminder.repeat_interval),
                         ("email", 3, True, 3))
        condition = reminder.condition_ids
        self.assertEqual((condition.condition_type, condition.negate), ("course_started", True))
        self.assertEqual(call.action_type, "call")
        self.assertEqual(call.call_template_id, self.env.ref("salesjet_flows_elearning.call_template_course_continue"))
        # the test run previews the call script for a contact
        partner = self.env["res.partner"].create({"name": "SJ Learner", "mobile": "+32 470 11 22 33"})
        run = self.env["salesjet.flow.test.run"].create({"flow_id": flow.id, "partner_id": partner.id})
        run.action_run_to_end()
        self.assertEqual(run.line_ids.mapped("outcome"), ["run", "run"])
        self.assertIn("would repeat every 3 days", run.line_ids[0].note)
        self.assertIn("Hello SJ Learner, this is a friendly call", run.line_ids[1].preview_html)
        self.assertIn("+32470112233", run.line_ids[1].preview_html)

    def test_demo_course_reminder_is_the_template_archived(self):
        if not self.env.ref("base.module_salesjet_flows_elearning").demo:
            self.skipTest("installed without demo data")
        demo = self.env.ref("salesjet_flows_elearning.flow_course_start_reminder")
        self.assertFalse(demo.active)
        self.assertEqual(demo.step_ids.mapped("action_type"), ["email", "call"])


class TestCourseEnrollPreview(SalesjetCourseCase):

    @users("user_flows_admin")
    def test_test_run_shows_the_course_without_enrolling(self):
        flow = self.make_flow([{"action_type": "course_enroll", "enroll_course_id": self.course.id}])
        partner = self.learner.partner_id
        run = self.env["salesjet.flow.test.run"].create({"flow_id": flow.id, "partner_id": partner.id})
        run.action_run_to_end()
        self.assertIn("in the course “SJ Gardening”", run.line_ids.preview_html)
        self.assertNotIn(partner, self.course.channel_partner_ids.partner_id, "a test run enrols no one")
