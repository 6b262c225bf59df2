"""A job's step without a foreign key of its own (``CountedStep``): PostgreSQL no longer checks the step of every
job inserted. The counters' rows stand for the key, once a step a statement: a job cannot be queued on, or
moved to, a step that does not exist, and a step deleted while another transaction queues jobs on it fails
rather than leaving them behind. The steps' delete trigger deletes their jobs, whatever deletes the steps."""
from psycopg2.errors import ForeignKeyViolation, SerializationFailure

from odoo import SUPERUSER_ID, api
from odoo.modules.migration import load_script
from odoo.tests import users
from odoo.tools import SQL, mute_logger

from .common import T0, SalesjetCase, keyed_columns, restore_keys
from .workers_common import CommittedQueueCase

MISSING = 999999999


def orphans(cr):
    """Jobs whose step does not exist."""
    cr.execute("""
        SELECT count(*) FROM salesjet_flow_job j
         WHERE NOT EXISTS (SELECT 1 FROM salesjet_flow_step s WHERE s.id = j.step_id)
    """)
    return cr.fetchone()[0]


class TestJobStepKey(SalesjetCase):
    def two_step_flow(self, count=3):
        """A flow of two tag steps, the second a day after the first, whose first step ran for ``count``
        contacts: their second jobs wait."""
        flow = self.make_flow([self.tag_step(self.tag_a),
                               self.tag_step(self.tag_b, timing="delay", delay_value=1, delay_unit="days")])
        with self.at(T0):
            flow._enroll(self.make_partners(count, prefix="SJ step key").ids)
            self.run_scheduler()
        first, second = flow.step_ids.sorted("sequence")
        return flow, first, second

    def test_a_jobs_step_has_no_key_and_its_counters_keep_theirs(self):
        self.assertNotIn("step_id", keyed_columns(self.env.cr, "salesjet_flow_job"))
        self.assertIn("enrollment_id", keyed_columns(self.env.cr, "salesjet_flow_job"), "the run's key stays")
        self.assertIn("step_id", keyed_columns(self.env.cr, "salesjet_flow_step_stat"), "the counters' key holds")
        self.assertEqual(self.Job._fields["step_id"].comodel_name, "salesjet.flow.step")
        self.assertFalse(self.env["ir.model.constraint"].search([("name", "=", "salesjet_flow_job_step_id_fkey")]))

    def test_a_job_cannot_be_queued_on_a_step_that_does_not_exist(self):
        flow, first, _second = self.two_step_flow(1)
        run = flow.enrollment_ids
        before = self.Job.search_count([])
        with self.assertRaises(ForeignKeyViolation) as caught, mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.Job._create_pending([(run.id, flow.id, MISSING, run.partner_id.id, run.company_id.id, T0, 0)])
        self.assertIn("salesjet_flow_step_stat_step_id_fkey", str(caught.exception))
        self.assertEqual(self.Job.search_count([]), before, "nothing queued")
        # a job of an existing step is queued as before, in any state, through the ORM too
        job = self.Job.create({"enrollment_id": run.id, "flow_id": flow.id, "step_id": first.id,
                               "partner_id": run.partner_id.id, "company_id": run.company_id.id,
                               "scheduled_date": T0, "state": "cancelled"})
        self.assertEqual(job.step_id, first)

    def test_a_job_cannot_be_moved_to_a_step_that_does_not_exist(self):
        _flow, first, second = self.two_step_flow(2)
        waiting = self.Job.search([("step_id", "=", second.id)])
        with self.assertRaises(ForeignKeyViolation), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env.cr.execute("UPDATE salesjet_flow_job SET step_id = %s WHERE id = %s", [MISSING, waiting[0].id])
        with self.assertRaises(ForeignKeyViolation), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            waiting[1].step_id = MISSING
            self.env.flush_all()
        self.env.invalidate_all()
        # to a step that exists: moved (the outcome writer's updates, which do not set the step, never check it)
        waiting.step_id = first
        self.env.flush_all()
        self.assertEqual(self.Job.search([("id", "in", waiting.ids)]).step_id, first)

    @users("user_flows_admin")
    def test_deleting_a_step_deletes_its_jobs_and_no_other(self):
        flow, first, second = self.two_step_flow(3)
        done = self.Job.search([("step_id", "=", first.id)])
        waiting = self.Job.search([("step_id", "=", second.id)])
        self.assertEqual((set(done.mapped("state")), len(waiting)), ({"done"}, 3))
        first.unlink()  # no contact waits on it
        self.assertFalse(done.exists(), "the step's jobs went with it")
        self.assertEqual(waiting.exists(), waiting, "the other step's jobs stay")
        self.assertEqual(flow.step_ids, second)
        self.assertEqual(orphans(self.env.cr), 0)

    def test_steps_deleted_by_a_cascade_in_sql_take_their_jobs(self):
        """What a flow's or a split's deletion does to its steps, in SQL (not through the steps' ORM)."""
        flow, first, second = self.two_step_flow(3)
        other_flow, other_first, _other_second = self.two_step_flow(2)
        kept = self.jobs_of(other_flow)
        self.env.flush_all()
        self.env.cr.execute("DELETE FROM salesjet_flow_step WHERE id = ANY(%s)", [[first.id, second.id]])
        self.env.invalidate_all()
        self.assertFalse(self.jobs_of(flow), "every job of the deleted steps is gone")
        self.assertEqual(self.jobs_of(other_flow), kept)
        self.assertEqual(orphans(self.env.cr), 0)
        # and the runs' statistics of the other flow are as they were
        self.assertEqual(self.env["salesjet.flow.step.stat"]._totals(step_ids=[other_first.id])[other_first.id]["done"],
                         2)

    def test_the_update_drops_the_key_and_keeps_the_jobs(self):
        flow, first, second = self.two_step_flow(2)
        jobs = self.jobs_of(flow)
        names = restore_keys(self.env, "salesjet_flow_job", "salesjet.flow.job",
                             {"step_id": SQL("REFERENCES salesjet_flow_step(id) ON DELETE CASCADE")})
        self.assertIn("step_id", keyed_columns(self.env.cr, "salesjet_flow_job"))
        migration = load_script("salesjet_flows/migrations/18.0.1.8.0/post-job_step_key.py", "sj_job_step_key_mig")
        migration.migrate(self.env.cr, "18.0.1.7.0")
        self.assertNotIn("step_id", keyed_columns(self.env.cr, "salesjet_flow_job"))
        self.assertIn("enrollment_id", keyed_columns(self.env.cr, "salesjet_flow_job"), "the job's other key stays")
        self.assertFalse(self.env["ir.model.constraint"].search([("name", "in", names)]))
        self.env.invalidate_all()
        self.assertEqual(self.jobs_of(flow), jobs)
        self.assertEqual(set(jobs.mapped("step_id")), {first, second})
        migration.migrate(self.env.cr, "18.0.1.8.0")  # run again (or on a database already without it)


