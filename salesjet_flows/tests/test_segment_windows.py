"""A launch reads its segment window by window of contacts, in the order of their ids: every contact of the
segment once, whatever the windows' edges, inline and in the background, and a sparse segment's batches stay
bounded."""
from unittest.mock import patch

from odoo.tests import users

from odoo.addons.salesjet_flows.models import salesjet_flow

from .common import T0, SalesjetCase


class TestSegmentWindows(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("salesjet_flows.launch_inline_max", "5")
        cls.vip = cls.env["res.partner.category"].create({"name": "SJ window VIP"})
        # the segment's contacts among others, in id order: gaps of every width between them
        everyone = cls.make_partners(40, prefix="SJ window", city="Windowville")
        picked = [0, 1, 2, 7, 8, 15, 16, 17, 18, 19, 20, 33, 39]
        cls.segment = everyone.browse([everyone[i].id for i in picked])
        cls.segment.category_id = cls.vip
        # matching but not to enrol: archived, or of a company the flow's may not see
        cls.archived = everyone[3]
        cls.archived.write({"category_id": [(4, cls.vip.id)], "active": False})
        other = cls.env["res.company"].create({"name": "SJ window company"})
        cls.foreign = everyone[4]
        cls.foreign.write({"category_id": [(4, cls.vip.id)], "company_id": other.id})
        cls.domain = f"[('category_id', 'in', [{cls.vip.id}]), ('city', '=', 'Windowville')]"
        cls.Launch = cls.env["salesjet.segment.launch"]

    def make_segment_flow(self):
        return self.make_flow([self.tag_step(self.tag_a)],
                              triggers=[{"trigger_type": "segment", "partner_domain": self.domain}])

    def windows(self, window, windows_per_batch=20, batch=10000):
        return patch.multiple(salesjet_flow, LAUNCH_WINDOW=window, LAUNCH_WINDOWS_PER_BATCH=windows_per_batch,
                              LAUNCH_BATCH_SIZE=batch)

    def test_every_contact_of_the_segment_is_enrolled_once_whatever_the_windows_and_batches(self):
        for window, batch in ((1, 10000), (3, 2), (4, 5), (7, 13), (50, 4), (10000, 10000)):
            with self.subTest(window=window, batch=batch):
                flow = self.make_segment_flow()
                with self.at(T0), self.windows(window, batch=batch):
                    self.assertEqual(flow._launch_segment(flow.trigger_ids), 13)
                self.assertEqual(flow.enrollment_ids.partner_id, self.segment)
                self.assertEqual(len(flow.enrollment_ids), 13)
                self.assertEqual(len(self.jobs_of(flow)), 13)

    def test_a_batch_takes_at_most_its_limit_and_the_next_goes_on_after_its_last_contact(self):
        flow = self.make_segment_flow()
        with self.at(T0), self.windows(10):
            before = self.segment[0].id - 1
            read, enrolled, last, exhausted = flow._launch_segment_batch(flow.trigger_ids, before, 4)
            self.assertEqual((read, enrolled, last, exhausted), (4, 4, self.segment[3].id, False))
            # the next batch starts inside the window the first one cut
            read, enrolled, last, exhausted = flow._launch_segment_batch(flow.trigger_ids, last, 100)
            self.assertEqual((read, enrolled, exhausted), (9, 9, True))
            self.assertGreaterEqual(last, self.segment[-1].id, "the last contact read, of the segment or not")
        self.assertEqual(flow.enrollment_ids.partner_id, self.segment)

    def test_a_sparse_segment_batch_reads_a_bounded_number_of_windows_and_is_not_taken_for_the_end(self):
        flow = self.make_segment_flow()
        start = self.segment[10].id  # contact 20 of 40: the next of the segment is contact 33
        with self.at(T0), self.windows(3, windows_per_batch=2):
            read, enrolled, last, exhausted = flow._launch_segment_batch(flow.trigger_ids, start, 100)
            self.assertEqual((read, enrolled, exhausted), (0, 0, False), "six contacts read, none of the segment")
            self.assertGreater(last, start, "the next batch goes on after the windows read")
            total = enrolled
            while not exhausted:
                _read, enrolled, last, exhausted = flow._launch_segment_batch(flow.trigger_ids, last, 100)
                total += enrolled
        self.assertEqual(total, 2)
        self.assertEqual(flow.enrollment_ids.partner_id, self.segment[-2:])

    @users("user_flows_admin")
    def test_a_background_launch_enrols_the_whole_segment_window_by_window(self):
        """Launched by a Flows administrator; the scheduled action runs with the flow read whether archived
        or not: archived contacts still stay out."""
        flow = self.make_segment_flow().with_env(self.env)
        wizard = self.env["salesjet.flow.launch"].create({"flow_id": flow.id, "trigger_id": flow.trigger_ids.id})
        self.assertEqual(wizard.contact_count, 13)
        with self.at(T0):
            wizard.action_launch()
            launch = self.Launch.sudo().search([("flow_id", "=", flow.id)])
            self.assertEqual(launch.state, "queued")
            batches = 0
            # the launch reads every contact of the database, eight a batch
            bound = self.env["res.partner"].sudo().with_context(active_test=False).search_count([]) // 8 + 20
            with self.windows(4, windows_per_batch=2, batch=3):
                while launch.state == "queued" and batches < bound:
                    self.Launch.sudo()._cron_launch_segments()
                    batches += 1
        self.assertRecordValues(launch, [{"state": "done", "enrolled_count": 13}])
        # windows of 4 contacts, two per batch, at most 3 contacts a batch: more batches than the 13 / 3 a
        # dense segment would take, and no batch ended the launch early
        self.assertGreater(batches, 5)
        enrolled = flow.sudo().enrollment_ids.partner_id
        self.assertEqual(enrolled, self.segment)
        self.assertNotIn(self.archived, enrolled)
        self.assertNotIn(self.foreign, enrolled)
        self.assertIn("Launched for 13 contacts", flow.sudo().message_ids[0].body)
