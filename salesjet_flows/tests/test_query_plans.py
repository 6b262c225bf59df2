"""Statements that pick jobs by run or contact and by state stay on the selective index when the table's
statistics lag behind what a launch or a drain just wrote."""

import inspect
import re
from datetime import timedelta
from pathlib import Path
from unittest.mock import patch

from odoo.tools import SQL

from odoo.addons.salesjet_flows.models import salesjet_flow
from odoo.addons.salesjet_flows.tools.planner import state_in

from .common import T0, SalesjetCase, planned, sent_statements

# the indexes of a state: the due and ended jobs' (partial), the runs' state
STATE_INDEXES = ("salesjet_flow_job_due_idx", "salesjet_flow_job_ended_idx", "salesjet_flow_enrollment__state_index")


class TestPlansWithStaleStatistics(SalesjetCase):

    def statements(self, func, *markers):
        """(query, params) of each statement ``func`` runs whose text contains one of ``markers``; each marker
        must be met."""
        with sent_statements() as sent:
            func()
        seen = [(query, params) for query, params in sent if any(marker in query for marker in markers)]
        for marker in markers:
            self.assertTrue(any(marker in query for query, _params in seen), f"no statement with {marker!r}")
        return seen

    def plan(self, query, params):
        """The plan of a statement the code ran, sequential scans off: in a test database its tables are small
        enough for one, which would hide which index the planner takes at scale."""
        self.env.cr.execute("SET LOCAL enable_seqscan = off")
        self.env.cr.execute(f"EXPLAIN {query}", params)
        plan = "\n".join(row[0] for row in self.env.cr.fetchall())
        self.env.cr.execute("SET LOCAL enable_seqscan = on")
        return plan

    def test_runs_and_jobs_are_read_cancelled_and_ended_through_their_keys_not_their_state_indexes(self):
        """A launch writes thousands of waiting jobs and a drain ends them; autoanalyze sees it later (10 % of a
        table of millions must change first). Meanwhile the due and ended jobs' partial indexes look empty,
        and a statement testing the state with another key scanned one of them whole (after a 20,000-contact
        launch: 2.9 ms instead of 0.38 ms for 480 runs; the next-step read of a drain 17.3 ms instead of
        0.44 ms at 83,000 ended jobs), growing with the table; the runs' state index the same way."""
        partners = self.make_partners(1000, prefix="SJ plan", city="Planville")
        flow = self.make_flow(
            [self.tag_step(self.tag_a), self.tag_step(self.tag_b, timing="delay", delay_value=2)],
            triggers=[{"trigger_type": "segment", "partner_domain": "[('city', '=', 'Planville')]"}],
            reentry_policy="always")
        # runs and jobs of the past, as a database in use holds, none running or waiting, and none of them
        # ended jobs of the partial index (failed ones): in the statistics taken now, running runs, waiting
        # jobs and ended jobs are few, and their state indexes look selective
        past = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always")
        self.env.flush_all()
        self.env.cr.execute(SQL(
            """
            WITH runs AS (
                INSERT INTO salesjet_flow_enrollment (flow_id, partner_id, company_id, state, date_start, date_done)
                SELECT %(flow)s, p.id, %(company)s, 'done', %(at)s, %(at)s
                  FROM unnest(%(partners)s::int[]) AS p(id), generate_series(1, 3)
                RETURNING id, partner_id
            )
            INSERT INTO salesjet_flow_job (enrollment_id, flow_id, step_id, partner_id, company_id, state,
                                           scheduled_date, date_done)
            SELECT r.id, %(flow)s, %(step)s, r.partner_id, %(company)s, 'failed', %(at)s, %(at)s FROM runs r
            """, flow=past.id, step=past.step_ids.id, company=past.company_id.id, at=T0, partners=partners.ids))
        self.env.cr.execute("ANALYZE salesjet_flow_job, salesjet_flow_enrollment")
        with self.at(T0):
            flow._launch_segment(flow.trigger_ids)
            # the drain's outcome update returns the ended jobs of each batch to schedule their next step (a
            # read of its own before), which then reads their runs
            reads = self.statements(self.run_scheduler, "RETURNING j.id, ",
                                    "FROM salesjet_flow_enrollment WHERE id = ANY")
        waiting = self.jobs_of(flow).filtered(lambda job: job.state == "pending")
        self.assertEqual(waiting.step_id, flow.step_ids[1])
        self.assertEqual(waiting.partner_id, partners, "every contact's next step is queued")
        runs = flow.enrollment_ids[:500]
        # a goal reached: the runs' waiting jobs are cancelled and the runs end
        cancels_and_ends = self.statements(lambda: runs._convert(T0), "enrollment_id = ANY",
                                           "reentry_key = CASE WHEN")
        for query, params in reads + cancels_and_ends:
            plan = self.plan(query, params)
            for index in STATE_INDEXES:
                self.assertNotIn(index, plan, f"{query}\n{plan}")
        self.assertEqual(set(runs.job_ids.filtered(lambda job: job.step_id == flow.step_ids[1]).mapped("state")),
                         {"cancelled"})
        self.assertEqual(set(runs.mapped("state")), {"done"})
        self.assertTrue(all(runs.mapped("converted")))

    def test_a_segment_imported_and_launched_at_once_is_read_through_the_contacts_key_not_its_filter(self):
        """Contacts imported with a reference the statistics have never seen, then launched before autoanalyze
        runs: the filter looks like it matches one contact. Read page by page as ``ref = … AND id > last ORDER
        BY id LIMIT``, the segment went through the reference's index for every page, reading every match left
        and sorting them (602 ms a page at 500,000 contacts of a million, 6.1 ms once analyzed). The launch
        now applies the filter to windows of contacts read through their key."""
        self.env["res.partner"].flush_model()
        self.env.cr.execute("ANALYZE res_partner")
        partners = self.make_partners(300, prefix="SJ imported", ref="SJ-IMPORT-7")
        flow = self.make_flow([self.tag_step(self.tag_a)], triggers=[
            {"trigger_type": "segment", "partner_domain": "[('ref', '=', 'SJ-IMPORT-7')]"}])
        self.env.flush_all()
        with self.at(T0):
            reads = self.statements(lambda: flow._launch_segment(flow.trigger_ids), '"ref" =')
        self.assertEqual(flow.enrollment_ids.partner_id, partners)
        for query, params in reads:
            plan = self.plan(query, params)
            self.assertNotIn("res_partner__ref_index", plan, f"{query}\n{plan}")
            self.assertIn("res_partner_pkey", plan, f"{query}\n{plan}")

    def test_a_launch_looks_up_each_contacts_runs_through_the_contact_not_the_flows_runs(self):
        """A launch writes its runs in one transaction, which the statistics never see: the flow's running runs
        looked few, and each batch read all those written before it through the flow's or the state's index
        in a hash join (509 ms a batch of 10,000 at 600,000 runs written): a launch grew with the square of its
        segment. Each contact's runs are now looked up through the contacts' key, with JIT compilation off
        for the statement (its cost, overestimated, crossed ``jit_above_cost``) and the setting put back."""
        partners = self.make_partners(30, prefix="SJ probe", city="Probeville")
        flow = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always", triggers=[
            {"trigger_type": "segment", "partner_domain": "[('city', '=', 'Probeville')]"}])
        self.env.flush_all()
        self.env.cr.execute("ANALYZE salesjet_flow_enrollment")
        self.env.cr.execute("SELECT current_setting('jit')")
        jit = self.env.cr.fetchone()[0]
        with self.at(T0), patch.multiple(salesjet_flow, LAUNCH_BATCH_SIZE=10, LAUNCH_WINDOW=10):
            with sent_statements() as sent:
                flow._launch_segment(flow.trigger_ids)
        self.assertEqual(flow.enrollment_ids.partner_id, partners)
        inserts = [(query, params) for query, params in sent if "INSERT INTO salesjet_flow_enrollment" in query]
        self.assertEqual(len(inserts), 3, "three batches")
        for query, params in inserts:
            # the scheduler's lock, without parameters, may come first in a statement of its own
            query = query.split(";", 1)[1] if query.startswith("SELECT pg_advisory_xact_lock") else query
            plan = self.plan(query, params)
            self.assertIn("salesjet_flow_enrollment__partner_id_index", plan, f"{query}\n{plan}")
            for index in ("salesjet_flow_enrollment__flow_id_index", "salesjet_flow_enrollment__state_index"):
                self.assertNotIn(index, plan, f"{query}\n{plan}")
        switches = [query for query, params in sent if "set_config(%s, 'off', true)" in query and "jit" in params]
        self.assertEqual(len(switches), 3, "JIT off for each batch's statement")
        self.env.cr.execute("SELECT current_setting('jit')")
        self.assertEqual(self.env.cr.fetchone()[0], jit, "the transaction's setting is put back")

    def test_the_scheduler_and_the_launch_take_their_plans_from_the_keys_whatever_the_statistics_say(self):
        """A database whose statistics were taken before a launch (a new install, or a table of millions that
        autoanalyze has not seen change enough): the due jobs look few and the tables small. Measured after a
        100,000-contact launch on a fresh database (``auto_explain``): each batch read every due job and
        sorted them on disk to take 1,000 (90 ms instead of 1.4), updated its outcomes through a hash join
        over the whole job table (46 ms instead of 6) and read its runs by scanning their table (17 ms instead
        of 1); the launch read each window of contacts by sorting the whole table. The statements now run
        with the planner's sort (or scans) off, and the transaction's settings are put back after each."""
        self.env["ir.config_parameter"].sudo().set_param("salesjet_flows.job_batch_size", 150)
        self.env.flush_all()
        self.env.cr.execute("ANALYZE res_partner, salesjet_flow_job, salesjet_flow_enrollment")
        partners = self.make_partners(400, prefix="SJ stale", city="Staleville")
        flow = self.make_flow(
            [self.tag_step(self.tag_a), self.tag_step(self.tag_b, timing="delay", delay_value=2)],
            triggers=[{"trigger_type": "segment", "partner_domain": "[('city', '=', 'Staleville')]"}],
            reentry_policy="always")
        self.env.flush_all()
        self.env.cr.execute("SELECT current_setting('enable_sort'), current_setting('enable_seqscan')")
        settings = self.env.cr.fetchone()
        with self.at(T0):
            with planned("ORDER BY id LIMIT") as windows:
                flow._launch_segment(flow.trigger_ids)
            with planned("FOR UPDATE SKIP LOCKED", "SET attempts = j.attempts + 1",
                         "FROM salesjet_flow_enrollment WHERE id = ANY") as plans:
                self.run_scheduler()
        self.assertEqual(partners.category_id, self.tag_a, "every contact was tagged")
        waiting = self.jobs_of(flow).filtered(lambda job: job.state == "pending")
        self.assertEqual(waiting.partner_id, partners, "every contact's next step is queued")
        self.assertTrue(windows)
        for query, plan in windows:
            self.assertNotIn("Sort", plan, f"{query}\n{plan}")
            self.assertIn("res_partner_pkey", plan, f"{query}\n{plan}")
        kinds = {marker: [(query, plan) for query, plan in plans if marker in query]
                 for marker in ("FOR UPDATE SKIP LOCKED", "SET attempts", "salesjet_flow_enrollment WHERE id")}
        self.assertEqual(len(kinds["FOR UPDATE SKIP LOCKED"]), 4, "three batches of 150 and a last look")
        self.assertEqual(len(kinds["SET attempts"]), 3)
        self.assertEqual(len(kinds["salesjet_flow_enrollment WHERE id"]), 6, "two reads of its runs a batch")
        for query, plan in kinds["FOR UPDATE SKIP LOCKED"]:
            self.assertIn("salesjet_flow_job_due_idx", plan, f"{query}\n{plan}")
            self.assertNotIn("Sort", plan, f"{query}\n{plan}")
        for query, plan in kinds["SET attempts"] + kinds["salesjet_flow_enrollment WHERE id"]:
            self.assertNotIn("Seq Scan", plan, f"{query}\n{plan}")
            self.assertRegex(plan, "salesjet_flow_(job|enrollment)_pkey", f"{query}\n{plan}")
        self.env.cr.execute("SELECT current_setting('enable_sort'), current_setting('enable_seqscan')")
        self.assertEqual(self.env.cr.fetchone(), settings, "the transaction's settings are put back")

    def test_jobs_updated_by_id_are_reached_through_the_key_and_only_those_are_written(self):
        """Every statement that writes a batch's jobs with values of their own goes through ``_update_by_ids``:
        its values joined to the job table by id, the table reached through its key (sequential scans off,
        and ``j.id = ANY(…)`` so that the key has a path) whatever the statistics say. Statistics taken before
        a launch describe an empty table, on which the join read the whole table (a hash join, 46-63 ms for
        1,000 jobs on a fresh bench database)."""
        self.env.flush_all()
        self.env.cr.execute("ANALYZE salesjet_flow_job")
        partners = self.make_partners(300, prefix="SJ by id", city="Byidville")
        flow = self.make_flow([self.tag_step(self.tag_a, timing="delay", delay_value=2)], triggers=[
            {"trigger_type": "segment", "partner_domain": "[('city', '=', 'Byidville')]"}])
        with self.at(T0):
            flow._launch_segment(flow.trigger_ids)
        jobs = self.jobs_of(flow).sorted("id")
        self.assertEqual(jobs.partner_id, partners)
        picked, other = jobs[:200], jobs[200:]
        picked[:50].write({"state": "cancelled"})
        self.env.flush_all()
        self.env.cr.execute("SELECT current_setting('enable_seqscan')")
        setting = self.env.cr.fetchone()[0]
        dates = [T0 + timedelta(minutes=i) for i in range(len(picked))]
        with planned("UPDATE salesjet_flow_job j") as plans:
            returned = self.Job._update_by_ids(
                picked.ids, SQL("scheduled_date = v.d, result = v.r"),
                values=[("d", "timestamp", dates), ("r", "text", [f"moved {i}" for i in range(len(picked))])],
                where=state_in(SQL("j.state"), "pending"), returning=SQL("j.id"))
        self.assertEqual(len(plans), 1)
        query, plan = plans[0]
        self.assertIn("j.id = ANY(", query)
        self.assertNotIn("Seq Scan on salesjet_flow_job", plan, f"{query}\n{plan}")
        self.assertIn("salesjet_flow_job_pkey", plan, f"{query}\n{plan}")
        self.env.cr.execute("SELECT current_setting('enable_seqscan')")
        self.assertEqual(self.env.cr.fetchone()[0], setting, "the transaction's setting is put back")
        self.assertEqual(sorted(row[0] for row in returned), picked[50:].ids, "only the jobs the condition keeps")
        picked.invalidate_recordset()
        for i, job in enumerate(picked):
            if i < 50:
                self.assertNotEqual(job.scheduled_date, dates[i], "a job the condition left out is not written")
            else:
                self.assertEqual((job.scheduled_date, job.result), (dates[i], f"moved {i}"), "each job its own values")
        self.assertEqual({(job.result, job.scheduled_date) for job in other},
                         {(other[0].result, T0 + timedelta(days=2))}, "the jobs not named are left as they were")
        self.assertFalse((other[0].result or "").startswith("moved"))
        with self.assertRaises(ValueError):
            self.Job._update_by_ids(picked.ids, SQL("scheduled_date = v.d"), values=[("d", "timestamp", dates[:3])])
        with sent_statements() as sent:
            self.assertEqual(self.Job._update_by_ids([], SQL("scheduled_date = v.d"), returning=SQL("j.id")), [])
        self.assertFalse(sent, "no ids, no statement")

    def test_no_statement_joins_values_to_the_job_table_outside_the_update_by_id(self):
        """A statement written by hand could forget the key's test or the planner's settings: every job update
        that joins a list of values (``FROM unnest``) goes through ``_update_by_ids``."""
        root = Path(salesjet_flow.__file__).parents[2]
        helper = inspect.getsource(type(self.Job)._update_by_ids)
        update = re.compile(r'UPDATE\s+salesjet_flow_job\s+(\w+\s+)?SET\b[^"]{0,600}?\bFROM\s+unnest', re.S | re.I)
        found = []
        for path in sorted(root.glob("salesjet_flows*/**/*.py")):
            if "/tests/" not in str(path):
                text = path.read_text().replace(helper, "")
                found += [f"{path.relative_to(root)}: {match.group(0)[:80]}" for match in update.finditer(text)]
        self.assertEqual(found, [])
