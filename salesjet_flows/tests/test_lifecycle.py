"""A flow's life: draft (test runs only), running (enrols), stopped (no new runs, waiting steps cancelled)."""
from datetime import timedelta

from odoo.exceptions import AccessError, UserError
from odoo.tests import users

from .common import T0, SalesjetCase


class TestLifecycle(SalesjetCase):

    def runs_of(self, flow):
        return self.env["salesjet.flow.enrollment"].sudo().search([("flow_id", "=", flow.id)])

    def post(self, partner, code="sj_test"):
        return self.Event.post(code, partner)

    # -- draft ---------------------------------------------------------------

    @users("user_flows_admin")
    def test_new_flow_is_a_draft_and_ignores_events(self):
        flow = self.env["salesjet.flow"].create({"name": "SJ new"})
        self.assertEqual(flow.state, "draft")
        flow = self.make_flow([self.tag_step(self.tag_a)], state="draft")
        partner = self.make_partners(1)
        with self.at(T0):
            self.post(partner)
            self.run_scheduler()
        self.assertFalse(self.runs_of(flow))
        self.assertTags(partner, absent=self.tag_a)

    def test_draft_follow_up_flow_and_chain_skip_the_step_that_starts_them(self):
        target = self.make_flow([self.tag_step(self.tag_b)], triggers=[{"trigger_type": "api", "event_code": "x"}],
                                state="draft")
        chain = self.env["salesjet.flow"].create({"name": "SJ draft chain", "kind": "chain"})
        self.env["salesjet.chain.message"].create({"flow_id": chain.id, "channel": "email", "subject": "Hi",
                                                   "body": "<p>Hi</p>"})
        flow = self.make_flow([{"action_type": "flow_start", "target_flow_id": target.id},
                               {"action_type": "chain_start", "chain_flow_id": chain.id}])
        partner = self.make_partners(1)
        with self.at(T0):
            self.post(partner)
            self.run_scheduler()
        self.assertFalse(self.runs_of(target) | self.runs_of(chain))
        jobs = self.jobs_of(flow)
        self.assertEqual(jobs.mapped("state"), ["skipped", "skipped"])
        self.assertIn("not running", jobs[0].result)

    @users("user_flows_admin")
    def test_launch_is_refused_on_a_draft_flow(self):
        flow = self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": "segment"}], state="draft")
        self.make_partners(2)
        wizard = self.env["salesjet.flow.launch"].create({"flow_id": flow.id, "trigger_id": flow.trigger_ids.id})
        with self.assertRaisesRegex(UserError, "not running"):
            wizard.action_launch()
        self.assertFalse(self.runs_of(flow))

    # -- start ---------------------------------------------------------------

    @users("user_flows_admin")
    def test_start_refuses_a_broken_flow_listing_every_reason(self):
        tag = self.env["res.partner.category"].create({"name": "SJ soon deleted"})
        flow = self.make_flow([
            self.tag_step(tag, name="Tag them"),
            {"action_type": "email", "name": "Welcome", "email_source": "custom", "email_subject": "Hello",
             "email_body": "<p>Hi</p>"},
        ], state="draft")
        flow.trigger_ids.unlink()
        # a split saved before its branches, as a copy or an import does before it rebuilds them
        self.env["salesjet.flow.step"].with_context(salesjet_split_rebuild=True).create({
            "flow_id": flow.id, "sequence": 99, "action_type": "split", "name": "Subject test"})
        # what saving cannot catch: a tag deleted later, a text whose field went away
        tag.sudo().unlink()
        email = flow.step_ids.filtered(lambda s: s.action_type == "email")
        self.env.cr.execute("UPDATE salesjet_flow_step SET email_subject = jsonb_build_object('en_US', %s) "
                            "WHERE id = %s", ["{{ object.sj_no_such_field }}", email.id])
        email.invalidate_recordset(["email_subject"])
        with self.assertRaises(UserError) as caught:
            flow.action_start()
        message = str(caught.exception)
        self.assertIn("no trigger", message)
        self.assertIn("Tag them", message)
        self.assertIn("Welcome", message)
        self.assertIn("Subject test", message)
        self.assertGreaterEqual(message.count("•"), 4, message)
        self.assertEqual(flow.state, "draft")

    @users("user_flows_admin")
    def test_start_runs_a_good_flow_that_then_enrols_on_the_next_event(self):
        flow = self.make_flow([self.tag_step(self.tag_a)], state="draft")
        partner = self.make_partners(1)
        with self.at(T0):
            self.post(partner)
            self.assertFalse(self.runs_of(flow))
            flow.action_start()
            self.assertEqual(flow.state, "running")
            self.post(partner)
            self.run_scheduler()
        self.assertEqual(self.runs_of(flow).partner_id, partner)
        self.assertTags(partner, present=self.tag_a)

    def commit_hooks(self):
        """What committing the transaction does: tracking messages and versions (records created in a
        transaction are not tracked in it)."""
        self.env.flush_all()
        self.env.cr.precommit.run()

    def test_start_and_stop_are_tracked_with_who_did_it(self):
        flow = self.make_flow([self.tag_step(self.tag_a)], state="draft").with_context(tracking_disable=False)
        self.commit_hooks()
        flow.with_user(self.user_flows_admin).action_start()
        self.commit_hooks()
        flow.with_user(self.user_flows_admin).action_stop()
        self.commit_hooks()
        flow.invalidate_recordset(["message_ids"])
        changes = [(message.author_id, message.tracking_value_ids.filtered(
                        lambda v: v.field_id.name == "state").new_value_char)
                   for message in flow.message_ids.sorted("id")]
        self.assertIn((self.user_flows_admin.partner_id, "Running"), changes)
        self.assertIn((self.user_flows_admin.partner_id, "Stopped"), changes)

    def test_a_follow_up_flow_and_a_chain_need_no_trigger(self):
        target = self.make_flow([self.tag_step(self.tag_b)], state="draft")
        target.trigger_ids.unlink()
        with self.assertRaisesRegex(UserError, "no trigger"):
            target.action_start()
        self.make_flow([{"action_type": "flow_start", "target_flow_id": target.id}])
        target.action_start()
        self.assertEqual(target.state, "running")

    def test_code_a_settings_administrator_wrote_does_not_stop_a_flows_administrator_from_starting(self):
        # written as superuser: a Settings administrator, whose code expressions are approved on save
        flow = self.make_flow([{"action_type": "email", "email_source": "custom",
                                "email_subject": "{{ object.name.upper() }}", "email_body": "<p>Hi</p>"}],
                              state="draft")
        flow.with_user(self.user_flows_admin).action_start()
        self.assertEqual(flow.state, "running")
        # unapproved code (a text that reached the database another way) is a problem, as it is for the scheduler
        other = self.make_flow([{"action_type": "email", "email_source": "custom", "email_subject": "Hi",
                                 "email_body": "<p>Hi</p>"}], state="draft")
        self.env.cr.execute("UPDATE salesjet_flow_step SET email_subject = jsonb_build_object('en_US', %s) "
                            "WHERE id = %s", ["{{ object.name.lower() }}", other.step_ids.id])
        other.step_ids.invalidate_recordset(["email_subject"])
        with self.assertRaisesRegex(UserError, "not allowed"):
            other.with_user(self.user_flows_admin).action_start()
        self.assertEqual(self.env["salesjet.placeholder.approval"]._unapproved(["object.name.lower()"]),
                         ["object.name.lower()"], "Start approves nothing")

    @users("user_flows_admin")
    def test_every_ready_made_flow_can_be_started(self):
        for template in self.env["salesjet.flow.template"].search([("available", "=", True)]):
            flows = template._create_flows()
            self.assertEqual(set(flows.mapped("state")), {"draft"}, template.name)
            flows.action_start()
            self.assertEqual(set(flows.mapped("state")), {"running"}, template.name)

    @users("user_flows")
    def test_only_flows_administrators_start_and_stop(self):
        flow = self.env["salesjet.flow"].sudo().create({"name": "SJ rights"}).with_env(self.env)
        with self.assertRaises(AccessError):
            flow.action_start()
        with self.assertRaises(AccessError):
            flow.action_stop()

    # -- stop ----------------------------------------------------------------

    @users("user_flows_admin")
    def test_stop_cancels_the_waiting_steps_it_counted_and_takes_no_new_runs(self):
        flow = self.make_flow([self.tag_step(self.tag_a, timing="delay", delay_value=1, delay_unit="days")])
        partners = self.make_partners(3)
        with self.at(T0):
            for partner in partners:
                self.post(partner)
        self.assertEqual(len(self.runs_of(flow)), 3)
        wizard = self.env["salesjet.flow.stop"].create({"flow_id": flow.id})
        self.assertEqual((wizard.pending_job_count, wizard.running_count), (3, 3))
        wizard.action_confirm()
        self.assertEqual(flow.state, "stopped")
        self.assertEqual(set(self.jobs_of(flow).mapped("state")), {"cancelled"})
        self.assertEqual(set(self.runs_of(flow).mapped("state")), {"stopped"})
        late = self.make_partners(1, prefix="SJ late")
        with self.at(T0 + timedelta(days=2)):
            self.post(late)
            self.run_scheduler()
        self.assertEqual(len(self.runs_of(flow)), 3)
        self.assertTags(partners[0], absent=self.tag_a)
        # back to draft to edit, and started again
        flow.action_set_draft()
        self.assertEqual(flow.state, "draft")
        flow.action_start()
        with self.at(T0 + timedelta(days=3)):
            self.post(late)
        self.assertIn(late, self.runs_of(flow).partner_id)

    # -- drafts from copies, imports and templates ---------------------------

    @users("user_flows_admin")
    def test_copies_imports_and_template_flows_start_as_drafts(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        self.assertEqual(flow.state, "running")
        self.assertEqual(flow.copy().state, "draft")
        payload = self.env["salesjet.flow.transfer"].export_flows(flow)
        payload["flows"][0]["state"] = "running"  # even a file that says otherwise
        imported = self.env["salesjet.flow.transfer"].import_flows(payload)
        self.assertEqual(imported.state, "draft")
        template = self.env.ref("salesjet_flows.flow_template_newsletter_welcome")
        self.assertEqual(set(template._create_flows().mapped("state")), {"draft"})

    # -- saving never ends in a database error -------------------------------

    @users("user_flows_admin")
    def test_email_step_by_a_user_without_email_uses_the_company_address(self):
        self.user_flows_admin.sudo().email = False
        self.env.company.sudo().email = "shop@example.com"
        flow = self.make_flow([{"action_type": "email", "email_source": "custom", "email_subject": "Hi",
                                "email_body": "<p>Hi</p>"}], state="draft")
        self.assertIn("shop@example.com", flow.step_ids.mailing_id.sudo().email_from)

    @users("user_flows_admin")
    def test_email_step_without_any_sender_says_what_to_set(self):
        self.user_flows_admin.sudo().email = False
        self.env.company.sudo().email = False
        with self.assertRaisesRegex(UserError, "email address"):
            self.make_flow([{"action_type": "email", "email_source": "custom", "email_subject": "Hi",
                             "email_body": "<p>Hi</p>"}], state="draft")
