from contextlib import contextmanager
from datetime import datetime

from freezegun import freeze_time

from odoo.tests import TransactionCase

T0 = datetime(2026, 3, 2, 9, 0, 0)  # a Monday morning


class SalesjetCase(TransactionCase):
    """Base class: factories for flows, steps and contacts, and a scheduler driver."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        # keep the demo flows (and any other) out of the way of these tests
        cls.env["salesjet.flow"].search([]).action_archive()
        Tag = cls.env["res.partner.category"]
        cls.tag_a = Tag.create({"name": "SJ test A"})
        cls.tag_b = Tag.create({"name": "SJ test B"})
        cls.tag_c = Tag.create({"name": "SJ test C"})
        cls.Job = cls.env["salesjet.flow.job"]
        cls.Event = cls.env["salesjet.event"]

    # -- factories ---------------------------------------------------------

    @classmethod
    def make_partners(cls, count, prefix="SJ contact", **vals):
        return cls.env["res.partner"].create([
            {"name": f"{prefix} {i}", "email": f"{prefix.replace(' ', '.').lower()}.{i}@example.com", **vals}
            for i in range(count)
        ])

    @classmethod
    def make_flow(cls, steps, triggers=None, **vals):
        """Create a flow; ``steps`` is a list of step value dicts, in order."""
        flow = cls.env["salesjet.flow"].create({"name": "Test flow", **vals})
        cls.env["salesjet.flow.step"].create([
            {"flow_id": flow.id, "sequence": (index + 1) * 10, **step} for index, step in enumerate(steps)
        ])
        for trigger in triggers or [{"trigger_type": "api", "event_code": "sj_test"}]:
            cls.env["salesjet.flow.trigger"].create({"flow_id": flow.id, **trigger})
        return flow

    @staticmethod
    def tag_step(tags, action="add_tag", **vals):
        return {"action_type": action, "tag_ids": [(6, 0, tags.ids)], **vals}

    # -- driving time and the scheduler -------------------------------------

    @contextmanager
    def at(self, when):
        with freeze_time(when):
            yield

    def run_scheduler(self, max_batches=1000):
        """Run due jobs batch by batch, as the cron does, until none is due."""
        total = 0
        for _i in range(max_batches):
            count = self.Job._process_due_batch()
            if not count:
                return total
            total += count
        raise AssertionError("the scheduler did not drain the due jobs")

    def jobs_of(self, flow, partner=None):
        domain = [("flow_id", "=", flow.id)]
        if partner:
            domain.append(("partner_id", "=", partner.id))
        return self.Job.search(domain, order="id")

    def assertTags(self, partner, present=(), absent=()):
        partner.invalidate_recordset(["category_id"])
        for tag in present:
            self.assertIn(tag, partner.category_id, f"{partner.name} should have tag {tag.name}")
        for tag in absent:
            self.assertNotIn(tag, partner.category_id, f"{partner.name} should not have tag {tag.name}")
