from datetime import datetime, timedelta
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.tests import HttpCase, tagged

from odoo.addons.salesjet_flows.models.salesjet_flow_step import SalesjetFlowStep
from odoo.addons.salesjet_flows.models.salesjet_flow_step_stat import COUNTED_STATES, ENDED_STATES

from .common import SalesjetCase
from .workers_common import CommittedQueueCase

T0 = datetime(2026, 11, 2, 9, 0)


def job_table_counts(env, steps):
    """What the counters replace: the job table counted by step and state, the first jobs (runs reached) and
    the skip reasons."""
    Job = env["salesjet.flow.job"].with_context(active_test=False)
    states, entered, reasons = {}, {}, {}
    for step, state, count in Job._read_group([("step_id", "in", steps.ids)], ["step_id", "state"], ["__count"]):
        states.setdefault(step.id, {})[state] = count
    for step, count in Job._read_group([("step_id", "in", steps.ids), ("repeat_index", "=", 0)],
                                       ["step_id"], ["__count"]):
        entered[step.id] = count
    for step, result, count in Job._read_group([("step_id", "in", steps.ids), ("state", "=", "skipped")],
                                               ["step_id", "result"], ["__count"]):
        reasons.setdefault(step.id, set()).add((result or "", count))
    return states, entered, reasons


