"""A run's flow and company without foreign keys of their own (``HeldRunKey``): PostgreSQL no longer checks the
two keys that every run of a launch batch repeats. The counters' rows, which every enrolment writes for the
run's first step, stand for them: a run cannot be enrolled in a flow that does not exist, and a flow deleted
while another transaction enrols contacts in it fails rather than leaving runs behind. Deleting a flow deletes
its runs and their jobs, and a company that has runs is kept, as the keys did."""
from psycopg2.errors import ForeignKeyViolation, SerializationFailure

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError, ValidationError
from odoo.modules.migration import load_script
from odoo.tests import new_test_user, users
from odoo.tools import SQL, mute_logger

from .common import T0, SalesjetCase, keyed_columns, restore_keys
from .workers_common import CommittedQueueCase

MISSING = 999999999
HELD = ("flow_id", "company_id", "trigger_id")


def orphans(cr):
    """Runs whose flow or company does not exist, and jobs whose run does not."""
    cr.execute("""
        SELECT (SELECT count(*) FROM salesjet_flow_enrollment r
                 WHERE NOT EXISTS (SELECT 1 FROM salesjet_flow f WHERE f.id = r.flow_id)
                    OR NOT EXISTS (SELECT 1 FROM res_company c WHERE c.id = r.company_id)),
               (SELECT count(*) FROM salesjet_flow_job j
                 WHERE NOT EXISTS (SELECT 1 FROM salesjet_flow_enrollment r WHERE r.id = j.enrollment_id))
    """)
    return cr.fetchone()


