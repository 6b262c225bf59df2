from datetime import timedelta
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import users
from odoo.tools import mute_logger

from odoo.addons.salesjet_flows.models.salesjet_flow import SalesjetFlow

from .common import T0, SalesjetCase, sent_statements


class TestDispatch(SalesjetCase):

    def test_once_per_contact_holds_when_the_event_comes_twice(self):
        flow = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="once")
        partner = self.make_partners(1)
        with self.at(T0):
            first = self.Event.post("sj_test", partner)
            self.run_scheduler()
            second = self.Event.post("sj_test", partner)
        self.assertEqual(len(first.enrollment_ids), 1)
        self.assertFalse(second.enrollment_ids, "a finished run still blocks re-entry under 'once'")
        self.assertEqual(second.state, "done")
        self.assertEqual(flow.enrollment_count, 1)

    def test_once_per_contact_is_enforced_by_the_database(self):
        """Even if the NOT EXISTS check is passed over (a race), the unique index refuses a second run."""
        flow = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="once")
        partner = self.make_partners(1)
        flow._enroll(partner.ids)
        self.env.cr.execute("""
            INSERT INTO salesjet_flow_enrollment (flow_id, partner_id, company_id, state, reentry_key, date_start)
            VALUES (%s, %s, %s, 'running', 'once', now() AT TIME ZONE 'UTC')
            ON CONFLICT (flow_id, partner_id, reentry_key) WHERE reentry_key IS NOT NULL DO NOTHING
            RETURNING id
        """, (flow.id, partner.id, flow.company_id.id))
        self.assertFalse(self.env.cr.fetchall())

    def test_no_active_policy_allows_a_new_run_after_the_last_ended(self):
        flow = self.make_flow([self.tag_step(self.tag_a, timing="delay", delay_value=1, delay_unit="hours")],
                              reentry_policy="no_active")
        partner = self.make_partners(1)
        with self.at(T0):
            self.assertEqual(len(self.Event.post("sj_test", partner).enrollment_ids), 1)
            self.assertFalse(self.Event.post("sj_test", partner).enrollment_ids, "a run is active")
        with self.at("2026-03-02 10:00:00"):
            self.run_scheduler()
            self.assertEqual(flow.done_count, 1)
            self.assertEqual(len(self.Event.post("sj_test", partner).enrollment_ids), 1)
        self.assertEqual(flow.enrollment_count, 2)

    def test_every_time_policy_starts_a_run_per_event(self):
        flow = self.make_flow([self.tag_step(self.tag_a, timing="delay", delay_value=1)], reentry_policy="always")
        partner = self.make_partners(1)
        for _i in range(3):
            self.Event.post("sj_test", partner)
        self.assertEqual(flow.running_count, 3)

    def test_event_starts_only_flows_whose_trigger_matches(self):
        match = self.make_flow([self.tag_step(self.tag_a)])
        other_code = self.make_flow([self.tag_step(self.tag_b)],
                                    triggers=[{"trigger_type": "api", "event_code": "other"}])
        archived = self.make_flow([self.tag_step(self.tag_c)])
        archived.action_archive()
        partner = self.make_partners(1)
        event = self.Event.post("sj_test", partner, data={"plan": "gold"})
        self.assertEqual(event.enrollment_ids.flow_id, match)
        self.assertEqual(event.enrollment_ids.data, {"plan": "gold"})
        self.assertFalse(other_code.enrollment_ids)
        self.assertFalse(archived.with_context(active_test=False).enrollment_ids)

    def test_trigger_contact_filter_limits_enrolment(self):
        flow = self.make_flow([self.tag_step(self.tag_a)], triggers=[
            {"trigger_type": "api", "event_code": "sj_test", "partner_domain": "[('city', '=', 'Brussels')]"}])
        brussels, paris = self.make_partners(2)
        brussels.city, paris.city = "Brussels", "Paris"
        self.Event.post("sj_test", brussels)
        self.Event.post("sj_test", paris)
        self.assertEqual(flow.enrollment_ids.partner_id, brussels)

    def test_event_with_a_lead_enrols_the_lead_contact(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        partner = self.make_partners(1)
        lead = self.env["crm.lead"].create({"name": "Interested", "partner_id": partner.id})
        self.Event.post("sj_test", lead=lead)
        self.assertEqual(flow.enrollment_ids.partner_id, partner)
        self.assertEqual(flow.enrollment_ids.lead_id, lead)

    def test_event_is_stored_when_processing_fails_and_retried(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        partner = self.make_partners(1)
        # the general path (the direct one is test_a_failure_after_the_run_is_inserted_leaves_no_half_done_run)
        with patch.object(SalesjetFlow, "_enroll", side_effect=RuntimeError("database hiccup"), autospec=True), \
                patch.object(SalesjetFlow, "_schedule_event_runs", side_effect=RuntimeError("database hiccup"),
                             autospec=True), \
                patch.object(type(self.Event), "_post_direct", return_value=None):
            event = self.Event.post("sj_test", partner)
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.attempts, 1)
        self.assertFalse(event.date_processed)
        self.assertIn("database hiccup", event.error)
        self.assertFalse(flow.enrollment_ids)
        with self.at(event.date_next_attempt):
            self.Event._cron_process_events()
        self.assertEqual(event.state, "done")
        self.assertEqual(event.attempts, 2)
        self.assertEqual(flow.enrollment_ids.partner_id, partner)

    def test_event_with_the_same_external_id_is_stored_once(self):
        flow = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always")
        partner = self.make_partners(1)
        first = self.Event.post("sj_test", partner, external_id="order-42")
        again = self.Event.post("sj_test", partner, external_id="order-42")
        self.assertEqual(first, again)
        self.assertEqual(flow.enrollment_count, 1)

    def test_deferred_event_is_processed_by_the_cron(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        partner = self.make_partners(1)
        event = self.Event.post("sj_test", partner, process=False)
        self.assertEqual(event.state, "new")
        self.Event._cron_process_events()
        self.assertEqual(event.state, "done")
        self.assertEqual(flow.enrollment_ids.partner_id, partner)

    def test_enrolment_follows_changes_of_the_cached_flow_and_first_step(self):
        """Enrolment reads a flow's policy and first step from a cache: every change must reach it."""
        flow = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always")
        first, second, third = self.make_partners(3)
        with self.at(T0):
            self.Event.post("sj_test", first)
            self.assertEqual(flow.enrollment_ids.job_ids.scheduled_date, T0, "an immediate step is due now")
            flow.step_ids.write({"timing": "delay", "delay_value": 2, "delay_unit": "hours"})
            run = self.Event.post("sj_test", second).enrollment_ids
            self.assertEqual(run.job_ids.scheduled_date, T0 + timedelta(hours=2))
            third.tz = "UTC"
            flow.step_ids.write({"timing": "immediate", "window_active": True, "window_hour_from": 12.0,
                                 "window_hour_to": 17.0})
            run = self.Event.post("sj_test", third).enrollment_ids
            self.assertEqual(run.job_ids.scheduled_date, T0.replace(hour=12), "09:00 waits for the window")
            flow.reentry_policy = "once"
            self.assertFalse(self.Event.post("sj_test", first).enrollment_ids)
            new_first = self.env["salesjet.flow.step"].create(
                {**self.tag_step(self.tag_b), "flow_id": flow.id, "sequence": -1})
            flow.reentry_policy = "always"
            run = self.Event.post("sj_test", first).enrollment_ids
            self.assertEqual(run.job_ids.step_id, new_first)
            flow.action_archive()
            self.assertFalse(self.Event.post("sj_test", first).enrollment_ids)

    def test_dispatching_one_event_costs_a_bounded_number_of_queries(self):
        """The hot path of an event (see bench/): store it, enrol, queue the first job in 1 query: a
        savepoint and a prepared statement (tools/prepared.py) inserting the event (its company read by the
        statement, a known external id settled by ON CONFLICT), the run and its first job, and asking the
        scheduler's state; the commit releases the savepoint. It took 10 before the flow and its first step
        were cached and the scheduler check joined the job insert, then 6 (the contact's company, the
        transaction time the ORM's create reads, a savepoint and its release of their own), then 2 (the
        jobs in a statement of their own)."""
        flow = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always")
        partners = self.make_partners(2)
        self.Event.post("sj_test", partners[0])  # warms the trigger and flow caches
        self.env.flush_all()
        self.env.invalidate_all()
        with self.assertQueryCount(1):
            event = self.Event.post("sj_test", partners[1])
        self.assertEqual(event.enrollment_ids.flow_id, flow)
        self.assertEqual(event.enrollment_ids.job_ids.step_id, flow.step_ids)
        self.assertEqual(event.state, "done")

    def test_what_the_orm_cached_of_runs_and_jobs_shows_the_runs_an_event_started(self):
        """The direct path writes runs and jobs with SQL: the lists and counts read before it are dropped
        from the cache (it leaves alone only the models of which none of them is cached)."""
        flow = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always")
        step = flow.step_ids
        partners = self.make_partners(2)
        self.Event.post("sj_test", partners[0])
        self.assertEqual((flow.enrollment_count, flow.running_count, len(flow.enrollment_ids)), (1, 1, 1))
        self.assertEqual((step.pending_job_count, len(step.job_ids)), (1, 1))
        run = flow.enrollment_ids
        self.assertEqual(len(run.job_ids), 1)
        event = self.Event.post("sj_test", partners[1])
        self.assertTrue(event.enrollment_ids)
        self.assertEqual((flow.enrollment_count, flow.running_count, len(flow.enrollment_ids)), (2, 2, 2))
        self.assertEqual((step.pending_job_count, len(step.job_ids)), (2, 2))
        self.assertEqual(flow.enrollment_ids.partner_id, partners)

    def test_events_that_start_one_flow_or_two_run_one_prepared_statement_with_their_own_values(self):
        """The direct path's statement does not change with the event (its flows are arrays): it is composed
        once per process and prepared once per cursor, and each event runs it with its own values."""
        one = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always")
        two = self.make_flow([self.tag_step(self.tag_b)], reentry_policy="always",
                             triggers=[{"trigger_type": "api", "event_code": "sj_two"}])
        self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always",
                       triggers=[{"trigger_type": "api", "event_code": "sj_two"}])
        partners = self.make_partners(3)
        with sent_statements() as sent:
            first = self.Event.post("sj_test", partners[0], data={"n": 1})
            second = self.Event.post("sj_two", partners[1], data={"n": 2}, external_id="x-2")
            third = self.Event.post("sj_test", partners[2])
        executed = {text.split("EXECUTE ")[1].split("(")[0] for text, _params in sent if "EXECUTE salesjet_" in text}
        self.assertEqual(len(executed), 1, sent)
        self.assertEqual(first.enrollment_ids.flow_id, one)
        self.assertEqual(first.enrollment_ids.data, {"n": 1})
        self.assertEqual(len(second.enrollment_ids), 2)
        self.assertIn(two, second.enrollment_ids.flow_id)
        self.assertEqual(second.external_id, "x-2")
        self.assertEqual(third.enrollment_ids.partner_id, partners[2])
        self.assertEqual((first | second | third).enrollment_ids.job_ids.mapped("state"), ["pending"] * 4)

    def test_event_data_must_be_a_dict(self):
        with self.assertRaises(UserError):
            self.Event.post("sj_test", self.make_partners(1), data=["not", "a", "dict"])


class TestSegmentLaunch(SalesjetCase):

    def test_launch_enrols_1000_contacts_set_based_and_twice_is_harmless(self):
        partners = self.make_partners(1000, prefix="SJ segment", city="Segmentville")
        self.make_partners(10, prefix="SJ outside", city="Elsewhere")
        flow = self.make_flow(
            [self.tag_step(self.tag_a), self.tag_step(self.tag_b, timing="delay", delay_value=2)],
            triggers=[{"trigger_type": "segment", "partner_domain": "[('city', '=', 'Segmentville')]"}],
            reentry_policy="always",
        )
        trigger = flow.trigger_ids
        wizard = self.env["salesjet.flow.launch"].create({"flow_id": flow.id, "trigger_id": trigger.id})
        self.assertEqual(wizard.contact_count, 1000)
        self.env.flush_all()
        with self.at(T0), self.assertQueryCount(__system__=40):
            wizard.action_launch()  # statements per batch, not per contact
        self.assertEqual(flow.running_count, 1000)
        self.assertEqual(set(flow.enrollment_ids.partner_id.ids), set(partners.ids))
        self.assertEqual(len(self.jobs_of(flow)), 1000)
        # launching again while they run enrols nobody twice, whatever the policy
        with self.at(T0):
            self.assertEqual(flow._launch_segment(trigger), 0)
        self.assertEqual(flow.enrollment_count, 1000)
        with self.at(T0):
            self.run_scheduler()
        self.assertEqual(len(partners.filtered(lambda p: self.tag_a in p.category_id)), 1000)
        self.assertIn("Launched for 1000 contacts", flow.message_ids[0].body)

    def test_a_launch_queues_each_first_step_and_wakes_the_scheduler_under_every_reentry_policy(self):
        """A first step due at once is queued by the runs' own statement (no round trip through Python),
        with or without a re-entry key; one that waits gets its own date. The scheduler is triggered once."""
        partners = self.make_partners(5, prefix="SJ policy", city="Policyville")
        segment = [{"trigger_type": "segment", "partner_domain": "[('city', '=', 'Policyville')]"}]
        cron = self.env.ref("salesjet_flows.ir_cron_salesjet_process_jobs")
        cron.nextcall = "2999-01-01 00:00:00"
        Trigger = self.env["ir.cron.trigger"].sudo()
        for policy in ("once", "no_active", "always"):
            with self.subTest(policy=policy):
                Trigger.search([("cron_id", "=", cron.id)]).unlink()
                flow = self.make_flow([self.tag_step(self.tag_a)], triggers=segment, reentry_policy=policy)
                with self.at(T0):
                    self.assertEqual(flow._launch_segment(flow.trigger_ids), 5)
                    self.assertEqual(flow._launch_segment(flow.trigger_ids), 0, "all five are running")
                jobs = self.jobs_of(flow)
                self.assertEqual(jobs.partner_id, partners)
                self.assertEqual(set(jobs.mapped("scheduled_date")), {T0})
                self.assertEqual(set(jobs.mapped("state")), {"pending"})
                self.assertEqual(jobs.enrollment_id.partner_id, partners)
                self.assertEqual(jobs.step_id, flow.step_ids)
                self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id), ("call_at", "=", T0)]), 1)
                self.assertEqual(flow.step_ids.pending_job_count, 5, "the counters saw the jobs")
                with self.at(T0):
                    self.run_scheduler()
                    relaunched = flow._launch_segment(flow.trigger_ids)
                self.assertEqual(relaunched, 0 if policy == "once" else 5)
        later = self.make_flow([self.tag_step(self.tag_b, timing="delay", delay_value=2)], triggers=segment,
                               reentry_policy="always")
        with self.at(T0):
            later._launch_segment(later.trigger_ids)
        self.assertEqual(set(self.jobs_of(later).mapped("scheduled_date")), {T0 + timedelta(days=2)})

    @users("user_flows_admin")
    def test_launch_needs_a_segment_trigger_and_steps(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        with self.assertRaises(UserError):
            flow.action_open_launch_wizard()
        empty = self.make_flow([], triggers=[{"trigger_type": "segment", "partner_domain": "[]"}])
        wizard = self.env["salesjet.flow.launch"].create({"flow_id": empty.id, "trigger_id": empty.trigger_ids.id})
        with self.assertRaises(UserError):
            wizard.action_launch()

    @users("user_flows_admin")
    def test_archived_flow_cannot_be_launched_and_restored_flow_can(self):
        partner = self.make_partners(1, city="Archiveville")
        flow = self.make_flow([self.tag_step(self.tag_a)], triggers=[
            {"trigger_type": "segment", "partner_domain": "[('city', '=', 'Archiveville')]"}])
        flow.action_archive()
        wizard = self.env["salesjet.flow.launch"].create({"flow_id": flow.id, "trigger_id": flow.trigger_ids.id})
        with self.assertRaises(UserError):
            wizard.action_launch()
        flow.action_unarchive()
        wizard.action_launch()
        self.assertEqual(flow.enrollment_ids.partner_id, partner)

    def test_a_failure_after_the_run_is_inserted_leaves_no_half_done_run(self):
        """The direct dispatch inserts the event, the runs and then their jobs in one statement: the jobs'
        insert failing in the database (a first step deleted after the engine's cache read it) rolls the
        runs back to the savepoint opened with them, the general path fails the same way and keeps the
        event failed, and its retry starts one run."""
        flow = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always")
        partner = self.make_partners(1)
        Flow = type(self.env["salesjet.flow"])
        engine_info = Flow._engine_info

        def gone_first_step(flows, flow_id):
            return engine_info(flows, flow_id)[:3] + (999999999, True)

        with patch.object(Flow, "_engine_info", gone_first_step), mute_logger("odoo.sql_db"):
            event = self.Event.post("sj_test", partner)
        self.assertEqual(event.state, "failed")
        self.assertIn("salesjet_flow_step_stat_step_id_fkey", event.error)
        self.assertFalse(flow.enrollment_ids, "the run inserted before the error was rolled back")
        with self.at(event.date_next_attempt):
            self.Event._cron_process_events()
        self.assertEqual(event.state, "done")
        self.assertEqual(len(flow.enrollment_ids), 1)
        self.assertEqual(len(flow.enrollment_ids.job_ids), 1)

    def test_a_statement_that_fails_in_the_database_keeps_the_event_failed_and_the_transaction_usable(self):
        flow = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always")
        partner = self.make_partners(1)
        Flow = type(self.env["salesjet.flow"])
        engine_info = Flow._engine_info

        def gone_first_step(flows, flow_id):
            return engine_info(flows, flow_id)[:3] + (999999999, True)

        # a first step deleted after the cache was read: the counters' key to it fails in the database
        with patch.object(Flow, "_engine_info", gone_first_step), mute_logger("odoo.sql_db"):
            event = self.Event.post("sj_test", partner)
        self.assertEqual(event.state, "failed")
        self.assertFalse(flow.enrollment_ids)
        self.assertTrue(self.env["res.partner"].search_count([("id", "=", partner.id)]), "the transaction goes on")
        self.assertTrue(flow.step_ids.exists())

    def test_a_trigger_deleted_after_the_cache_was_read_enrols_and_reads_as_deleted(self):
        """A run's trigger has no key (RunTrigger): an event matched by a trigger that another worker deleted
        after this one's cache read it enrols as if it had come a moment earlier, and its run says so."""
        flow = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always")
        partner = self.make_partners(1)
        cached = [(999999999, "api", "sj_test", flow.id, False)]
        with patch.object(type(self.env["salesjet.flow.trigger"]), "_cached_triggers", return_value=cached):
            event = self.Event.post("sj_test", partner)
        self.assertEqual(event.state, "done")
        self.assertEqual(flow.enrollment_ids.trigger_id.display_name, "Deleted trigger")
        self.assertEqual(len(flow.enrollment_ids.job_ids), 1)

    def test_an_event_stored_by_the_hot_path_reads_as_one_the_orm_created(self):
        """``post`` stores an event with one SQL statement: what the ORM would have set is there, in the
        database and in the cache alike."""
        company = self.env["res.company"].create({"name": "SJ second company"})
        partner = self.make_partners(1)
        other = self.env["res.partner"].create({"name": "SJ other company contact", "company_id": company.id})
        lead = self.env["crm.lead"].create({"name": "SJ lead", "company_id": company.id})
        before = self.env.cr.now()
        events = [self.Event.post("sj_test", partner, data={"k": 1}, external_id="hot-1", source="shop"),
                  self.Event.post("sj_test", other), self.Event.post("sj_test", lead=lead),
                  self.Event.post("sj_test", partner, process=False)]
        cached = [event.read(["kind", "code", "partner_id", "lead_id", "company_id", "data", "source", "external_id",
                              "state", "attempts", "create_uid", "create_date", "write_date"])[0] for event in events]
        self.env.invalidate_all()
        stored = [event.read(list(values))[0] for event, values in zip(events, cached, strict=True)]
        self.assertEqual(cached, stored, "the cache holds what the database holds")
        self.assertEqual([values["company_id"][0] for values in stored],
                         [self.env.company.id, company.id, company.id, self.env.company.id],
                         "the contact's company, else the lead's, else the current one")
        self.assertEqual(stored[0]["create_uid"][0], self.env.uid)
        self.assertEqual(stored[0]["create_date"], before, "the transaction's time, as the ORM writes it")
        self.assertEqual((stored[0]["data"], stored[0]["source"], stored[0]["external_id"]),
                         ({"k": 1}, "shop", "hot-1"))
        self.assertEqual([values["state"] for values in stored], ["done", "done", "done", "new"])
        self.assertEqual(events[0].display_name, f"sj_test · {partner.display_name}")
        self.assertEqual(self.Event.search([("external_id", "=", "hot-1")]), events[0])
