from odoo.tests import tagged

from .sources_common import SalesjetHttpCase

URL = "/salesjet/api/v1/events"


@tagged("post_install", "-at_install")
class TestInboundApi(SalesjetHttpCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api_user = cls.env["res.users"].create({
            "name": "Shop connector", "login": "sj_connector",
            "groups_id": [(6, 0, [cls.env.ref("salesjet_flows.group_salesjet_user").id])]})
        cls.key = cls.env["res.users.apikeys"].with_user(cls.api_user).sudo()._generate(None, "shop", None)
        cls.plain_user = cls.env["res.users"].create({
            "name": "Sales rep", "login": "sj_rep", "groups_id": [(6, 0, [cls.env.ref("base.group_user").id])]})
        cls.plain_key = cls.env["res.users.apikeys"].with_user(cls.plain_user).sudo()._generate(None, "rep", None)
        cls.flow = cls.make_flow([cls.tag_step(cls.tag_a)], triggers=[{"trigger_type": "api",
                                                                       "event_code": "order_paid"}],
                                 reentry_policy="always")

    def call(self, payload=None, key=None, raw=None):
        return self.post_json(URL, payload, raw=raw, headers={"Authorization": f"Bearer {key or self.key}"})

    def test_event_is_stored_with_201_and_starts_the_flow(self):
        response = self.call({"code": "order_paid", "email": "Buyer@Example.com", "name": "Buyer",
                              "data": {"order": "S042", "amount": 99.5}, "external_id": "order-S042"})
        self.assertEqual(response.status_code, 201, response.text)
        event = self.env["salesjet.event"].browse(response.json()["id"])
        self.assertEqual(event.code, "order_paid")
        self.assertEqual(event.data, {"order": "S042", "amount": 99.5})
        self.assertEqual(event.partner_id.email, "buyer@example.com")
        self.assertEqual(event.create_uid, self.api_user)
        self.assertEqual(self.flow.enrollment_ids.partner_id, event.partner_id)

    def test_replayed_external_id_answers_200_with_the_same_event(self):
        payload = {"code": "order_paid", "email": "buyer@example.com", "external_id": "order-7"}
        first = self.call(payload)
        again = self.call(payload)
        self.assertEqual(first.status_code, 201)
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.json()["id"], first.json()["id"])
        self.assertTrue(again.json()["replayed"])
        self.assertEqual(self.flow.enrollment_count, 1)

    def test_contact_by_partner_id_or_by_phone(self):
        partner = self.make_partners(1)
        self.assertEqual(self.call({"code": "order_paid", "partner_id": partner.id}).status_code, 201)
        response = self.call({"code": "order_paid", "phone": "+32 470 11 22 33"})
        self.assertEqual(response.status_code, 201)
        self.assertEqual(self.env["salesjet.event"].browse(response.json()["id"]).partner_id.phone_sanitized,
                         "+32470112233")
        self.assertEqual(len(self.flow.enrollment_ids), 2)

    def test_bad_key_is_401_and_a_user_without_flow_rights_is_403(self):
        count = self.env["salesjet.event"].search_count([])
        payload = {"code": "order_paid", "email": "x@example.com"}
        self.assertEqual(self.call(payload, key="not-a-key").status_code, 401)
        self.assertEqual(self.post_json(URL, payload).status_code, 401, "no Authorization header")
        response = self.call(payload, key=self.plain_key)
        self.assertEqual(response.status_code, 403)
        self.assertIn("may not post", response.json()["error"])
        self.assertEqual(self.env["salesjet.event"].search_count([]), count, "nothing stored")

    def test_malformed_requests_are_400_and_oversized_413(self):
        count = self.env["salesjet.event"].search_count([])
        partners = self.env["res.partner"].search_count([])
        for payload, fragment in (
            ({"email": "x@example.com"}, "code"),
            ({"code": "has spaces", "email": "x@example.com"}, "code"),
            ({"code": "order_paid"}, "Give the contact"),
            ({"code": "order_paid", "email": "not-an-email"}, "not a valid email"),
            ({"code": "order_paid", "phone": "12"}, "not a valid phone"),
            ({"code": "order_paid", "email": "x@example.com", "data": [1, 2]}, "data"),
            ({"code": "order_paid", "partner_id": "7"}, "partner_id"),
            ({"code": "order_paid", "partner_id": 999999999}, "Unknown partner_id"),
        ):
            response = self.call(payload)
            self.assertEqual(response.status_code, 400, payload)
            self.assertIn(fragment, response.json()["error"])
        self.assertEqual(self.call(raw=b"{oops").status_code, 400)
        self.assertEqual(self.call(raw=b'"a string"').status_code, 400)
        big = {"code": "order_paid", "email": "x@example.com", "data": {"blob": "x" * 70000}}
        self.assertEqual(self.call(big).status_code, 413)
        self.assertEqual(self.env["salesjet.event"].search_count([]), count, "nothing half-stored")
        self.assertEqual(self.env["res.partner"].search_count([]), partners)