class TestRunKeys(SalesjetCase):
    def enrolled_flow(self, count=3, steps=True, **vals):
        """A running flow of two tag steps (or none) with ``count`` contacts enrolled, its first step run."""
        flow = self.make_flow([self.tag_step(self.tag_a),
                               self.tag_step(self.tag_b, timing="delay", delay_value=1, delay_unit="days")]
                              if steps else [], **vals)
        with self.at(T0):
            flow._enroll(self.make_partners(count, prefix="SJ run key").ids)
            self.run_scheduler()
        return flow

    def runs_of(self, flow_ids):
        self.env.flush_all()
        self.env.cr.execute("SELECT count(*) FROM salesjet_flow_enrollment WHERE flow_id = ANY(%s)", [flow_ids])
        return self.env.cr.fetchone()[0]

    def test_a_runs_flow_and_company_have_no_keys_and_the_counters_keep_theirs(self):
        runs = keyed_columns(self.env.cr, "salesjet_flow_enrollment")
        self.assertFalse(runs & set(HELD))
        self.assertLessEqual({"partner_id", "event_id", "lead_id"}, runs, "the run's other keys stay")
        counters = keyed_columns(self.env.cr, "salesjet_flow_step_stat")
        self.assertLessEqual({"step_id", "flow_id", "company_id"}, counters)
        Run = self.env["salesjet.flow.enrollment"]
        self.assertEqual([Run._fields[name].comodel_name for name in HELD],
                         ["salesjet.flow", "res.company", "salesjet.flow.trigger"])
        self.assertFalse(self.env["ir.model.constraint"].search(
            [("name", "in", [f"salesjet_flow_enrollment_{name}_fkey" for name in HELD])]))

    def test_a_run_cannot_be_enrolled_in_a_flow_that_does_not_exist(self):
        flow = self.enrolled_flow(1)
        # a flow deleted, whose first step an enrolment still holds (a cache read before the deletion)
        gone = self.make_flow([self.tag_step(self.tag_a)])
        gone_id, gone_step_id = gone.id, gone.step_ids.id
        gone.unlink()
        partner = self.make_partners(1, prefix="SJ run key missing")
        before = self.runs_of([gone_id])
        # the engine's statement: the runs and their first jobs (as _enroll), for that flow and step
        with self.assertRaises(ForeignKeyViolation) as caught, mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env.cr.execute("""
                WITH runs AS (
                    INSERT INTO salesjet_flow_enrollment (flow_id, partner_id, company_id, state, date_start)
                    VALUES (%s, %s, %s, 'running', now()) RETURNING id, partner_id)
                INSERT INTO salesjet_flow_job (enrollment_id, flow_id, step_id, partner_id, company_id,
                                               scheduled_date, state, create_date)
                SELECT r.id, %s, %s, r.partner_id, %s, now(), 'pending', now() FROM runs r
            """, [gone_id, partner.id, self.env.company.id, gone_id, gone_step_id, self.env.company.id])
        self.assertIn("salesjet_flow_step_stat_step_id_fkey", str(caught.exception))
        self.assertEqual(self.runs_of([gone_id]), before)
        # through the ORM: refused, for the flow and for the company
        Run = self.env["salesjet.flow.enrollment"]
        for values in ({"flow_id": MISSING}, {"company_id": MISSING}):
            with self.assertRaises(ValidationError), self.env.cr.savepoint():
                Run.create({"flow_id": flow.id, "partner_id": partner.id, "company_id": self.env.company.id,
                            **values})
        # a flow without steps queues no job: its enrolment holds the flow itself
        with self.assertRaises(ValidationError):
            self.env["salesjet.flow"]._hold_flows([flow.id, MISSING])
        self.env["salesjet.flow"]._hold_flows([flow.id])

    @users("user_flows_admin")
    def test_deleting_a_flow_deletes_its_runs_and_their_jobs_and_no_other(self):
        flow = self.enrolled_flow(3)
        empty = self.enrolled_flow(2, steps=False)
        kept = self.enrolled_flow(2)
        runs, jobs = flow.enrollment_ids, self.jobs_of(flow)
        self.assertEqual((len(runs), len(jobs)), (3, 6))
        self.assertEqual(set(empty.enrollment_ids.mapped("state")), {"done"}, "a flow without steps: ended at once")
        kept_runs, kept_jobs = kept.enrollment_ids, self.jobs_of(kept)
        (flow | empty).action_stop()
        (flow | empty).unlink()
        self.assertFalse(runs.exists(), "the flow's runs went with it")
        self.assertFalse(jobs.exists(), "and their jobs")
        self.assertEqual(self.runs_of([flow.id, empty.id]), 0)
        self.assertEqual((kept.enrollment_ids, self.jobs_of(kept)), (kept_runs, kept_jobs))
        self.assertEqual(orphans(self.env.cr), (0, 0))

    def test_flows_deleted_in_sql_take_their_runs(self):
        flow = self.enrolled_flow(3)
        kept = self.enrolled_flow(2)
        self.env.flush_all()
        self.env.cr.execute("DELETE FROM salesjet_flow WHERE id = %s", [flow.id])
        self.env.invalidate_all()
        self.assertEqual(self.runs_of([flow.id]), 0)
        self.assertEqual(len(kept.enrollment_ids), 2)
        self.assertEqual(orphans(self.env.cr), (0, 0))

    def test_a_company_that_has_runs_is_kept(self):
        admin = new_test_user(self.env, login="sj_settings",
                              groups="base.group_user,base.group_system,base.group_erp_manager")
        other = self.env["res.company"].create({"name": "SJ other company"})
        flow = self.enrolled_flow(2, company_id=other.id)
        self.assertEqual(flow.enrollment_ids.company_id, other)
        # the flow moves to another company: its runs keep theirs, and so does the database
        flow.company_id = self.env.company
        with self.assertRaises(UserError) as caught, self.env.cr.savepoint():
            other.with_user(admin).unlink()
        self.assertIn("SJ other company", str(caught.exception))
        self.assertTrue(other.exists())
        # without runs it goes, as before
        flow.action_stop()
        flow.unlink()
        other.with_user(admin).unlink()
        self.assertFalse(other.exists())

    def launched_flow(self, count=3):
        """A running flow of one tag step, launched for a segment of ``count`` new contacts."""
        partners = self.make_partners(count, prefix="SJ run trigger")
        flow = self.make_flow([self.tag_step(self.tag_a)], triggers=[{
            "trigger_type": "segment", "partner_domain": repr([("id", "in", partners.ids)])}])
        with self.at(T0):
            flow._launch_segment(flow.trigger_ids)
        return flow

    @users("user_flows_admin")
    def test_deleting_a_trigger_empties_it_on_its_runs_and_keeps_them(self):
        flow = self.launched_flow(3)
        kept = self.launched_flow(2)
        runs, trigger = flow.enrollment_ids, flow.trigger_ids
        self.assertEqual((len(runs), runs.trigger_id), (3, trigger))
        flow.write({"trigger_ids": [(2, trigger.id)]})
        self.env.invalidate_all()
        self.assertEqual(flow.enrollment_ids, runs, "the runs stay")
        self.assertFalse(runs.trigger_id)
        self.assertEqual(kept.enrollment_ids.trigger_id, kept.trigger_ids, "another trigger's runs keep theirs")

    def test_a_run_that_kept_a_deleted_triggers_id_reads_it_as_deleted(self):
        """What a trigger deleted while it enrolled leaves (see the concurrent test below): its id on a run."""
        flow = self.launched_flow(2)
        run, other = flow.enrollment_ids
        self.env.flush_all()
        self.env.cr.execute("UPDATE salesjet_flow_enrollment SET trigger_id = %s WHERE id = %s", [MISSING, run.id])
        self.env.invalidate_all()
        Run = self.env["salesjet.flow.enrollment"].with_user(self.user_flows)  # a Flows user reads runs
        spec = {"trigger_id": {"fields": {"display_name": {}}}}
        form = Run.browse(run.id).web_read(spec)[0]
        self.assertEqual(form["trigger_id"], {"id": MISSING, "display_name": "Deleted trigger"})
        rows = Run.web_search_read([("flow_id", "=", flow.id)], spec)["records"]
        self.assertEqual({row["trigger_id"]["display_name"] for row in rows},
                         {"Deleted trigger", other.trigger_id.display_name})
        groups = Run.read_group([("flow_id", "=", flow.id)], ["trigger_id"], ["trigger_id"])
        self.assertEqual(sorted(group["trigger_id"][1] for group in groups),
                         sorted(["Deleted trigger", other.trigger_id.display_name]))

    def test_the_update_drops_the_keys_and_keeps_the_runs(self):
        flow = self.enrolled_flow(2)
        runs = flow.enrollment_ids
        names = restore_keys(self.env, "salesjet_flow_enrollment", "salesjet.flow.enrollment", {
            "flow_id": SQL("REFERENCES salesjet_flow(id) ON DELETE CASCADE"),
            "company_id": SQL("REFERENCES res_company(id) ON DELETE RESTRICT"),
            "trigger_id": SQL("REFERENCES salesjet_flow_trigger(id) ON DELETE SET NULL"),
        })
        self.assertLessEqual(set(HELD), keyed_columns(self.env.cr, "salesjet_flow_enrollment"))
        migration = load_script("salesjet_flows/migrations/18.0.1.9.0/post-run_keys.py", "sj_run_keys_mig")
        migration.migrate(self.env.cr, "18.0.1.8.0")
        self.assertFalse(set(HELD) & keyed_columns(self.env.cr, "salesjet_flow_enrollment"))
        self.assertIn("partner_id", keyed_columns(self.env.cr, "salesjet_flow_enrollment"), "the run's contact key")
        self.assertFalse(self.env["ir.model.constraint"].search([("name", "in", names)]))
        self.env.invalidate_all()
        self.assertEqual(flow.enrollment_ids, runs)
        migration.migrate(self.env.cr, "18.0.1.9.0")  # run again (or on a database already without them)


