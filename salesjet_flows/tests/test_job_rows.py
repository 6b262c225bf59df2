"""A job is a log row, many per contact (``_log_access = False``, as Odoo's ``mail.notification`` and
``website.visitor``): it keeps the time it was created, set on every path that inserts jobs, and has no user
columns, so PostgreSQL no longer checks two foreign keys to the users on every job inserted."""
from datetime import timedelta

from odoo.modules.migration import load_script
from odoo.tools.sql import column_exists

from .common import T0, SalesjetCase

USER_COLUMNS = ("create_uid", "write_uid", "write_date")


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
