"""Hostile input on every public endpoint, and visitor markup escaped wherever it goes.

Each refused request must get a 4xx with a short answer (never a traceback) and leave
no event, contact, lead or answer behind.
"""
import base64
import hashlib
import hmac
import json
import unicodedata
from contextlib import contextmanager

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from odoo import http
from odoo.exceptions import UserError
from odoo.tests import tagged

from ..controllers import common as controllers_common
from .common import T0, SalesjetCase
from .sources_common import SalesjetHttpCase

SECRET = "hostile-app-secret"
HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>'; DROP TABLE res_partner; --"


@tagged("post_install", "-at_install")
class TestHostileEndpoints(SalesjetHttpCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api_user = cls.env["res.users"].create({
            "name": "SJ hostile connector", "login": "sj_hostile_connector",
            "groups_id": [(6, 0, [cls.env.ref("salesjet_flows.group_salesjet_user").id])]})
        cls.key = cls.env["res.users.apikeys"].with_user(cls.api_user).sudo()._generate(None, "k", None)
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param("salesjet_flows.facebook_verify_token", "verify-me")
        params.set_param("salesjet_flows.facebook_app_secret", SECRET)
        cls.fb_form = cls.env["salesjet.facebook.form"].create({
            "name": "SJ hostile form", "page_id": "9001", "form_id": "9002", "access_token": "t"})
        cls.make_flow([cls.tag_step(cls.tag_a)], triggers=[
            {"trigger_type": "api", "event_code": "sj_hostile"},
            {"trigger_type": "facebook_lead", "facebook_form_id": cls.fb_form.id},
            {"trigger_type": "page_leave", "page_path": "/sj-offer"},
        ], reentry_policy="always")
        cls.download = cls.env["salesjet.download"].create({
            "name": "SJ guide", "file": base64.b64encode(b"%PDF-1.4 guide"), "file_name": "guide.pdf"})

    def setUp(self):
        super().setUp()
        controllers_common._rate_counters.clear()  # this test's calls are not a flood

    def counts(self):
        self.env.invalidate_all()
        return {model: self.env[model].sudo().with_context(active_test=False).search_count([])
                for model in ("salesjet.event", "res.partner", "crm.lead", "salesjet.chain.answer",
                              "salesjet.flow.enrollment")}

    def assertRefused(self, response, statuses, label):
        self.assertIn(response.status_code, statuses, f"{label}: {response.text[:300]}")
        self.assertNotIn("Traceback", response.text, label)
        self.assertNotIn("psycopg2", response.text, label)
        self.assertLess(len(response.text), 400, f"{label}: a short answer")

    def fb_post(self, raw, signature=None):
        sig = signature if signature is not None else \
            "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        return self.opener.post(f"{self.base_url()}/salesjet/facebook/webhook", data=raw, timeout=30,
                                headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig})

    def api_post(self, raw, auth=None):
        return self.opener.post(f"{self.base_url()}/salesjet/api/v1/events", data=raw, timeout=30, headers={
            "Content-Type": "application/json", "Authorization": auth if auth is not None else f"Bearer {self.key}"})

    def test_api_refuses_hostile_requests_and_stores_nothing(self):
        before = self.counts()
        ok = {"code": "sj_hostile", "email": "hostile@example.com"}
        cases = [
            ("no key", json.dumps(ok).encode(), "", (401,)),
            ("wrong key", json.dumps(ok).encode(), "Bearer not-a-key", (401,)),
            ("SQL in the key", json.dumps(ok).encode(), "Bearer ' OR '1'='1", (401,)),
            ("malformed JSON", b'{"code": "sj_hostile", ', None, (400,)),
            ("not UTF-8", b'{"code": "\xff\xfe"}', None, (400,)),
            ("a JSON list", b"[1, 2]", None, (400,)),
            ("oversized", json.dumps({**ok, "data": {"x": "y" * 70000}}).encode(), None, (413,)),
            ("SQL in the code", json.dumps({**ok, "code": "x'; DROP TABLE salesjet_event; --"}).encode(), None, (400,)),
            ("markup in the code", json.dumps({**ok, "code": "<script>"}).encode(), None, (400,)),
            ("data not an object", json.dumps({**ok, "data": "<b>"}).encode(), None, (400,)),
            ("partner id as SQL", json.dumps({"code": "sj_hostile", "partner_id": "1 OR 1=1"}).encode(), None, (400,)),
            ("partner id of nobody", json.dumps({"code": "sj_hostile", "partner_id": 2 ** 31 - 1}).encode(), None,
             (400,)),
            ("markup as email", json.dumps({"code": "sj_hostile", "email": HOSTILE}).encode(), None, (400,)),
            ("huge name", json.dumps({**ok, "name": "n" * 5000}).encode(), None, (400,)),
            ("external id too long", json.dumps({**ok, "external_id": "e" * 500}).encode(), None, (400,)),
            ("no contact", json.dumps({"code": "sj_hostile", "data": {}}).encode(), None, (400,)),
        ]
        for label, raw, auth, statuses in cases:
            with self.subTest(label):
                self.assertRefused(self.api_post(raw, auth), statuses, label)
        self.assertEqual(self.counts(), before, "nothing half-stored")

    def test_api_batch_refuses_each_hostile_event_and_stores_none_of_them(self):
        before = self.counts()
        ok = {"code": "sj_hostile", "email": "hostile@example.com"}
        cases = [
            ("oversized", {**ok, "data": {"x": "y" * 70000}}, 413),
            ("SQL in the code", {**ok, "code": "x'; DROP TABLE salesjet_event; --"}, 400),
            ("markup in the code", {**ok, "code": "<script>"}, 400),
            ("data not an object", {**ok, "data": "<b>"}, 400),
            ("partner id as SQL", {"code": "sj_hostile", "partner_id": "1 OR 1=1"}, 400),
            ("partner id of nobody", {"code": "sj_hostile", "partner_id": 2 ** 31 - 1}, 400),
            ("partner id too large for the database", {"code": "sj_hostile", "partner_id": 2 ** 63}, 400),
            ("markup as email", {"code": "sj_hostile", "email": HOSTILE}, 400),
            ("huge name", {**ok, "name": "n" * 5000}, 400),
            ("external id too long", {**ok, "external_id": "e" * 500}, 400),
            ("external id not text", {**ok, "external_id": {"$ne": None}}, 400),
            ("no contact", {"code": "sj_hostile", "data": {}}, 400),
            ("a list", [ok], 400),
            ("a number", 7, 400),
        ]
        response = self.opener.post(f"{self.base_url()}/salesjet/api/v1/events/batch", timeout=30,
                                    data=json.dumps({"events": [event for _label, event, _status in cases]}).encode(),
                                    headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"})
        self.assertEqual(response.status_code, 200, response.text[:300])
        self.assertNotIn("Traceback", response.text)
        for (label, _event, status), result in zip(cases, response.json()["results"], strict=True):
            with self.subTest(label):
                self.assertEqual(result["status"], status, result)
                self.assertLess(len(result["error"]), 200, "a short answer")
                self.assertNotIn("psycopg2", result["error"])
        self.assertEqual(self.counts(), before, "nothing half-stored")
        for label, auth in (("no key", ""), ("wrong key", "Bearer not-a-key"),
                            ("SQL in the key", "Bearer ' OR '1'='1")):
            with self.subTest(label):
                response = self.opener.post(f"{self.base_url()}/salesjet/api/v1/events/batch", timeout=30,
                                            data=json.dumps({"events": [ok]}).encode(),
                                            headers={"Content-Type": "application/json", "Authorization": auth})
                self.assertRefused(response, (401,), label)
        self.assertEqual(self.counts(), before)

    def test_api_stores_markup_and_sql_as_plain_data_and_ignores_unknown_fields(self):
        response = self.api_post(json.dumps({
            "code": "sj_hostile", "email": "plain.data@example.com", "name": HOSTILE,
            "data": {"note": HOSTILE, "nested": {"k": [1, None, True]}}, "unknown_field": "ignored",
        }).encode())
        self.assertEqual(response.status_code, 201, response.text)
        event = self.env["salesjet.event"].browse(response.json()["id"])
        self.assertEqual(event.data, {"note": HOSTILE, "nested": {"k": [1, None, True]}})
        self.assertEqual(event.partner_id.name, HOSTILE, "stored as text, not interpreted")
        self.assertTrue(self.env["res.partner"].search_count([]), "the table is still there")

    def test_api_refuses_nul_characters_with_400(self):
        before = self.counts()
        for label, payload in (("in the data", {"code": "sj_hostile", "email": "nul@example.com",
                                                "data": {"k": "a\u0000b"}}),
                               ("in a key", {"code": "sj_hostile", "email": "nul@example.com",
                                             "data": {"a\u0000": 1}}),
                               ("in the name", {"code": "sj_hostile", "email": "nul@example.com",
                                                "name": "a\u0000b"})):
            with self.subTest(label):
                self.assertRefused(self.api_post(json.dumps(payload).encode()), (400,), label)
        self.assertEqual(self.counts(), before)

    def test_facebook_webhook_refuses_unsigned_forged_and_malformed_notifications(self):
        before = self.counts()
        good = json.dumps({"object": "page", "entry": [{"id": "9001", "changes": [
            {"field": "leadgen", "value": {"leadgen_id": "777", "page_id": "9001", "form_id": "9002"}}]}]}).encode()
        cases = [
            ("no signature", good, "", (403,)),
            ("wrong signature", good, "sha256=" + "0" * 64, (403,)),
            ("signature of another body", good, "sha256=" + hmac.new(SECRET.encode(), b"{}", hashlib.sha256)
             .hexdigest(), (403,)),
            ("malformed JSON", b'{"object": ', None, (400,)),
            ("not a notification", b'{"hello": "<script>"}', None, (400,)),
            ("SQL as a lead id", json.dumps({"object": "page", "entry": [{"id": "9001", "changes": [
                {"field": "leadgen", "value": {"leadgen_id": "1; DROP TABLE x", "form_id": "9002"}}]}]}).encode(),
             None, (400,)),
            ("oversized", b'{"x": "' + b"y" * 300000 + b'"}', None, (413,)),
        ]
        for label, raw, signature, statuses in cases:
            with self.subTest(label):
                self.assertRefused(self.fb_post(raw, signature), statuses, label)
        response = self.opener.get(f"{self.base_url()}/salesjet/facebook/webhook?hub.mode=subscribe"
                                   f"&hub.verify_token=%27%20OR%201%3D1&hub.challenge=%3Cscript%3E", timeout=30)
        self.assertRefused(response, (403,), "handshake with a wrong token")
        self.assertEqual(self.counts(), before, "nothing half-stored")
        # a replayed (valid, signed) notification stores its lead once
        self.assertEqual(self.fb_post(good).status_code, 200)
        self.assertEqual(self.fb_post(good).status_code, 200)
        self.assertEqual(self.counts()["salesjet.event"], before["salesjet.event"] + 1, "a replay adds nothing")

    def test_page_left_beacon_refuses_malformed_beacons(self):
        before = self.counts()
        cases = [
            ("malformed JSON", b"{path:", (400,)),
            ("not an object", b'"/sj-offer"', (400,)),
            ("script URL as path", json.dumps({"path": "javascript:alert(1)"}).encode(), (400,)),
            ("path not a string", json.dumps({"path": {"$ne": 1}}).encode(), (400,)),
            ("oversized", json.dumps({"path": "/" + "a" * 3000}).encode(), (413,)),
        ]
        for label, raw, statuses in cases:
            with self.subTest(label):
                response = self.post_json("/salesjet/page_left", raw=raw)
                self.assertRefused(response, statuses, label)
        # an anonymous beacon with markup in the path is accepted and stores nothing
        response = self.post_json("/salesjet/page_left", {"path": "/sj-offer<script>", "url": HOSTILE})
        self.assertEqual(response.status_code, 204)
        self.assertEqual(self.counts(), before, "nothing stored")

    def test_download_and_chain_links_refuse_forged_tokens(self):
        before = self.counts()
        for token in ("nope", "' OR '1'='1", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "a" * 300,
                      self.download.token[:-1] + ("0" if self.download.token[-1] != "0" else "1")):
            with self.subTest(token=token[:20]):
                response = self.url_open(f"/salesjet/download/{token}")
                self.assertEqual(response.status_code, 404)
                self.assertNotIn("Traceback", response.text)
                self.assertNotIn(b"%PDF", response.content)
        for token, status in (("1.2.3.' OR 1=1 --", 400), ("%3Cscript%3E", 400), ("1.2.3." + "f" * 32, 403),
                              ("99999999.1.1." + "0" * 32, 403)):
            with self.subTest(token=token[:20]):
                self.assertRefused(self.url_open(f"/salesjet/chain/answer/{token}"), (status,), token)
        self.download.invalidate_recordset()
        self.assertEqual(self.download.download_count, 0, "refused links count nothing")
        self.assertEqual(self.counts(), before)

    def test_website_form_markup_is_escaped_in_the_mail_and_the_note(self):
        flow = self.make_flow([
            {"action_type": "email", "email_source": "custom", "email_subject": "Hi {{ object.name }}",
             "email_body": "<p>Dear {{ object.name ||| friend }}, about {{ event.get('path') }}</p>"},
            {"action_type": "note", "note_body": "Form from {{ object.name }}"},
        ], triggers=[{"trigger_type": "website_form"}])
        self.authenticate(None, None)
        name = "<script>alert('pwn')</script><b onmouseover=x>Eve</b>"
        response = self.url_open("/website/form/crm.lead", data={
            "contact_name": name, "email_from": "eve.hostile@example.com", "name": HOSTILE,
            "description": "'; DROP TABLE crm_lead; --", "csrf_token": http.Request.csrf_token(self),
            "x_unknown_field": "<iframe src=//evil>"}, headers={"Referer": f"{self.base_url()}/contactus"})
        self.assertEqual(response.status_code, 200, response.text)
        lead = self.env["crm.lead"].browse(response.json()["id"])
        self.assertEqual(lead.partner_id.name, name, "kept as typed")
        self.run_scheduler()
        jobs = self.jobs_of(flow)
        self.assertEqual(jobs.mapped("state"), ["done", "done"], jobs.mapped("result"))
        mail = self.env["mail.mail"].browse(jobs.filtered(lambda j: j.res_model == "mail.mail").res_id)
        body = str(mail.body_html)
        self.assertNotIn("<script", body)
        self.assertNotIn("<b onmouseover", body)
        self.assertIn("&lt;script&gt;", body, "the name is shown, escaped")
        note = self.env["mail.message"].browse(jobs.filtered(lambda j: j.res_model == "mail.message").res_id)
        self.assertNotIn("<script", str(note.body))
        self.assertIn("&lt;script&gt;", str(note.body))
        self.assertEqual(mail.subject, f"Hi {name}", "the subject is plain text (mail headers are not HTML)")


JSON_LEAVES = st.none() | st.booleans() | st.integers(-2 ** 40, 2 ** 40) | st.floats(allow_nan=False,
                                                                                     allow_infinity=False) \
    | st.text(max_size=40)
JSON_VALUES = st.recursive(JSON_LEAVES, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=10), children, max_size=4), max_leaves=12)
# what PostgreSQL text can hold (no NUL, no lone surrogate)
SAFE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
                    max_size=60)


