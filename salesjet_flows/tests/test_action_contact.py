from odoo.exceptions import ValidationError
from odoo.tests import users

from .common import T0, SalesjetCase


class TestContactActions(SalesjetCase):

    def test_note_is_logged_on_the_contact_and_the_lead(self):
        flow = self.make_flow([{"action_type": "note",
                                "note_body": "Came from {{ event.get('source') ||| nowhere }} <b>"}])
        partner = self.make_partners(1)
        lead = self.env["crm.lead"].create({"name": "Lead", "partner_id": partner.id})
        self.Event.post("sj_test", partner, lead=lead, data={"source": "fair"})
        self.run_scheduler()
        job = self.jobs_of(flow)
        self.assertEqual(job.state, "done")
        message = self.env["mail.message"].browse(job.res_id)
        self.assertEqual((message.model, message.res_id), ("res.partner", partner.id))
        self.assertIn("Came from fair &lt;b&gt;", str(message.body), "text is escaped, not HTML")
        self.assertIn("Came from fair", str(lead.message_ids[0].body))

    def test_message_an_employee_as_notification_and_as_activity(self):
        user = self.env["res.users"].create({"name": "Stock keeper", "login": "sj_stock", "email": "stock@example.com"})
        flow = self.make_flow([
            {"action_type": "notify_user", "notify_user_id": user.id,
             "note_body": "Count stock after {{ object.name }}"},
            {"action_type": "notify_user", "notify_user_id": user.id, "notify_mode": "activity",
             "notify_deadline_days": 2, "note_body": "Call {{ object.name }}"},
        ])
        partner = self.make_partners(1)
        with self.at(T0):
            self.Event.post("sj_test", partner)
            self.run_scheduler()
        message_job, activity_job = self.jobs_of(flow)
        message = self.env["mail.message"].browse(message_job.res_id)
        self.assertIn(user.partner_id, message.partner_ids)
        self.assertIn(f"Count stock after {partner.name}", str(message.body))
        activity = self.env["mail.activity"].browse(activity_job.res_id)
        self.assertEqual((activity.user_id, activity.res_id), (user, partner.id))
        self.assertEqual(str(activity.date_deadline), "2026-03-04")

    def test_mailing_list_add_respects_opt_out_and_remove_opts_out(self):
        mlist = self.env["mailing.list"].create({"name": "Weekly"})
        flow = self.make_flow([{"action_type": "list_add", "mailing_list_id": mlist.id}])
        new, opted_out, no_email = self.make_partners(3)
        no_email.email = False
        contact = self.env["mailing.contact"].create({"name": "x", "email": opted_out.email})
        self.env["mailing.subscription"].create({"list_id": mlist.id, "contact_id": contact.id, "opt_out": True})
        for partner in (new, opted_out, no_email):
            self.Event.post("sj_test", partner)
        self.run_scheduler()
        subscribed = mlist.subscription_ids.filtered(lambda s: not s.opt_out).contact_id.mapped("email_normalized")
        self.assertEqual(subscribed, [new.email])
        self.assertEqual(self.jobs_of(flow, opted_out).state, "skipped")
        self.assertIn("opted out", self.jobs_of(flow, opted_out).result)
        self.assertEqual(self.jobs_of(flow, no_email).state, "skipped")
        remove = self.make_flow([{"action_type": "list_remove", "mailing_list_id": mlist.id}],
                                triggers=[{"trigger_type": "api", "event_code": "sj_remove"}])
        self.Event.post("sj_remove", new)
        self.run_scheduler()
        self.assertTrue(mlist.subscription_ids.filtered(lambda s: s.contact_id.email_normalized == new.email).opt_out)
        self.assertEqual(self.jobs_of(remove).result, "Unsubscribed from Weekly.")

    def test_start_and_stop_follow_up(self):
        follow_up = self.make_flow([self.tag_step(self.tag_a, timing="delay", delay_value=3)],
                                   triggers=[{"trigger_type": "api", "event_code": "unused"}])
        starter = self.make_flow([{"action_type": "flow_start", "target_flow_id": follow_up.id}])
        stopper = self.make_flow([{"action_type": "flow_stop", "target_flow_id": follow_up.id}],
                                 triggers=[{"trigger_type": "api", "event_code": "sj_stop"}])
        partner = self.make_partners(1)
        lead = self.env["crm.lead"].create({"name": "Lead", "partner_id": partner.id})
        self.Event.post("sj_test", partner, lead=lead, data={"plan": "gold"})
        self.run_scheduler()
        run = follow_up.enrollment_ids
        self.assertEqual((run.partner_id, run.lead_id, run.data), (partner, lead, {"plan": "gold"}))
        waiting = self.jobs_of(follow_up)
        self.assertEqual(waiting.state, "pending")
        self.Event.post("sj_stop", partner)
        self.run_scheduler()
        self.assertEqual(run.state, "stopped")
        self.assertEqual(waiting.state, "cancelled")
        self.assertEqual(self.jobs_of(stopper).result, f"Stopped {follow_up.name}.")
        self.assertEqual(self.jobs_of(starter).state, "done")

    @users("user_flows_admin")
    def test_a_flow_cannot_follow_up_itself(self):
        flow = self.make_flow([])
        with self.assertRaisesRegex(ValidationError, "cannot start or stop itself"):
            self.env["salesjet.flow.step"].create({"flow_id": flow.id, "action_type": "flow_start",
                                                   "target_flow_id": flow.id})