# Runs as the cron does (superuser) beside a deletion in another transaction: both commit, as in production.
class TestJobStepKeyConcurrent(CommittedQueueCase):
    """Two transactions, each with its own connection: one queues jobs on a step, the other deletes it."""

    JOBS = 4

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            cr.execute("SELECT id FROM salesjet_flow_step WHERE flow_id = %s AND id <> %s",
                       [self.flow_id, self.first_step_id])
            self.second_step_id = cr.fetchone()[0]

    def envs(self, cr_queue, cr_delete):
        return api.Environment(cr_queue, SUPERUSER_ID, {}), api.Environment(cr_delete, SUPERUSER_ID, {})

    def count_jobs(self, step_id):
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM salesjet_flow_job WHERE step_id = %s", [step_id])
            return cr.fetchone()[0]

    def test_a_step_deleted_while_jobs_are_queued_on_it_fails_and_leaves_no_job_behind(self):
        with self.registry.cursor() as cr_queue, self.registry.cursor() as cr_delete:
            env_queue, env_delete = self.envs(cr_queue, cr_delete)
            second = env_delete["salesjet.flow.step"].browse(self.second_step_id)
            self.assertEqual(second.pending_job_count, 0, "nobody waits on it yet: the step may be deleted")
            # meanwhile the first step runs for every contact and queues their second jobs, committed (other
            # due jobs of the database, the demo's, may run too)
            while env_queue["salesjet.flow.job"]._process_due_batch(limit=100):
                pass
            cr_queue.commit()  # pylint: disable=invalid-commit
            self.assertEqual(self.count_jobs(self.second_step_id), self.JOBS)
            # the deletion, whose transaction started before those jobs, would not see them to delete them
            with self.assertRaises(SerializationFailure), mute_logger("odoo.sql_db"):
                second.unlink()
            cr_delete.rollback()
        self.assertEqual(self.count_jobs(self.second_step_id), self.JOBS, "the step and its waiting jobs stay")
        with self.registry.cursor() as cr:
            self.assertEqual(orphans(cr), 0)
            # deleted again, now that it sees them: its waiting jobs go with it
            api.Environment(cr, SUPERUSER_ID, {"salesjet_step_removal": True})["salesjet.flow.step"].browse(
                self.second_step_id).unlink()
            self.assertEqual(orphans(cr), 0)
        self.assertEqual(self.count_jobs(self.second_step_id), 0)

    def test_jobs_queued_on_a_step_deleted_meanwhile_fail_and_the_step_stays_deleted(self):
        with self.registry.cursor() as cr_queue, self.registry.cursor() as cr_delete:
            env_queue, env_delete = self.envs(cr_queue, cr_delete)
            # the queueing transaction starts (its snapshot sees the second step) ...
            self.assertTrue(env_queue["salesjet.flow.step"].browse(self.second_step_id).exists())
            # ... the step is deleted and committed ...
            env_delete["salesjet.flow.step"].browse(self.second_step_id).unlink()
            cr_delete.commit()  # pylint: disable=invalid-commit
            # ... and the first step's jobs then queue their next jobs on it
            with self.assertRaises(SerializationFailure), mute_logger("odoo.sql_db"):
                while env_queue["salesjet.flow.job"]._process_due_batch(limit=100):
                    pass
            cr_queue.rollback()
        with self.registry.cursor() as cr:
            self.assertEqual(orphans(cr), 0)
        self.assertEqual(self.count_jobs(self.first_step_id), self.JOBS, "the first jobs wait to run again")