class TestPropertyBased(SalesjetCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.flow = cls.make_flow([
            {"action_type": "email", "email_source": "custom",
             "email_subject": "Hi {{ object.name }} {{ event.get('v') ||| none }}",
             "email_body": "<p>Dear {{ object.name ||| friend }}: {{ event.get('v') ||| none }}</p>"},
        ], triggers=[{"trigger_type": "api", "event_code": "sj_prop"}], reentry_policy="always")
        cls.partner = cls.make_partners(1, prefix="SJ prop")

    @contextmanager
    def undone(self):
        """Run one example, then undo it: examples do not see each other's data."""
        savepoint = self.env.cr.savepoint()
        try:
            yield
        finally:
            self.env.flush_all()
            savepoint.close(rollback=True)
            self.env.invalidate_all()

    @settings(max_examples=50, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(code=st.text(max_size=80), data=st.dictionaries(st.text(max_size=20), JSON_VALUES, max_size=6))
    def test_posting_any_json_data_stores_an_event_or_refuses_cleanly(self, code, data):
        with self.undone():
            if "\\u0000" in json.dumps([code, data]):
                # PostgreSQL cannot store NUL: the one refusal allowed, and a clean one
                with self.assertRaises(UserError):
                    self.Event.post(code, self.partner, data=data)
                return
            event = self.Event.post(code, self.partner, data=data)
            self.assertEqual(event.code, code)
            self.assertEqual(event.data or {}, json.loads(json.dumps(data)))
            self.assertNotEqual(event.state, "failed", event.error if "error" in event._fields else "")

    @settings(max_examples=50, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(name=SAFE_TEXT, value=SAFE_TEXT | st.integers() | st.none())
    def test_any_name_and_event_value_render_without_error_and_without_markup(self, name, value):
        with self.undone():
            self.partner.name = name
            with self.at(T0):
                self.Event.post("sj_prop", self.partner, data={"v": value})
                self.run_scheduler()
            job = self.jobs_of(self.flow, self.partner)[-1:]
            self.assertEqual(job.state, "done", job.error)
            mail = self.env["mail.mail"].browse(job.res_id)
            body = lxml_html.fragment_fromstring(str(mail.body_html), create_parent="div")
            self.assertEqual({el.tag for el in body.iter()}, {"div", "p"}, f"no markup from {name!r} / {value!r}")
            # control characters are not HTML text: compare the printable rest
            printable = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
            shown = "".join(ch for ch in body.text_content() if unicodedata.category(ch)[0] != "C")
            self.assertIn(" ".join(printable.split()), " ".join(shown.split()))
            self.assertTrue(mail.subject.startswith("Hi "))

