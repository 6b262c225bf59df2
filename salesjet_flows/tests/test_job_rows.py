"""A job is a log row, many per contact (``_log_access = False``, as Odoo's ``mail.notification`` and
``website.visitor``): it keeps the time it was created, set on every path that inserts jobs, and has no user
columns, so PostgreSQL no longer checks two foreign keys to the users on every job inserted. Its flow, contact
and company are its run's, without keys of their own (``RunCopy``): deleting or merging contacts and deleting
flows treat the jobs as before, through their runs."""
from datetime import timedelta

from odoo.exceptions import ValidationError
from odoo.modules.migration import load_script
from odoo.tools import SQL
from odoo.tools.sql import column_exists

from .common import T0, SalesjetCase, keyed_columns, restore_keys

USER_COLUMNS = ("create_uid", "write_uid", "write_date")
RUN_COPIES = ("flow_id", "partner_id", "company_id")


class TestJobRows(SalesjetCase):
    def user_columns(self):
        """The user columns the job table has."""
        return [column for column in USER_COLUMNS if column_exists(self.env.cr, "salesjet_flow_job", column)]

    def user_keys(self):
        """The foreign keys of the job table to the users."""
        self.env.cr.execute("""
            SELECT conname FROM pg_constraint
             WHERE conrelid = 'salesjet_flow_job'::regclass AND confrelid = 'res_users'::regclass
        """)
        return [row[0] for row in self.env.cr.fetchall()]

    def test_every_path_stamps_a_job_with_the_time_it_was_created(self):
        flow = self.make_flow([self.tag_step(self.tag_a),
                               self.tag_step(self.tag_b, timing="delay", delay_value=1, delay_unit="days")])
        segment = [{"trigger_type": "segment", "partner_domain": "[('name', '=like', 'SJ row%')]"}]
        launched = self.make_flow([self.tag_step(self.tag_c)], triggers=segment)
        partner, other = self.make_partners(2, prefix="SJ row")
        with self.at(T0):
            self.Event.sudo().post("sj_test", partner)  # the event's one statement inserts the first job
        with self.at(T0 + timedelta(hours=1)):
            self.run_scheduler()  # the tag job inserts the next one (_create_pending)
            launched._launch_segment(launched.trigger_ids)  # a launch's one statement
        with self.at(T0 + timedelta(hours=2)):
            manual = self.Job.create({
                "enrollment_id": self.jobs_of(flow, partner)[0].enrollment_id.id, "flow_id": flow.id,
                "step_id": flow.step_ids[0].id, "partner_id": partner.id, "company_id": flow.company_id.id,
                "scheduled_date": T0 + timedelta(days=3), "state": "cancelled"})
        first, second = self.jobs_of(flow, partner)[:2].sorted("id")
        self.assertEqual((first.create_date, second.create_date), (T0, T0 + timedelta(hours=1)))
        self.assertEqual(self.jobs_of(launched, other).create_date, T0 + timedelta(hours=1))
        self.assertEqual(manual.create_date, T0 + timedelta(hours=2), "through the ORM: the field's default")
        self.assertEqual(second.state, "pending", "the next step waits a day")

    def test_a_flows_user_reads_when_each_job_was_created(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        partner = self.make_partners(1, prefix="SJ row")
        with self.at(T0):
            self.Event.sudo().post("sj_test", partner)
        jobs = self.Job.with_user(self.user_flows).search([("flow_id", "=", flow.id)])
        self.assertEqual(jobs.read(["create_date", "state"]), [{"id": jobs.id, "create_date": T0, "state": "pending"}])

    def test_jobs_have_no_user_columns_nor_keys_to_check(self):
        self.assertEqual(self.user_columns(), [])
        self.assertEqual(self.user_keys(), [])
        self.assertNotIn("write_uid", self.Job._fields)

    def test_the_update_drops_the_user_columns_and_their_keys(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        partner = self.make_partners(1, prefix="SJ row")
        with self.at(T0):
            self.Event.sudo().post("sj_test", partner)
        self.env.flush_all()
        # a database of 1.4.0: the columns Odoo's log access added, with their keys
        self.env.cr.execute("""
            ALTER TABLE salesjet_flow_job
                ADD COLUMN create_uid int REFERENCES res_users(id) ON DELETE SET NULL,
                ADD COLUMN write_uid int REFERENCES res_users(id) ON DELETE SET NULL,
                ADD COLUMN write_date timestamp;
            UPDATE salesjet_flow_job SET create_uid = 1, write_uid = 1, write_date = create_date;
        """)
        self.assertEqual(len(self.user_keys()), 2)
        migration = load_script("salesjet_flows/migrations/18.0.1.5.0/post-job_log_access.py", "sj_job_log_mig")
        migration.migrate(self.env.cr, "18.0.1.4.0")
        self.assertEqual(self.user_columns(), [])
        self.assertEqual(self.user_keys(), [])
        self.env.invalidate_all()
        job = self.jobs_of(flow, partner)
        self.assertEqual((job.create_date, job.state), (T0, "pending"), "the jobs and their own dates stay")
        migration.migrate(self.env.cr, "18.0.1.5.0")  # run again (or on a database already without them)

    def test_a_jobs_flow_contact_and_company_are_its_runs_without_keys(self):
        self.assertFalse(keyed_columns(self.env.cr, "salesjet_flow_job") & set(RUN_COPIES))
        self.assertIn("enrollment_id", keyed_columns(self.env.cr, "salesjet_flow_job"))
        # the run keeps its contact's key; its flow and company are held by the counters (HeldRunKey, 1.9.0)
        self.assertIn("partner_id", keyed_columns(self.env.cr, "salesjet_flow_enrollment"))
        self.assertEqual(self.Job._fields["partner_id"].type, "many2one")
        self.assertFalse(self.env["ir.model.constraint"].search([("name", "=", "salesjet_flow_job_partner_id_fkey")]))

    def test_a_job_written_through_the_orm_holds_its_runs_contact(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        partner, other = self.make_partners(2, prefix="SJ row")
        self.Event.sudo().post("sj_test", partner)
        job = self.jobs_of(flow, partner)
        with self.assertRaises(ValidationError):
            self.Job.create({"enrollment_id": job.enrollment_id.id, "flow_id": flow.id, "step_id": job.step_id.id,
                             "partner_id": other.id, "company_id": flow.company_id.id,
                             "scheduled_date": T0, "state": "cancelled"})
        with self.assertRaises(ValidationError):
            job.partner_id = other

    def test_deleting_a_contact_or_a_flow_deletes_their_jobs_through_their_runs(self):
        delayed = [self.tag_step(self.tag_a, timing="delay", delay_value=1, delay_unit="days")]
        flow, other_flow = self.make_flow(delayed), self.make_flow(delayed, name="Other flow")
        gone, kept = self.make_partners(2, prefix="SJ row")
        for partner in gone | kept:
            self.Event.sudo().post("sj_test", partner)  # a run of each flow
        self.assertEqual(len(self.jobs_of(flow) | self.jobs_of(other_flow)), 4)
        self.env["res.partner"].with_user(self.user_marketing).browse(gone.id).unlink()
        self.env.invalidate_all()
        self.assertEqual(self.jobs_of(flow).partner_id, kept)
        self.assertEqual(self.env["salesjet.flow.enrollment"].search([("flow_id", "=", flow.id)]).partner_id, kept)
        self.env["salesjet.flow"].with_user(self.user_flows_admin).browse(other_flow.id).unlink()
        self.env.invalidate_all()
        self.assertFalse(self.Job.search([("flow_id", "=", other_flow.id)]))
        self.assertEqual(self.jobs_of(flow).partner_id, kept, "the other flow's jobs stay")

    def test_merging_contacts_moves_the_jobs_with_their_runs(self):
        flow = self.make_flow([self.tag_step(self.tag_a, timing="delay", delay_value=1, delay_unit="days")])
        # Odoo's merge asks a non-administrator for contacts of one email
        duplicate, kept = self.make_partners(2, prefix="SJ row", email="same.person@example.com")
        with self.at(T0):
            self.Event.sudo().post("sj_test", duplicate)
        run = self.jobs_of(flow, duplicate).enrollment_id
        marketer = self.env(user=self.user_marketing)
        marketer["base.partner.merge.automatic.wizard"]._merge([duplicate.id, kept.id], kept.with_env(marketer))
        self.env.invalidate_all()
        self.assertFalse(duplicate.exists())
        self.assertEqual(run.partner_id, kept)
        job = self.jobs_of(flow, kept)
        self.assertEqual((job.enrollment_id, job.state), (run, "pending"), "the job moved with its run")
        with self.at(T0 + timedelta(days=1, minutes=1)):
            self.run_scheduler()
        self.assertEqual(job.state, "done")
        self.assertTags(kept, present=self.tag_a)

    def test_the_update_drops_the_keys_of_the_runs_copies(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        partner = self.make_partners(1, prefix="SJ row")
        self.Event.sudo().post("sj_test", partner)
        self.env.flush_all()
        # a database of 1.5.0: the keys Odoo created for them, and what it reflected of them
        names = restore_keys(self.env, "salesjet_flow_job", "salesjet.flow.job", {
            "flow_id": SQL("REFERENCES salesjet_flow(id) ON DELETE CASCADE"),
            "partner_id": SQL("REFERENCES res_partner(id) ON DELETE CASCADE"),
            "company_id": SQL("REFERENCES res_company(id) ON DELETE RESTRICT"),
        })
        Constraint = self.env["ir.model.constraint"]
        self.assertEqual(keyed_columns(self.env.cr, "salesjet_flow_job") & set(RUN_COPIES), set(RUN_COPIES))
        migration = load_script("salesjet_flows/migrations/18.0.1.6.0/post-job_run_copies.py", "sj_job_copies_mig")
        migration.migrate(self.env.cr, "18.0.1.5.0")
        self.assertFalse(keyed_columns(self.env.cr, "salesjet_flow_job") & set(RUN_COPIES))
        self.assertIn("enrollment_id", keyed_columns(self.env.cr, "salesjet_flow_job"), "the job's own keys stay")
        self.env.invalidate_all()
        self.assertFalse(Constraint.search([("name", "in", names)]))
        self.assertTrue(Constraint.search([("name", "=", "salesjet_flow_job_enrollment_id_fkey")]))
        self.assertEqual(self.jobs_of(flow, partner).state, "pending", "the jobs stay")
        migration.migrate(self.env.cr, "18.0.1.6.0")  # run again (or on a database already without them)
