"""What the engine's fast paths compute for a whole batch is what Odoo computes record by record.

Each test runs a step and compares what it stored with what Odoo's own code gives for the same record, so
a fast path that drifts from Odoo (a new override, another default) fails here.
"""
from odoo.addons.mail.tests.common import MockEmail

from .common import SalesjetCase


class TestEmailFastPath(SalesjetCase, MockEmail):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.email = "shop@example.com"

    def email_step(self):
        return {
            "action_type": "email", "email_source": "custom", "email_subject": "Hello {{ object.name }}",
            "email_body": "<p>Dear {{ object.name ||| friend }} <a href='https://shop.example.com/x'>x</a></p>",
        }

    def run_email_step(self, partners):
        flow = self.make_flow([self.email_step()])
        for partner in partners:
            self.Event.post("sj_test", partner)
        self.run_scheduler()
        return flow, self.env["mail.mail"].browse(self.jobs_of(flow).mapped("res_id"))

    def assertOdooMessageValues(self, mails):
        """reply_to and record_name as mail.message.create computes them for a mail without them."""
        Message = self.env["mail.message"].sudo()
        self.assertTrue(mails)
        for mail in mails:
            values = {"model": mail.model, "res_id": mail.res_id, "message_type": mail.message_type,
                      "email_from": mail.email_from}
            self.assertEqual(mail.reply_to, Message._get_reply_to(values), f"reply-to of {mail.record_name}")
            self.assertEqual(mail.record_name, Message._get_record_name(values))

    def test_email_batch_reply_to_and_record_name_are_odoos_own(self):
        partners = self.make_partners(3)
        _flow, mails = self.run_email_step(partners)
        self.assertEqual(mails.mapped("res_id"), partners.ids)
        self.assertOdooMessageValues(mails)

    def test_email_batch_reply_to_follows_each_contacts_company_catchall(self):
        """Contacts of two companies, one with a catchall alias domain: each mail gets its own company's
        reply-to, as Odoo gives it message by message."""
        domain = self.env["mail.alias.domain"].create({"name": "replies.example.com", "catchall_alias": "catchall"})
        other = self.env["res.company"].create({"name": "SJ other company", "alias_domain_id": domain.id,
                                                "email": "other@example.com"})
        mine = self.make_partners(2)
        theirs = self.make_partners(2, prefix="SJ other", company_id=other.id)
        _flow, mails = self.run_email_step(mine + theirs)
        self.assertOdooMessageValues(mails)
        their_mails = mails.filtered(lambda m: m.res_id in theirs.ids)
        self.assertTrue(all("catchall@replies.example.com" in mail.reply_to for mail in their_mails),
                        their_mails.mapped("reply_to"))

    def test_email_batch_still_tracks_and_carries_the_unsubscribe_header(self):
        """The batch's mails are mass mailing's: trace with its message id, shortened links, and at sending
        the tracking pixel and the List-Unsubscribe header of a mailing."""
        partners = self.make_partners(2)
        flow, mails = self.run_email_step(partners)
        for mail in mails:
            trace = mail.mailing_trace_ids
            self.assertEqual(len(trace), 1)
            self.assertEqual(trace.message_id, mail.message_id)
            self.assertEqual(mail.mailing_id, flow.step_ids.mailing_id)
            self.assertIn("/r/", str(mail.body_html))
        with self.mock_mail_gateway():
            mails.send()
        self.assertEqual(len(self._mails), 2)
        for sent in self._mails:
            self.assertIn("List-Unsubscribe", sent["headers"])
            self.assertIn("/mail/track/", sent["body"])


class TestDueCount(SalesjetCase):

    def test_scheduler_counts_due_jobs_up_to_ten_batches_only(self):
        """After each call the scheduler only tells Odoo that work remains: it counts up to ten batches, so
        the count stops early on a large backlog instead of reading all of it."""
        self.make_flow([self.tag_step(self.tag_a)])
        for partner in self.make_partners(15):
            self.Event.post("sj_test", partner)
        self.assertEqual(self.Job._count_due(), 15)
        self.env["ir.config_parameter"].sudo().set_param("salesjet_flows.job_batch_size", 1)
        self.assertEqual(self.Job._count_due(), 10)
        self.assertEqual(self.run_scheduler(), 15, "every due job still runs")
        self.assertEqual(self.Job._count_due(), 0)
