from datetime import timedelta

import psycopg2

from odoo.exceptions import UserError
from odoo.tests import users
from odoo.tools import SQL, mute_logger

from .common import T0, SalesjetCase


class TestSafeEdits(SalesjetCase):

    @classmethod
    def bulk_partners(cls, count):
        """``count`` contacts in one statement, copied from one made by the ORM (other modules add columns)."""
        proto = cls.env["res.partner"].create({"name": "SJ edit prototype"})
        cls.env.flush_all()
        overrides = {"name": SQL("'SJ edit ' || i"), "complete_name": SQL("'SJ edit ' || i")}
        cls.env.cr.execute("SELECT column_name FROM information_schema.columns "
                           "WHERE table_name = 'res_partner' AND column_name <> 'id' ORDER BY ordinal_position")
        columns = [row[0] for row in cls.env.cr.fetchall()]
        cls.env.cr.execute(SQL(
            "INSERT INTO res_partner (%s) SELECT %s FROM res_partner, generate_series(1, %s) AS i "
            "WHERE res_partner.id = %s RETURNING id",
            SQL(", ").join(SQL.identifier(c) for c in columns),
            SQL(", ").join(overrides.get(c, SQL.identifier("res_partner", c)) for c in columns),
            count, proto.id,
        ))
        return cls.env["res.partner"].browse([row[0] for row in cls.env.cr.fetchall()])

    def three_step_flow(self):
        return self.make_flow([
            self.tag_step(self.tag_a),
            self.tag_step(self.tag_b, timing="delay", delay_value=1, delay_unit="days"),
            self.tag_step(self.tag_c, timing="delay", delay_value=2, delay_unit="hours"),
        ])

    def pending(self, flow):
        return self.Job.search([("flow_id", "=", flow.id), ("state", "=", "pending")])

    @users("user_flows_admin")
    def test_new_delay_reschedules_a_thousand_waiting_contacts_set_based(self):
        flow = self.three_step_flow()
        partners = self.bulk_partners(1000)
        second = flow.step_ids[1]
        with self.at(T0):
            flow._enroll(partners.ids)
            self.run_scheduler()
        self.assertEqual(second.pending_job_count, 1000)
        self.assertIn("1000 contacts wait", second.waiting_info)
        with self.at(T0 + timedelta(hours=2)):
            second.write({"delay_value": 3})
            self.assertEqual(set(self.pending(flow).mapped("scheduled_date")), {T0 + timedelta(days=1)},
                             "a new timing alone keeps the waiting contacts' dates")
            self.env.flush_all()
            before = self.env.cr.sql_log_count
            self.assertEqual(second._reschedule_waiting(), 1000)
            queries = self.env.cr.sql_log_count - before
        self.assertLessEqual(queries, 6, "rescheduling is set-based (3 queries measured)")
        pending = self.pending(flow)
        self.assertEqual(len(pending), 1000, "no job lost, none duplicated")
        self.assertEqual(len(pending.enrollment_id), 1000)
        self.assertEqual(pending.step_id, second)
        self.assertEqual(set(pending.mapped("scheduled_date")), {T0 + timedelta(days=3)},
                         "counted from when the previous step ran")
        with self.at(T0 + timedelta(days=3)):
            self.run_scheduler()
        self.assertEqual(len(self.pending(flow)), 1000)
        self.assertEqual(self.pending(flow).step_id, flow.step_ids[2])

    @users("user_flows_admin")
    def test_reschedule_from_the_start_of_the_run_and_past_moments_run_now(self):
        flow = self.three_step_flow()
        partner = self.make_partners(1)
        second = flow.step_ids[1]
        with self.at(T0):
            flow._enroll(partner.ids)
            self.run_scheduler()
        with self.at(T0 + timedelta(hours=5)):
            second.write({"delay_value": 2, "delay_unit": "hours", "delay_from": "start"})
            second._reschedule_waiting()
            self.assertEqual(self.pending(flow).scheduled_date, T0 + timedelta(hours=5), "already past: now")

    @users("user_flows_admin")
    def test_deleting_a_step_with_waiting_contacts_asks_then_moves_them_on(self):
        flow = self.three_step_flow()
        partners = self.make_partners(5)
        second, third = flow.step_ids[1:]
        with self.at(T0):
            flow._enroll(partners.ids)
            self.run_scheduler()
        with self.assertRaisesRegex(UserError, "5 contacts wait on step"):
            second.unlink()
        with self.assertRaisesRegex(UserError, "5 contacts wait on step"):
            second.action_archive()
        with self.at(T0 + timedelta(hours=1)):
            wizard = self.env["salesjet.flow.step.remove"].create({"step_id": second.id, "operation": "delete",
                                                                   "mode": "next"})
            self.assertIn("go on to", wizard.explanation)
            self.assertEqual(wizard.next_step_id, third)
            wizard.action_confirm()
        self.assertFalse(second.exists())
        pending = self.pending(flow)
        self.assertEqual(len(pending), 5)
        self.assertEqual(pending.step_id, third)
        self.assertEqual(set(pending.mapped("scheduled_date")), {T0 + timedelta(hours=3)},
                         "scheduled by the next step's timing from the removal")
        with self.at(T0 + timedelta(hours=3)):
            self.run_scheduler()
        self.assertEqual(set(pending.enrollment_id.mapped("state")), {"done"})

    @users("user_flows_admin")
    def test_archiving_a_step_can_cancel_the_waiting_runs(self):
        flow = self.three_step_flow()
        partners = self.make_partners(3)
        second = flow.step_ids[1]
        with self.at(T0):
            flow._enroll(partners.ids)
            self.run_scheduler()
        waiting = self.pending(flow)
        self.env["salesjet.flow.step.remove"].create(
            {"step_id": second.id, "operation": "archive", "mode": "cancel"}).action_confirm()
        self.assertFalse(second.active)
        self.assertEqual(set(waiting.mapped("state")), {"cancelled"})
        self.assertEqual(set(waiting.enrollment_id.mapped("state")), {"stopped"})
        self.assertFalse(self.pending(flow))

    @users("user_flows_admin")
    def test_every_change_is_kept_as_a_version_with_its_user(self):
        flow = self.three_step_flow()
        self.env.cr.flush()  # what a commit does: write the pending versions
        self.assertEqual(len(flow.version_ids), 1)
        self.assertIn("Flow created", flow.version_ids.summary)
        self.assertEqual(flow.version_ids.snapshot["flows"][0]["name"], "Test flow")
        editor = self.env["res.users"].sudo().create({
            "name": "SJ editor", "login": "sj_editor",
            "groups_id": [(6, 0, [self.env.ref("salesjet_flows.group_salesjet_manager").id,
                                  self.env.ref("base.group_user").id])]})
        step = flow.step_ids[1].with_user(editor)
        step.write({"delay_value": 4})
        step.flow_id.write({"name": "Renamed flow"})
        self.env.cr.flush()
        flow.invalidate_recordset(["version_ids"])
        latest = flow.version_ids[0]
        self.assertEqual(len(flow.version_ids), 2, "one version per saved change, however many records it touched")
        self.assertEqual(latest.user_id, editor)
        self.assertIn("Delay", latest.summary)
        self.assertIn("Name", latest.summary)
        self.assertEqual(latest.snapshot["flows"][0]["step_ids"][1]["delay_value"], 4)
        flow.step_ids[2].write(
            {"condition_ids": [(0, 0, {"condition_type": "tag", "tag_ids": [(6, 0, self.tag_a.ids)]})]})
        self.env.cr.flush()
        flow.invalidate_recordset(["version_ids"])
        self.assertEqual(len(flow.version_ids), 3)
        self.assertIn("Condition added on step", flow.version_ids[0].summary)
        self.assertEqual(flow.version_ids[0].user_id, self.env.user)

    @users("user_flows_admin")
    def test_pause_stops_execution_and_resume_keeps_the_schedule(self):
        flow = self.three_step_flow()
        early, late = self.make_partners(2)
        with self.at(T0):
            flow._enroll(early.ids)
            self.run_scheduler()
            flow.action_pause()
        waiting = self.pending(flow)
        self.assertEqual(waiting.scheduled_date, T0 + timedelta(days=1))
        with self.at(T0 + timedelta(days=1, hours=1)):
            flow._enroll(late.ids)  # events still enrol while paused: the run waits
            self.assertEqual(self.Job._count_due(), 0, "paused jobs are not due for the scheduler")
            self.assertEqual(self.run_scheduler(), 0)
            self.assertTags(early, absent=[self.tag_b])
            self.assertTags(late, absent=[self.tag_a])
            self.assertEqual(len(self.pending(flow)), 2)
        with self.at(T0 + timedelta(days=2)):
            flow.action_resume()
            self.assertEqual(waiting.scheduled_date, T0 + timedelta(days=1), "resume keeps every date")
            self.run_scheduler()
        self.assertTags(early, present=[self.tag_b])
        self.assertTags(late, present=[self.tag_a])
        self.assertIn("Resumed", flow.message_ids[0].body)

    @users("user_flows_admin")
    def test_the_database_refuses_negative_delays_repeats_waits_and_offsets(self):
        """Every number of a step that cannot be negative is guarded by the database, whatever the form sends."""
        step = self.three_step_flow().step_ids[1]
        for values in ({"delay_value": -1}, {"repeat_interval": -1}, {"repeat_max": -1}, {"wait_max_days": -1},
                       {"relative_value": -1}):
            with self.subTest(values=values), mute_logger("odoo.sql_db"), \
                    self.assertRaises(psycopg2.errors.CheckViolation), self.env.cr.savepoint():
                step.write(values)
                step.flush_recordset()
