from contextlib import contextmanager
from unittest.mock import patch

from freezegun import freeze_time

from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.addons.salesjet_flows.tests.common import SalesjetCase


class SalesjetCourseCase(SalesjetCase):
    """A published course of two lessons and learners with portal accounts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.course = cls.make_course("SJ Gardening")
        cls.lesson_1, cls.lesson_2 = cls.course.slide_ids
        cls.other_course = cls.make_course("SJ Furniture")
        cls.learner = cls.make_learner("sj_learner")
        cls.learner_2 = cls.make_learner("sj_learner_2")

    @classmethod
    def make_course(cls, name, lessons=2):
        course = cls.env["slide.channel"].create({
            "name": name, "channel_type": "training", "enroll": "public", "visibility": "public",
            "is_published": True,
        })
        cls.env["slide.slide"].create([{
            "name": f"{name} lesson {index + 1}", "channel_id": course.id, "slide_category": "document",
            "is_published": True, "sequence": index + 1,
        } for index in range(lessons)])
        return course

    @classmethod
    def make_learner(cls, login):
        return mail_new_test_user(cls.env, login=login, name=login.replace("_", " ").title(),
                                  email=f"{login}@example.com", groups="base.group_portal")

    @contextmanager
    def at(self, when):
        """Freeze time, and the transaction's NOW too: create and write dates follow it."""
        with freeze_time(when), patch.object(self.env.cr, "now", lambda: when):
            yield

    # -- what a learner does on the website -----------------------------------

    def join(self, user, course=None):
        """The website's Join button (controller /slides/channel/join)."""
        return (course or self.course).with_user(user).sudo()._action_add_members(user.partner_id)

    def view(self, user, lessons):
        lessons.with_user(user).action_set_viewed()

    def complete(self, user, lessons):
        lessons.with_user(user).action_mark_completed()

    def membership(self, user, course=None):
        return self.env["slide.channel.partner"].search([
            ("channel_id", "=", (course or self.course).id), ("partner_id", "=", user.partner_id.id)])