class TestStatisticsCounters(SalesjetCase):
    """The engine runs as the cron does (superuser); a marketer reads the figures."""

    def counters(self, steps):
        Stat = self.env["salesjet.flow.step.stat"]
        totals = Stat._totals(step_ids=steps.ids)
        states = {step_id: counts for step_id, counts in Stat._state_counts(step_ids=steps.ids).items() if counts}
        entered = {step_id: t["entered"] for step_id, t in totals.items() if t["entered"]}
        reasons = {step_id: set(rows) for step_id, rows in Stat._skip_reasons(steps.ids).items()}
        return states, entered, reasons

    def assertCountersMatchJobs(self, flows):
        steps = flows.with_context(active_test=False).step_ids
        self.env.flush_all()
        self.assertEqual(self.counters(steps), job_table_counts(self.env, steps))

    def test_counters_equal_a_count_of_the_job_table_after_every_kind_of_change(self):
        self.env.company.email = "shop@example.com"
        self.env["ir.config_parameter"].set_param("salesjet_flows.job_max_attempts", 1)
        email = {"action_type": "email", "email_source": "custom", "email_subject": "Hi",
                 "email_body": "<p>Hello</p>"}
        later = {"timing": "delay", "delay_value": 1, "delay_unit": "days"}
        # done, skipped (no address), then waiting a day: some cancelled by hand, one run stopped
        main = self.make_flow([self.tag_step(self.tag_a), email, self.tag_step(self.tag_b, **later)])
        failing = self.make_flow([self.tag_step(self.tag_c)], triggers=[{"trigger_type": "api",
                                                                         "event_code": "sj_fail"}])
        stopped = self.make_flow([self.tag_step(self.tag_a, **later)], triggers=[{"trigger_type": "api",
                                                                                  "event_code": "sj_stop"}])
        edited = self.make_flow([self.tag_step(self.tag_a), self.tag_step(self.tag_b, **later),
                                 self.tag_step(self.tag_c, **later)],
                                triggers=[{"trigger_type": "api", "event_code": "sj_edit"}])
        flows = main | failing | stopped | edited
        partners = self.make_partners(6)
        no_address = self.make_partners(2, prefix="SJ no address", email=False)
        with self.at(T0):
            with patch.object(SalesjetFlowStep, "_action_add_tag", side_effect=RuntimeError("boom"), autospec=True):
                for partner in partners[:2]:
                    self.Event.post("sj_fail", partner)
                self.run_scheduler()
            for partner in partners | no_address:
                self.Event.post("sj_test", partner)
            for partner in partners[:3]:
                self.Event.post("sj_stop", partner)
                self.Event.post("sj_edit", partner)
            self.run_scheduler()
        self.assertCountersMatchJobs(flows)
        jobs = self.jobs_of(main)
        self.assertEqual(set(jobs.mapped("state")), {"done", "skipped", "pending"})
        failed = self.jobs_of(failing)
        self.assertEqual(set(failed.mapped("state")), {"failed"})
        with self.at(T0 + timedelta(hours=1)):
            jobs.filtered(lambda j: j.state == "pending")[:2].action_cancel()
            failed[0].action_retry()  # back to waiting: the failure is taken off its day
            self.assertCountersMatchJobs(flows)
            self.run_scheduler()  # the retried job is done
            wizard = self.env["salesjet.flow.stop"].create({"flow_id": stopped.id})
            wizard.action_confirm()
            second = edited.step_ids.sorted("sequence")[1]
            self.env["salesjet.flow.step.remove"].create(
                {"step_id": second.id, "operation": "delete", "mode": "next"}).action_confirm()
            self.assertFalse(second.exists())
        self.assertCountersMatchJobs(flows)
        with self.at(T0 + timedelta(days=2)):
            self.run_scheduler()
        self.assertCountersMatchJobs(flows)
        copy = main.copy()
        self.assertCountersMatchJobs(flows | copy)
        self.assertFalse(any(copy.step_ids.mapped("done_job_count")), "a copy starts with no counts")
        # a deleted contact's waiting jobs stop counting as waiting; what was done stays counted
        step = main.step_ids.sorted("sequence")[0]
        before = step.done_job_count
        waiting = self.jobs_of(main).filtered(lambda j: j.state == "pending")
        if waiting:
            flows.invalidate_recordset()
            pending_before = main.pending_job_count
            waiting[0].partner_id.unlink()
            main.invalidate_recordset()
            self.assertEqual(main.pending_job_count, pending_before - 1)
        step.invalidate_recordset()
        self.assertEqual(step.done_job_count, before)

    def test_readers_use_the_counters_not_the_job_table(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        for partner in self.make_partners(2):
            self.Event.post("sj_test", partner)
        self.run_scheduler()
        step = flow.step_ids
        self.env.flush_all()
        queries = []
        original = self.env.cr.execute

        def spy(query, *args, **kwargs):
            queries.append(str(query))
            return original(query, *args, **kwargs)

        flow.invalidate_recordset()
        step.invalidate_recordset()
        with patch.object(self.env.cr, "execute", spy):
            values = (step.done_job_count, step.pending_job_count, step.skip_reasons, step.converted_count,
                      flow.pending_job_count, flow.failed_job_count, flow.job_count,
                      flow.diagram_data["steps"][0]["counts"].get("done"), flow.statistics_data["steps"][0]["entered"])
        self.assertEqual(values, (1 + 1, 0, "", 0, 0, 0, 2, 2, 2))
        counting = [q for q in queries if "salesjet_flow_job" in q and "FROM" in q]
        self.assertFalse(counting, "no reader counts the job table")

    def test_marketer_reads_the_funnel_and_the_30_day_chart(self):
        flow = self.make_flow([self.tag_step(self.tag_a), self.tag_step(self.tag_b, timing="delay", delay_value=1,
                                                                         delay_unit="days")])
        partners = self.make_partners(4)
        with self.at(T0):
            for partner in partners:
                self.Event.post("sj_test", partner)
            self.run_scheduler()
        with self.at(T0 + timedelta(days=1, hours=1)):
            self.run_scheduler()
            self.env.flush_all()
            flow = flow.with_user(self.user_marketing)
            flow.invalidate_recordset()
            data = flow.statistics_data
        first, second = data["steps"]
        self.assertEqual(data["runs"], 4)
        self.assertEqual(len(data["days"]), 30)
        self.assertEqual(data["days"][-1], "2026-11-03")
        self.assertEqual((first["entered"], second["entered"]), (4, 4), "every run reached both steps")
        self.assertEqual(first["daily"]["done"][-2:], [4, 0], "done on the first day")
        self.assertEqual(second["daily"]["done"][-2:], [0, 4], "done a day later")
        self.assertEqual(second["daily"]["entered"][-2:], [4, 0], "reached when the first step was done")
        self.assertEqual(sum(second["daily"]["done"]), second["entered"])

    def test_folding_old_slots_keeps_every_total(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        for partner in self.make_partners(3):
            self.Event.post("sj_test", partner)
        self.run_scheduler()
        step = flow.step_ids
        Stat = self.env["salesjet.flow.step.stat"]
        # rows of other connections, days ago, as several workers leave them
        self.env.cr.execute("""
            UPDATE salesjet_flow_step_stat SET day = day - 10 WHERE step_id = %s;
            INSERT INTO salesjet_flow_step_stat (step_id, flow_id, company_id, day, slot, entered, pending, running,
                                                 done, skipped, failed, cancelled, converted)
            SELECT step_id, flow_id, company_id, day, slot + 1, 1, 0, 0, 2, 0, 1, 0, 0
              FROM salesjet_flow_step_stat WHERE step_id = %s
        """, [step.id, step.id])
        before = Stat._totals(step_ids=step.ids)
        self.assertGreater(Stat._count_unfolded(), 0)
        Stat._fold_slots(1000)
        self.assertEqual(Stat._totals(step_ids=step.ids), before)
        self.env.cr.execute("SELECT DISTINCT slot FROM salesjet_flow_step_stat WHERE step_id = %s", [step.id])
        self.assertEqual(self.env.cr.fetchall(), [(0,)], "one row per day is left, in slot 0")
        self.assertEqual(Stat._count_unfolded(), 0)

    def test_a_statement_of_one_job_counts_as_a_statement_of_many(self):
        """The insert trigger takes a short way for a statement of one job (``_one_job_upsert``, an event's) and
        its grouped upsert for the others: jobs of every shape, inserted one a statement at one step and all in
        one statement at another, give both steps the counts each shape calls for."""
        later = {"timing": "delay", "delay_value": 1, "delay_unit": "days"}
        one_by_one = self.make_flow([self.tag_step(self.tag_a, **later)],
                                    triggers=[{"trigger_type": "api", "event_code": "sj_one"}])
        at_once = self.make_flow([self.tag_step(self.tag_a, **later)],
                                 triggers=[{"trigger_type": "api", "event_code": "sj_many"}])
        partner = self.make_partners(1)
        self.Event.post("sj_one", partner)
        self.Event.post("sj_many", partner)
        self.env.flush_all()
        cr = self.env.cr
        cr.execute("SELECT (now() AT TIME ZONE 'UTC')::date")
        today = cr.fetchone()[0]
        # (state, repeat index, ended days ago, created days ago, result); None: no value
        shapes = [
            ("pending", 0, None, 0, None),
            ("pending", 1, None, 0, None),  # a repetition: no run reaches the step
            ("running", 3, None, 0, None),
            ("done", 0, 1, 1, None),  # reached and done yesterday
            ("done", 0, 0, 1, None),  # reached yesterday, done today: two days
            ("failed", 2, None, 0, None),  # ended without a date: booked today
            ("cancelled", 0, 2, 0, None),
            ("skipped", 0, 0, 0, "No email address"),
        ]
        expected = {}
        for state, repeat, ended, created, _result in shapes:
            booked = today - timedelta(days=ended) if state in ENDED_STATES and ended is not None else today
            expected[booked, state] = expected.get((booked, state), 0) + 1
            if repeat == 0:
                created_on = today - timedelta(days=created)
                expected[created_on, "entered"] = expected.get((created_on, "entered"), 0) + 1

        def counts(step):
            cr.execute(f"""
                SELECT day, {", ".join(f"sum({column})" for column in ("entered", *COUNTED_STATES))}
                  FROM salesjet_flow_step_stat WHERE step_id = %s GROUP BY day""", [step.id])
            return {(row[0], column): n for row in cr.fetchall()
                    for column, n in zip(("entered", *COUNTED_STATES), row[1:], strict=True) if n}

        def rows(step):
            run = self.env["salesjet.flow.enrollment"].search([("flow_id", "=", step.flow_id.id)])
            return [cr.mogrify(
                "(%s, %s, %s, %s, %s, now() AT TIME ZONE 'UTC', %s, %s, 1,"
                " (now() AT TIME ZONE 'UTC') - %s * interval '1 day',"
                " (now() AT TIME ZONE 'UTC') - %s * interval '1 day', %s)",
                [run.id, step.flow_id.id, step.id, partner.id, run.company_id.id, repeat, state, ended, created,
                 result]).decode() for state, repeat, ended, created, result in shapes]

        insert = ("INSERT INTO salesjet_flow_job (enrollment_id, flow_id, step_id, partner_id, company_id,"
                  " scheduled_date, repeat_index, state, attempts, date_done, create_date, result) VALUES ")
        before = {flow: counts(flow.step_ids) for flow in (one_by_one, at_once)}
        for row in rows(one_by_one.step_ids):
            cr.execute(insert + row)
        cr.execute(insert + ", ".join(rows(at_once.step_ids)))
        for flow in (one_by_one, at_once):
            after = counts(flow.step_ids)
            added = {key: after.get(key, 0) - before[flow].get(key, 0) for key in after.keys() | before[flow].keys()}
            self.assertEqual({key: n for key, n in added.items() if n}, expected, flow.name)
        Stat = self.env["salesjet.flow.step.stat"]
        self.assertEqual(Stat._skip_reasons(one_by_one.step_ids.ids)[one_by_one.step_ids.id],
                         [("No email address", 1)])
        self.assertEqual(Stat._skip_reasons(at_once.step_ids.ids)[at_once.step_ids.id], [("No email address", 1)])
        self.assertCountersMatchJobs(one_by_one | at_once)

    def test_conversions_per_step_are_counted_when_the_run_converts(self):
        flow = self.make_flow([self.tag_step(self.tag_a), self.tag_step(self.tag_b, timing="delay", delay_value=1,
                                                                         delay_unit="days")],
                              goal_domain=f"[('category_id', 'in', [{self.tag_c.id}])]")
        partners = self.make_partners(3)
        with self.at(T0):
            for partner in partners:
                self.Event.post("sj_test", partner)
            self.run_scheduler()
        partners[0].category_id = [(4, self.tag_c.id)]
        with self.at(T0 + timedelta(hours=2)):
            flow._convert_reached()
        first, second = flow.step_ids.sorted("sequence")
        self.assertEqual((first.converted_count, second.converted_count), (1, 0))


# Clicks the Statistics tab of the form and waits for a funnel bar and a day of the chart; any JS error fails.
OPEN_STATISTICS = """
    const started = Date.now();
    const wait = () => {
        const tab = document.querySelector('.o_notebook .nav-link[name=statistics]');
        if (tab && !tab.classList.contains('active')) { tab.click(); }
        const row = document.querySelector('.o_salesjet_statistics tr[data-step-id] .o_sj_funnel[aria-valuenow="100"]');
        if (row && document.querySelector('.o_salesjet_statistics svg.o_sj_chart rect.o_sj_done')) {
            console.log('test successful');
        } else if (Date.now() - started > 20000) { console.error('the statistics tab was not drawn'); }
        else { setTimeout(wait, 100); }
    };
    wait();
"""


@tagged("post_install", "-at_install")
class TestStatisticsTab(HttpCase, SalesjetCase):
    """The statistics tab draws its funnel and charts in the web client, for a marketer."""

    def test_marketer_sees_the_funnel_and_the_charts_on_the_statistics_tab(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        for partner in self.make_partners(2):
            self.Event.post("sj_test", partner)
        self.run_scheduler()
        self.user_marketing.password = "user_marketing"  # browser_js logs in with the login as password
        self.browser_js(f"/odoo/action-salesjet_flows.salesjet_flow_action/{flow.id}", OPEN_STATISTICS, ready="",
                        login="user_marketing", timeout=60)


class TestCountersUnderConcurrentWorkers(CommittedQueueCase):
    """Two workers, each with its own connection, end jobs of one step on one day at the same time."""

    JOBS = 300

    def test_two_workers_update_the_same_step_and_day_without_conflict(self):
        stuck, counts, errors, _elapsed = self.run_workers(2, limit=20, timeout=120, barrier_timeout=30)
        self.assertFalse(stuck, "a worker is stuck")
        self.assertFalse(errors, errors)
        self.assertTrue(all(counts), f"both workers took jobs: {counts}")
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            steps = env["salesjet.flow"].browse(self.flow_id).step_ids
            states, entered, _reasons = job_table_counts(env, steps)
            Stat = env["salesjet.flow.step.stat"]
            counted = {step_id: c for step_id, c in Stat._state_counts(step_ids=steps.ids).items() if c}
            self.assertEqual(counted, states)
            self.assertEqual(counted[self.first_step_id], {"done": self.JOBS})
            cr.execute("SELECT count(DISTINCT slot) FROM salesjet_flow_step_stat WHERE step_id = %s AND done > 0",
                       [self.first_step_id])
            self.assertEqual(cr.fetchone()[0], 2, "each worker's connection kept its own row")
