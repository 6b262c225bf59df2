"""The inbound API's batch endpoint: many events in one request, each answered on its own, stored and
dispatched set-based with what posting them one by one would give."""
import json
from unittest.mock import patch

from odoo.exceptions import AccessError
from odoo.tests import tagged, users

from ..controllers.api import API_BATCH_MAX_EVENTS
from ..models.salesjet_event import SalesjetEvent
from .common import SalesjetCase
from .sources_common import SalesjetHttpCase

URL = "/salesjet/api/v1/events"
BATCH_URL = "/salesjet/api/v1/events/batch"


@tagged("post_install", "-at_install")
class TestInboundApiBatch(SalesjetHttpCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api_user = cls.env["res.users"].create({
            "name": "Batch connector", "login": "sj_batch_connector",
            "groups_id": [(6, 0, [cls.env.ref("salesjet_flows.group_salesjet_user").id])]})
        cls.key = cls.env["res.users.apikeys"].with_user(cls.api_user).sudo()._generate(None, "shop", None)
        cls.plain_user = cls.env["res.users"].create({
            "name": "Batch rep", "login": "sj_batch_rep", "groups_id": [(6, 0, [cls.env.ref("base.group_user").id])]})
        cls.plain_key = cls.env["res.users.apikeys"].with_user(cls.plain_user).sudo()._generate(None, "rep", None)
        cls.flow = cls.make_flow([cls.tag_step(cls.tag_a)], triggers=[{"trigger_type": "api",
                                                                       "event_code": "order_paid"}],
                                 reentry_policy="always")

    def batch(self, events=None, key=None, raw=None):
        payload = None if raw is not None else {"events": events}
        return self.post_json(BATCH_URL, payload, raw=raw, headers={"Authorization": f"Bearer {key or self.key}"})

    def counts(self):
        self.env.invalidate_all()
        return (self.env["salesjet.event"].search_count([]), self.env["res.partner"].search_count([]),
                self.env["salesjet.flow.enrollment"].search_count([]))

    def test_each_event_is_stored_and_answered_in_order_and_starts_its_run(self):
        partner = self.make_partners(1)
        response = self.batch([
            {"code": "order_paid", "email": "Buyer@Example.com", "name": "Buyer", "data": {"order": "S1"},
             "external_id": "order-S1"},
            {"code": "order_paid", "partner_id": partner.id, "data": {"order": "S2"}},
            {"code": "order_paid", "phone": "+32 470 11 22 33", "data": {"order": "S3"}},
        ])
        self.assertEqual(response.status_code, 200, response.text)
        body = response.json()
        self.assertEqual([result["status"] for result in body["results"]], [201, 201, 201])
        self.assertEqual((body["created"], body["replayed"], body["rejected"]), (3, 0, 0))
        events = self.env["salesjet.event"].browse([result["id"] for result in body["results"]])
        self.assertEqual(events.mapped("data"), [{"order": "S1"}, {"order": "S2"}, {"order": "S3"}])
        self.assertEqual(events[0].partner_id.email, "buyer@example.com")
        self.assertEqual(events[1].partner_id, partner)
        self.assertEqual(events[2].partner_id.phone_sanitized, "+32470112233")
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(events.create_uid, self.api_user)
        # each run carries its own event and data (placeholders read them)
        runs = self.flow.enrollment_ids
        self.assertEqual(len(runs), 3)
        for event in events:
            run = runs.filtered(lambda r, event=event: r.event_id == event)
            self.assertEqual(run.partner_id, event.partner_id)
            self.assertEqual(run.data, event.data)
            self.assertEqual(len(run.job_ids), 1, "the run's first step is scheduled")

    def test_external_ids_received_before_or_repeated_in_the_batch_answer_200_with_their_event(self):
        first = self.post_json(URL, {"code": "order_paid", "email": "a@example.com", "external_id": "order-1"},
                               headers={"Authorization": f"Bearer {self.key}"})
        self.assertEqual(first.status_code, 201)
        response = self.batch([
            {"code": "order_paid", "email": "a@example.com", "external_id": "order-1"},
            {"code": "order_paid", "email": "b@example.com", "external_id": "order-2"},
            {"code": "order_paid", "email": "b@example.com", "external_id": "order-2"},
        ])
        results = response.json()["results"]
        self.assertEqual([result["status"] for result in results], [200, 201, 200])
        self.assertEqual([result["replayed"] for result in results], [True, False, True])
        self.assertEqual(results[0]["id"], first.json()["id"])
        self.assertEqual(results[2]["id"], results[1]["id"])
        self.assertEqual(self.flow.enrollment_count, 2, "one run per event received, replays start none")
        again = self.batch([{"code": "order_paid", "email": "b@example.com", "external_id": "order-2"}])
        self.assertEqual(again.json()["results"][0], {"status": 200, "id": results[1]["id"], "state": "done",
                                                      "replayed": True})

    def test_invalid_events_are_refused_one_by_one_and_the_others_stored(self):
        events, partners, runs = self.counts()
        response = self.batch([
            {"code": "order_paid", "email": "ok1@example.com"},
            "not an object",
            {"code": "has spaces", "email": "x@example.com"},
            {"code": "order_paid"},
            {"code": "order_paid", "partner_id": 999999999},
            {"code": "order_paid", "email": "not-an-email"},
            {"code": "order_paid", "email": "x@example.com", "data": [1]},
            {"code": "order_paid", "email": "big@example.com", "data": {"blob": "x" * 70000}},
            {"code": "order_paid", "email": "ok2@example.com"},
        ])
        self.assertEqual(response.status_code, 200, response.text)
        body = response.json()
        self.assertEqual([result["status"] for result in body["results"]],
                         [201, 400, 400, 400, 400, 400, 400, 413, 201])
        for result, fragment in zip(body["results"][1:8], ("JSON object", "code", "Give the contact",
                                                           "Unknown partner_id", "not a valid email", "data",
                                                           "exceeds"), strict=True):
            self.assertIn(fragment, result["error"])
            self.assertNotIn("id", result)
        self.assertEqual((body["created"], body["replayed"], body["rejected"]), (2, 0, 7))
        self.assertEqual(self.counts(), (events + 2, partners + 2, runs + 2), "only the two valid events and contacts")

    def test_a_bad_envelope_or_key_refuses_the_whole_request(self):
        before = self.counts()
        ok = {"code": "order_paid", "email": "x@example.com"}
        for label, response, status, fragment in (
            ("not JSON", self.batch(raw=b"{oops"), 400, "Malformed"),
            ("a list", self.batch(raw=json.dumps([ok]).encode()), 400, "Malformed"),
            ("no events", self.batch(raw=b'{"event": []}'), 400, "events"),
            ("events not a list", self.batch(raw=json.dumps({"events": ok}).encode()), 400, "events"),
            ("no event", self.batch([]), 400, "events"),
            ("NUL in an event", self.batch([{**ok, "data": {"k": "a\u0000b"}}]), 400, "NUL"),
            ("too many", self.batch([ok] * (API_BATCH_MAX_EVENTS + 1)), 413, "At most"),
            ("bad key", self.batch([ok], key="not-a-key"), 401, "Invalid API key"),
            ("not a Flows user", self.batch([ok], key=self.plain_key), 403, "may not post"),
        ):
            with self.subTest(label):
                self.assertEqual(response.status_code, status, response.text)
                self.assertIn(fragment, response.json()["error"])
        no_key = self.post_json(BATCH_URL, {"events": [ok]})
        self.assertEqual(no_key.status_code, 401)
        self.assertEqual(self.counts(), before, "nothing stored")

    def test_a_full_batch_is_answered_event_by_event(self):
        events = [{"code": "order_paid", "email": f"full.{i}@example.com", "external_id": f"full-{i}"}
                  for i in range(API_BATCH_MAX_EVENTS)]
        response = self.batch(events)
        self.assertEqual(response.status_code, 200, response.text[:300])
        results = response.json()["results"]
        self.assertEqual(len(results), API_BATCH_MAX_EVENTS)
        self.assertEqual({result["status"] for result in results}, {201})
        stored = self.env["salesjet.event"].browse([result["id"] for result in results])
        self.assertEqual(stored.mapped("external_id"), [event["external_id"] for event in events], "in order")
        self.assertEqual(self.flow.enrollment_count, API_BATCH_MAX_EVENTS)


@tagged("post_install", "-at_install")
class TestEventBatchDispatch(SalesjetCase):
    """``salesjet.event._post_api_batch``, as the batch endpoint calls it: the same runs as one ``post``
    per event, in a bounded number of queries."""

    def post_one_by_one_and_batched(self, flow_vals, partners):
        """Post an event per contact of ``partners`` (in that order, repeats included) to a new flow
        one by one, and to an identical flow as one batch; return the two flows."""
        flows = [self.make_flow([self.tag_step(self.tag_a)], triggers=[{"trigger_type": "api", "event_code": code}],
                                **flow_vals) for code in ("sj_one", "sj_batch")]
        Event = self.env["salesjet.event"]
        for partner in partners:
            Event.post("sj_one", partner, data={"partner": partner.id})
        Event._post_api_batch([{"code": "sj_batch", "partner": partner, "data": {"partner": partner.id}}
                               for partner in partners])
        return flows

    def runs(self, flow):
        return sorted((run.partner_id.id, run.state, run.data["partner"]) for run in flow.enrollment_ids)

    def test_reentry_policies_hold_inside_a_batch_as_across_events(self):
        a, b = self.make_partners(2)
        for policy, expected in (("always", 3), ("no_active", 2), ("once", 2)):
            with self.subTest(policy):
                one, batched = self.post_one_by_one_and_batched({"reentry_policy": policy}, [a, b, a])
                self.assertEqual(len(one.enrollment_ids), expected)
                self.assertEqual(self.runs(batched), self.runs(one))

    def test_a_triggers_contact_filter_keeps_the_same_contacts_out(self):
        vip, other = self.make_partners(2)
        vip.category_id = self.tag_b
        flows = [self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always", triggers=[{
            "trigger_type": "api", "event_code": code,
            "partner_domain": repr([("category_id", "in", self.tag_b.ids)])}])
            for code in ("sj_one", "sj_batch")]
        Event = self.env["salesjet.event"]
        for partner in vip | other:
            Event.post("sj_one", partner)
        Event._post_api_batch([{"code": "sj_batch", "partner": partner} for partner in vip | other])
        self.assertEqual(flows[0].enrollment_ids.partner_id, vip)
        self.assertEqual(flows[1].enrollment_ids.partner_id, vip)

    def test_a_batch_takes_a_bounded_number_of_queries(self):
        flows = [self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always",
                                triggers=[{"trigger_type": "api", "event_code": f"sj_q{i}"}]) for i in range(2)]
        partners = self.make_partners(120)
        Event = self.env["salesjet.event"]

        def queries(count):
            items = [{"code": f"sj_q{i % 2}", "partner": partner, "external_id": f"q-{count}-{i}"}
                     for i, partner in enumerate(partners[:count])]
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            Event._post_api_batch(items)
            self.env.flush_all()
            return self.env.cr.sql_log_count - before

        queries(2)  # caches (triggers, flows) filled
        few, many = queries(10), queries(100)
        self.assertLessEqual(many, few + 5, f"10 events: {few} queries, 100 events: {many}")
        self.assertEqual(sum(flow.enrollment_count for flow in flows), 112)

    def test_a_failing_grouped_dispatch_is_undone_and_each_event_dispatched_on_its_own(self):
        flow = self.make_flow([self.tag_step(self.tag_a)], reentry_policy="always",
                              triggers=[{"trigger_type": "api", "event_code": "sj_fallback"}])
        partners = self.make_partners(3)
        grouped = SalesjetEvent._dispatch_grouped

        def grouped_then_fail(events):
            grouped(events)  # the runs and jobs are written, then something fails
            raise RuntimeError("grouped path broken")

        with patch.object(SalesjetEvent, "_dispatch_grouped", grouped_then_fail):
            posted = self.env["salesjet.event"]._post_api_batch(
                [{"code": "sj_fallback", "partner": partner} for partner in partners])
        events = self.env["salesjet.event"].union(*(event for event, _replayed in posted))
        self.assertEqual(set(events.mapped("state")), {"done"})
        self.assertEqual(sorted(flow.enrollment_ids.partner_id.ids), sorted(partners.ids))
        self.assertEqual(len(flow.enrollment_ids), 3, "one run per event: the grouped one was rolled back")
        self.assertEqual(len(flow.enrollment_ids.job_ids), 3)

    @users("user_sales")
    def test_only_flows_users_post_batches(self):
        partner = self.env["res.partner"].create({"name": "SJ batch rights"})
        with self.assertRaises(AccessError):
            self.env["salesjet.event"]._post_api_batch([{"code": "sj_test", "partner": partner}])

    @users("user_flows")
    def test_a_flows_user_posts_a_batch_as_the_api_does(self):
        partner = self.env["res.partner"].sudo().create({"name": "SJ batch poster"}).with_env(self.env)
        (event, replayed), = self.env["salesjet.event"]._post_api_batch(
            [{"code": "sj_test", "partner": partner, "external_id": "rights-1"}])
        self.assertFalse(replayed)
        self.assertEqual(event.create_uid, self.user_flows)
        self.assertEqual(event.kind, "api")