# Enrols as a launch does beside a deletion in another transaction: both commit, as in production.
class TestRunKeysConcurrent(CommittedQueueCase):
    """Two transactions, each with its own connection: one enrols contacts in a flow, the other deletes it."""

    JOBS = 4

    def new_contacts(self, env, count=3):
        contacts = env["res.partner"].create([{"name": f"{self.name} late {i}"} for i in range(count)])
        self.partner_ids += contacts.ids  # deleted by the cleanup
        return contacts.ids

    def count_runs(self):
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM salesjet_flow_enrollment WHERE flow_id = %s", [self.flow_id])
            return cr.fetchone()[0]

    def test_a_flow_deleted_while_contacts_are_enrolled_in_it_fails_and_leaves_no_run_behind(self):
        with self.registry.cursor() as cr_enrol, self.registry.cursor() as cr_delete:
            env_enrol = api.Environment(cr_enrol, SUPERUSER_ID, {})
            env_delete = api.Environment(cr_delete, SUPERUSER_ID, {})
            flow = env_delete["salesjet.flow"].browse(self.flow_id)
            self.assertEqual(len(flow.enrollment_ids), self.JOBS)  # the deletion's snapshot starts here
            # meanwhile contacts are enrolled, committed
            late = self.new_contacts(env_enrol)
            env_enrol["salesjet.flow"].browse(self.flow_id)._enroll(late)
            cr_enrol.commit()  # pylint: disable=invalid-commit
            self.assertEqual(self.count_runs(), self.JOBS + 3)
            # the deletion, whose transaction started before those runs, would not see them to delete them
            with self.assertRaises(SerializationFailure), mute_logger("odoo.sql_db"):
                flow.unlink()
            cr_delete.rollback()
        self.assertEqual(self.count_runs(), self.JOBS + 3, "the flow and its runs stay")
        with self.registry.cursor() as cr:
            self.assertEqual(orphans(cr), (0, 0))
            # deleted again, now that it sees them: its runs go with it
            api.Environment(cr, SUPERUSER_ID, {})["salesjet.flow"].browse(self.flow_id).unlink()
            self.assertEqual(orphans(cr), (0, 0))
        self.assertEqual(self.count_runs(), 0)

    def test_a_trigger_deleted_while_it_enrols_leaves_its_id_on_the_runs_it_enrolled(self):
        with self.registry.cursor() as cr_enrol, self.registry.cursor() as cr_delete:
            env_enrol = api.Environment(cr_enrol, SUPERUSER_ID, {})
            env_delete = api.Environment(cr_delete, SUPERUSER_ID, {})
            trigger = env_delete["salesjet.flow.trigger"].create({"flow_id": self.flow_id, "trigger_type": "segment"})
            cr_delete.commit()  # pylint: disable=invalid-commit
            trigger_id = trigger.id
            env_delete.cr.execute("SELECT 1")  # the deletion's snapshot starts here
            late = self.new_contacts(env_enrol)
            env_enrol["salesjet.flow"].browse(self.flow_id)._enroll(
                late, trigger=env_enrol["salesjet.flow.trigger"].browse(trigger_id))
            cr_enrol.commit()  # pylint: disable=invalid-commit
            trigger.unlink()  # its snapshot does not see the runs: it empties none
            cr_delete.commit()  # pylint: disable=invalid-commit
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM salesjet_flow_enrollment WHERE trigger_id = %s", [trigger_id])
            self.assertEqual(cr.fetchone()[0], 3, "the runs it enrolled keep its id")
            runs = api.Environment(cr, SUPERUSER_ID, {})["salesjet.flow.enrollment"].search(
                [("partner_id", "in", late)])
            self.assertEqual([run.trigger_id.display_name for run in runs], ["Deleted trigger"] * 3)
            self.assertEqual(orphans(cr), (0, 0))

    def test_contacts_enrolled_in_a_flow_deleted_meanwhile_fail_and_the_flow_stays_deleted(self):
        with self.registry.cursor() as cr_enrol, self.registry.cursor() as cr_delete:
            env_enrol = api.Environment(cr_enrol, SUPERUSER_ID, {})
            env_delete = api.Environment(cr_delete, SUPERUSER_ID, {})
            late = self.new_contacts(env_enrol)
            cr_enrol.commit()  # pylint: disable=invalid-commit
            # the enrolling transaction starts (its snapshot and its cache see the flow) ...
            flow = env_enrol["salesjet.flow"].browse(self.flow_id)
            self.assertTrue(flow._engine_info(self.flow_id)[0], "the flow listens")
            self.assertTrue(flow.exists())
            # ... the flow is deleted and committed ...
            env_delete["salesjet.flow"].browse(self.flow_id).unlink()
            cr_delete.commit()  # pylint: disable=invalid-commit
            # ... and the contacts are then enrolled in it
            with self.assertRaises((ForeignKeyViolation, SerializationFailure)), mute_logger("odoo.sql_db"):
                flow._enroll(late)
            cr_enrol.rollback()
        self.assertEqual(self.count_runs(), 0)
        with self.registry.cursor() as cr:
            self.assertEqual(orphans(cr), (0, 0))
