"""A run records who started it and who last changed it (Odoo's ``create_uid`` and ``write_uid``), without
their foreign keys (``UserStamp``): PostgreSQL no longer checks two keys to the users for every contact a
launch or an event enrols, and deleting a user empties them as the keys' ``ON DELETE SET NULL`` did."""
from odoo.modules.migration import load_script
from odoo.tests import new_test_user
from odoo.tools import SQL

from ..models.salesjet_flow_enrollment import RUN_FILLFACTOR
from .common import T0, SalesjetCase, keyed_columns, restore_keys

USER_STAMPS = ("create_uid", "write_uid")
RUN_KEYS = ("partner_id", "event_id", "lead_id")  # its flow, company and trigger: HeldRunKey, RunTrigger


class TestRunRows(SalesjetCase):
    def keyed_columns(self):
        """The columns of the runs' table that have a foreign key."""
        return keyed_columns(self.env.cr, "salesjet_flow_enrollment")

    def stamps(self, runs):
        """{run id: (create_uid, write_uid)} as the table holds them (NULL, or a user id that may not exist)."""
        self.env.flush_all()
        self.env.cr.execute("SELECT id, create_uid, write_uid FROM salesjet_flow_enrollment WHERE id = ANY(%s)",
                            [runs.ids])
        return {row[0]: row[1:] for row in self.env.cr.fetchall()}

    def launch_as(self, user, flow):
        wizard = self.env["salesjet.flow.launch"].with_user(user).create(
            {"flow_id": flow.id, "trigger_id": flow.trigger_ids.id})
        with self.at(T0):
            wizard.action_launch()
        return flow.enrollment_ids.filtered(lambda run: run.create_uid == user)

    def test_a_runs_users_have_no_keys_and_its_other_keys_stay(self):
        self.assertFalse(self.keyed_columns() & set(USER_STAMPS))
        self.assertLessEqual(set(RUN_KEYS), self.keyed_columns())
        Run = self.env["salesjet.flow.enrollment"]
        self.assertEqual([Run._fields[name].comodel_name for name in USER_STAMPS], ["res.users", "res.users"])
        self.assertFalse(self.env["ir.model.constraint"].search(
            [("name", "in", [f"salesjet_flow_enrollment_{name}_fkey" for name in USER_STAMPS])]))

    def test_deleting_a_user_empties_their_runs_users_and_keeps_the_runs(self):
        marketer_groups = "base.group_user,base.group_partner_manager,salesjet_flows.group_salesjet_manager"
        leaving = new_test_user(self.env, login="sj_leaving", groups=marketer_groups)
        staying = new_test_user(self.env, login="sj_staying", groups=marketer_groups)
        admin = new_test_user(self.env, login="sj_settings", groups="base.group_user,base.group_system")
        self.make_partners(3, prefix="SJ row", city="Rowville")
        flows = [self.make_flow(
            [self.tag_step(self.tag_a, timing="delay", delay_value=1, delay_unit="days")],
            triggers=[{"trigger_type": "segment", "partner_domain": "[('city', '=', 'Rowville')]"}],
            name=name) for name in ("Flow of the leaving user", "Flow of the staying user")]
        left_runs = self.launch_as(leaving, flows[0])
        kept_runs = self.launch_as(staying, flows[1])
        self.assertEqual((len(left_runs), len(kept_runs)), (3, 3))
        self.assertEqual(set(self.stamps(left_runs).values()), {(leaving.id, leaving.id)})
        # the user who is leaving also changed a run of the other launch
        kept_runs[0].with_user(leaving).action_stop()
        self.assertEqual(self.stamps(kept_runs[0]), {kept_runs[0].id: (staying.id, leaving.id)})

        admin_env = self.env(user=admin)
        admin_env["res.users"].browse(leaving.id).unlink()
        self.assertFalse(leaving.exists())
        self.assertEqual(set(self.stamps(left_runs).values()), {(None, None)}, "emptied, as ON DELETE SET NULL")
        self.assertEqual(self.stamps(kept_runs[0]), {kept_runs[0].id: (staying.id, None)})
        self.assertEqual(set(self.stamps(kept_runs[1:]).values()), {(staying.id, staying.id)})
        # the runs stay, and a Flows user reads them, with and without their users
        reader = self.env(user=self.user_flows)["salesjet.flow.enrollment"]
        rows = reader.browse((left_runs | kept_runs).ids).read(["create_uid", "write_uid", "state"])
        self.assertEqual(len(rows), 6)
        by_id = {row["id"]: row for row in rows}
        self.assertEqual({(by_id[run.id]["create_uid"], by_id[run.id]["write_uid"]) for run in left_runs},
                         {(False, False)})
        self.assertEqual(by_id[kept_runs[0].id]["create_uid"][0], staying.id)
        self.assertEqual(by_id[kept_runs[0].id]["state"], "stopped")

    def test_the_update_drops_the_keys_of_the_runs_users(self):
        flow = self.make_flow([self.tag_step(self.tag_a)])
        partner = self.make_partners(1, prefix="SJ row")
        self.Event.sudo().post("sj_test", partner)
        self.env.flush_all()
        # a database of 1.6.0: the keys Odoo created for them, and what it reflected of them
        names = restore_keys(self.env, "salesjet_flow_enrollment", "salesjet.flow.enrollment", {
            column: SQL("REFERENCES res_users(id) ON DELETE SET NULL") for column in USER_STAMPS})
        Constraint = self.env["ir.model.constraint"]
        self.assertLessEqual(set(USER_STAMPS), self.keyed_columns())
        migration = load_script("salesjet_flows/migrations/18.0.1.7.0/post-run_user_stamps.py", "sj_run_users_mig")
        migration.migrate(self.env.cr, "18.0.1.6.0")
        self.assertFalse(self.keyed_columns() & set(USER_STAMPS))
        self.assertLessEqual(set(RUN_KEYS), self.keyed_columns(), "the run's other keys stay")
        self.env.invalidate_all()
        self.assertFalse(Constraint.search([("name", "in", names)]))
        self.assertTrue(Constraint.search([("name", "=", "salesjet_flow_enrollment_partner_id_fkey")]))
        run = self.jobs_of(flow, partner).enrollment_id
        self.assertEqual(self.stamps(run), {run.id: (self.env.uid, self.env.uid)}, "the runs and their users stay")
        migration.migrate(self.env.cr, "18.0.1.7.0")  # run again (or on a database already without them)

    def hot_counts(self):
        """(updates, heap-only updates) of the runs' table in this transaction."""
        self.env.flush_all()
        self.env.cr.execute("""
            SELECT pg_stat_get_xact_tuples_updated(c.oid), pg_stat_get_xact_tuples_hot_updated(c.oid)
              FROM pg_class c WHERE c.oid = 'salesjet_flow_enrollment'::regclass""")
        return self.env.cr.fetchone()

    def test_ending_runs_writes_them_on_their_own_pages(self):
        """Part of each page of runs is left free (RUN_FILLFACTOR): a batch that ends its runs writes each one's
        new version beside the old one, without new index entries (a heap-only update), unless the re-entry
        key, which has an index, changes with it ("only when no run is active"). On full pages, as before,
        most of them moved to another page."""
        self.env.cr.execute("SELECT reloptions FROM pg_class WHERE oid = 'salesjet_flow_enrollment'::regclass")
        self.assertIn(f"fillfactor={RUN_FILLFACTOR}", self.env.cr.fetchone()[0])
        marketer = new_test_user(self.env, login="sj_pages", groups=(
            "base.group_user,base.group_partner_manager,salesjet_flows.group_salesjet_manager"))
        count = 150  # several pages of runs, full or not
        self.make_partners(count, prefix="SJ page", city="Pageville")
        segment = [{"trigger_type": "segment", "partner_domain": "[('city', '=', 'Pageville')]"}]
        for policy, fillfactor in (("once", None), ("always", None), ("no_active", None), ("once", 100)):
            with self.subTest(policy=policy, fillfactor=fillfactor):
                if fillfactor:  # the table as it was: full pages (rolled back with the test)
                    self.env.cr.execute(f"ALTER TABLE salesjet_flow_enrollment SET (fillfactor = {fillfactor})")
                flow = self.make_flow([self.tag_step(self.tag_a)], triggers=segment, reentry_policy=policy,
                                      name=f"Pages {policy} {fillfactor}")
                runs = self.launch_as(marketer, flow)
                self.assertEqual(len(runs), count)
                updated, hot = self.hot_counts()
                with self.at(T0):
                    self.run_scheduler()
                updated_after, hot_after = self.hot_counts()
                self.assertEqual(set(runs.mapped("state")), {"done"})
                self.assertEqual(self.stamps(runs), {run.id: (marketer.id, self.env.uid) for run in runs})
                self.assertEqual(updated_after - updated, count, "one update a run: its end")
                heap_only = hot_after - hot
                if fillfactor:
                    self.assertLess(heap_only, count / 2)
                elif policy == "no_active":
                    self.assertEqual(heap_only, 0)
                else:
                    # the rows that rolled-back transactions of earlier tests left can take a little room
                    self.assertGreaterEqual(heap_only, count * 0.9)
