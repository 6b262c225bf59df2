"""Every public route of the addons answers any bytes with a 4xx (never a 500) and stores nothing it refuses.

Property-based (hypothesis, derandomized, bounded examples) against the live test server: arbitrary bodies,
header values, tokens and path segments (non-ASCII digits, invalid percent-encodings), JSON nested up to
100,000 levels and numbers of up to 100,000 digits. Each example compares the rows of the tables a request
could write before and after, and fails on any ERROR logged by Odoo (a 500 logs its traceback there).
"""
import hashlib
import hmac
import json
import time
from contextlib import contextmanager
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo import http
from odoo.tests import TransactionCase, new_test_user, tagged

from ..controllers import common as controllers_common
from ..controllers.api import API_BATCH_MAX_BYTES
from .sources_common import SalesjetHttpCase

SECRET = "fuzz-app-secret"
VERIFY_TOKEN = "fuzz-verify-token"
CLIENT_ERRORS = range(400, 500)  # what a refused request may answer
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
# what the tests count: everything a public route could store
COUNTED = ("salesjet.event", "salesjet.chain.answer", "crm.lead", "mail.mail", "res.partner",
           "salesjet.flow.enrollment", "salesjet.flow.job", "res.partner.category")

# Arabic-Indic, Devanagari, fullwidth, mathematical digits: str.isdigit() and re's \d accept them
FOREIGN_DIGITS = "٠١٢٣٤٥٦٧٨٩०१२३४५६७८९０１２３４５６７８９𝟎𝟏𝟐"
# no %2F: a slash makes another address, which none of these routes answers
INVALID_PERCENT = ["%FF", "%C0%80", "%E2%82", "%ED%A0%80", "%00", "%zz", "%", "%25", "%F4%90%80%80", "%3F", "%23"]
DEEP = st.one_of(st.integers(1, 40), st.integers(40, 2000), st.integers(2000, 100000))
# deeper than the routes accept (controllers/common.py MAX_JSON_DEPTH)
TOO_DEEP = st.one_of(st.integers(controllers_common.MAX_JSON_DEPTH + 1, 2000), st.integers(2000, 100000))
HUGE_NUMBERS = st.one_of(
    st.sampled_from(["1e999999", "-1e999999", "NaN", "Infinity", "-Infinity", "1" + "0" * 4300, "9" * 41,
                     "0." + "1" * 50, "1E+400"]),
    st.integers(41, 100000).map(lambda n: "7" * n),
)
# header values as bytes: anything but CR/LF, not starting with a blank (the HTTP client refuses those)
HEADER_BYTES = st.binary(max_size=80).filter(
    lambda b: b"\r" not in b and b"\n" not in b and not b[:1].isspace())
CONTENT_TYPES = st.one_of(st.sampled_from([
    b"application/json", b"text/plain", b"application/x-www-form-urlencoded", b"multipart/form-data; boundary=x",
    b"multipart/form-data", b"application/json; charset=latin-1", b"", b"application/json\xff\xfe",
]), HEADER_BYTES)
TEXT = st.text(max_size=60)
# what a batch's events hold: valid-looking values mixed with wrong types, markup, foreign digits
API_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["sj_fuzz", "fuzz@example.com", "+32 470 12 34 56", "<script>", "٠١٢", "", " "]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def nested(depth, kind):
    """JSON text nesting ``depth`` arrays or objects."""
    if kind == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def bodies(valid_shape):
    """Arbitrary bytes, deep nesting, huge numbers inside an otherwise valid JSON object, and mangled UTF-8."""
    def with_number(number):
        return (valid_shape[:-1] + f', "n": {number}}}').encode()
    return st.one_of(
        st.binary(max_size=3000),
        st.builds(lambda depth, kind: nested(depth, kind).encode(), DEEP, st.sampled_from("[{")),
        st.builds(lambda depth: (valid_shape[:-1] + ', "deep": ' + nested(depth, "[") + "}").encode(), TOO_DEEP),
        HUGE_NUMBERS.map(with_number),
        # a string cut by bytes that are not its closing quote (often invalid UTF-8)
        st.builds(lambda text, junk: (valid_shape[:-1] + f', "t": {json.dumps(text)}}}').encode()[:-2] + junk
                  + b"}", TEXT, st.binary(min_size=1, max_size=8).filter(
                      lambda junk: b'"' not in junk and max(junk) >= 0x80)),
        st.sampled_from([b'{"path": "\\ud800"}', b'{"a": "\\u0000"}', b'{"\\udfff": 1}', b"\xef\xbb\xbf{}",
                         b'"' + b"\\" * 5000 + b'"', b"[" * 1500, b"{" * 2000, b'"' + b'\\"' * 20000]),
    )


def tokens():
    """Path segments: text, signed-looking tokens in foreign digits, invalid percent-encodings."""
    return st.one_of(
        TEXT.filter(bool).map(lambda text: quote(text.replace("/", "-"), safe="")),
        st.builds(lambda a, b, c, sig: f"{quote(a)}.{quote(b)}.{quote(c)}.{sig}",
                  st.text(FOREIGN_DIGITS + "0123456789", min_size=1, max_size=12),
                  st.text(FOREIGN_DIGITS + "0123456789", min_size=1, max_size=12),
                  st.text(FOREIGN_DIGITS + "0123456789", min_size=1, max_size=12),
                  st.text("0123456789abcdef", min_size=32, max_size=32)),
        st.lists(st.sampled_from(INVALID_PERCENT) | st.text("ab1.", min_size=1, max_size=3), min_size=1,
                 max_size=6).map("".join),
        st.integers(101, 5000).map(lambda n: "1" * n),
    )


@tagged("post_install", "-at_install")
class TestPublicRoutesFuzz(SalesjetHttpCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api_user = cls.env["res.users"].create({
            "name": "SJ fuzz connector", "login": "sj_fuzz_connector",
            "groups_id": [(6, 0, [cls.env.ref("salesjet_flows.group_salesjet_user").id])]})
        cls.key = cls.env["res.users.apikeys"].with_user(cls.api_user).sudo()._generate(None, "k", None)
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param("salesjet_flows.facebook_verify_token", VERIFY_TOKEN)
        params.set_param("salesjet_flows.facebook_app_secret", SECRET)
        cls.fb_form = cls.env["salesjet.facebook.form"].create({
            "name": "SJ fuzz form", "page_id": "9101", "form_id": "9102", "access_token": "t"})
        cls.make_flow([cls.tag_step(cls.tag_a)], triggers=[
            {"trigger_type": "api", "event_code": "sj_fuzz"},
            {"trigger_type": "facebook_lead", "facebook_form_id": cls.fb_form.id},
            {"trigger_type": "page_leave", "page_path": "/sj-offer"},
            {"trigger_type": "website_form"},
        ], reentry_policy="always")
        cls.download = cls.env["salesjet.download"].create({"name": "SJ fuzz guide", "file_name": "guide.pdf"})
        # a chain whose reply button has a real signed link: the fuzzer mangles it
        chain = cls.env["salesjet.flow"].create({"state": "running", "name": "SJ fuzz chain", "kind": "chain"})
        cls.env["salesjet.flow.trigger"].create({"flow_id": chain.id, "trigger_type": "api",
                                                 "event_code": "sj_fuzz_chain"})
        message = cls.env["salesjet.chain.message"].create({
            "flow_id": chain.id, "channel": "email", "subject": "Hi", "body": "<p>Hi</p>",
            "button_ids": [(0, 0, {"label": "Yes", "kind": "reply", "reply_text": "Thanks"})]})
        partner = cls.make_partners(1, prefix="SJ fuzz")
        cls.env["salesjet.event"].post("sj_fuzz_chain", partner)
        enrollment = cls.env["salesjet.flow.enrollment"].search([("flow_id", "=", chain.id)])
        cls.answer_token = cls.env["salesjet.flow.step"]._chain_answer_token(
            enrollment.id, message.id, message.button_ids.id)

    def setUp(self):
        super().setUp()
        self.authenticate(None, None)
        self.csrf = http.Request.csrf_token(self)

    # ------------------------------------------------------------------ helpers

    def counts(self):
        self.env.invalidate_all()
        counts = {model: self.env[model].sudo().with_context(active_test=False).search_count([])
                  for model in COUNTED}
        counts["downloads"] = self.download.download_count
        return counts

    @contextmanager
    def refused_cleanly(self, label, allowed=CLIENT_ERRORS, changes=False, logger="odoo"):
        """The requests inside answer one of ``allowed``, log no ERROR on ``logger`` (a 500 logs its
        traceback on odoo.http) and, unless ``changes``, store nothing. Yields a list to append the
        responses to."""
        controllers_common._rate_counters.clear()  # the fuzzer is not a flood
        before = self.counts()
        responses = []
        with self.assertNoLogs(logger, level="ERROR"):
            yield responses
        for response in responses:
            self.assertIn(response.status_code, allowed, f"{label}: {response.text[:300]}")
            self.assertNotIn("Traceback", response.text, label)
        if not changes:
            self.assertEqual(self.counts(), before, f"{label}: nothing stored")

    def send(self, method, path, body=None, headers=None, allow_redirects=False):
        return self.opener.request(method, self.base_url() + path, data=body, headers=headers or {}, timeout=60,
                                   allow_redirects=allow_redirects)

    def fb_signature(self, body):
        return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ inbound API

    @FUZZ
    @given(body=bodies('{"code": "sj_fuzz", "email": "fuzz@example.com"}'), content_type=CONTENT_TYPES,
           auth=st.one_of(st.just(None), HEADER_BYTES, HEADER_BYTES.map(lambda b: b"Bearer " + b)))
    def test_inbound_api_answers_any_body_and_key_with_a_4xx(self, body, content_type, auth):
        headers = {"Content-Type": content_type,
                   "Authorization": f"Bearer {self.key}".encode() if auth is None else auth}
        with self.refused_cleanly("api") as responses:
            responses.append(self.send("POST", "/salesjet/api/v1/events", body, headers))

    @FUZZ
    @given(body=bodies('{"events": [{"code": "sj_fuzz", "email": "fuzz@example.com"}]}'), content_type=CONTENT_TYPES,
           auth=st.one_of(st.just(None), HEADER_BYTES, HEADER_BYTES.map(lambda b: b"Bearer " + b)))
    def test_inbound_api_batch_answers_any_body_and_key_with_a_4xx(self, body, content_type, auth):
        headers = {"Content-Type": content_type,
                   "Authorization": f"Bearer {self.key}".encode() if auth is None else auth}
        with self.refused_cleanly("api batch") as responses:
            responses.append(self.send("POST", "/salesjet/api/v1/events/batch", body, headers))

    @FUZZ
    @given(events=st.lists(st.one_of(
        st.dictionaries(st.sampled_from(["code", "email", "phone", "partner_id", "name", "data", "external_id"]),
                        API_VALUES, max_size=7),
        API_VALUES), min_size=1, max_size=8))
    def test_inbound_api_batch_answers_any_event_on_its_own_and_stores_only_those_it_accepts(self, events):
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        with self.refused_cleanly("api batch events", allowed=(200,), changes=True) as responses:
            before = self.counts()["salesjet.event"]
            response = self.send("POST", "/salesjet/api/v1/events/batch", json.dumps({"events": events}), headers)
            responses.append(response)
        results = response.json()["results"]
        self.assertEqual(len(results), len(events))
        self.assertTrue({result["status"] for result in results} <= {200, 201, 400, 413}, results)
        self.assertEqual(self.counts()["salesjet.event"] - before,
                         sum(1 for result in results if result["status"] == 201), "one event per 201, no other")

    # ------------------------------------------------------------------ Facebook webhook

    @FUZZ
    @given(body=bodies('{"object": "page", "entry": []}'), content_type=CONTENT_TYPES,
           signature=st.one_of(st.none(), HEADER_BYTES, HEADER_BYTES.map(lambda b: b"sha256=" + b)))
    def test_facebook_notification_answers_any_body_and_signature_with_a_4xx(self, body, content_type, signature):
        # None: the body's true signature, so the body's parsing is what is tried
        headers = {"Content-Type": content_type,
                   "X-Hub-Signature-256": self.fb_signature(body) if signature is None else signature}
        with self.refused_cleanly("facebook") as responses:
            responses.append(self.send("POST", "/salesjet/facebook/webhook", body, headers))

    @FUZZ
    @given(mode=st.sampled_from(["subscribe", "unsubscribe", ""]) | TEXT, token=TEXT | st.sampled_from(
        [VERIFY_TOKEN + "١", "١٢٣", VERIFY_TOKEN[:-1]]), challenge=TEXT,
        raw=st.lists(st.sampled_from(INVALID_PERCENT), max_size=4).map("".join))
    def test_facebook_handshake_refuses_any_wrong_token_with_403(self, mode, token, challenge, raw):
        query = (f"hub.mode={quote(mode, safe='')}&hub.verify_token={quote(token, safe='')}{raw}"
                 f"&hub.challenge={quote(challenge, safe='')}{raw}")
        with self.refused_cleanly("handshake", allowed=(400, 403)) as responses:
            responses.append(self.send("GET", f"/salesjet/facebook/webhook?{query}"))

    # ------------------------------------------------------------------ chain answers

    @FUZZ
    @given(token=tokens(), signed=st.booleans(), csrf=st.one_of(st.none(), TEXT), content_type=CONTENT_TYPES,
           body=st.binary(max_size=500))
    def test_chain_answer_links_answer_any_token_with_a_4xx_and_record_nothing(self, token, signed, csrf,
                                                                             content_type, body):
        # signed: a real link with the fuzzed text appended
        path = f"/salesjet/chain/answer/{self.answer_token if signed else ''}{token}"
        form = {"csrf_token": self.csrf if csrf is None else csrf}
        with self.refused_cleanly("chain answer", allowed=range(400, 500)) as responses:
            responses.append(self.send("GET", path))
            responses.append(self.send("HEAD", path))
            responses.append(self.send("POST", path, form))
            responses.append(self.send("POST", path, body, {"Content-Type": content_type}))

    @FUZZ
    # "éo9999999999": a future expiry and a non-ASCII signature, which Odoo's own check compares with consteq
    @given(csrf=st.one_of(TEXT, st.sampled_from(["éo9999999999", "١٢٣o١٢٣", "0" * 40 + "o9999999999", "o", "",
                                                 "\x00"])),
           content_type=CONTENT_TYPES, body=st.binary(max_size=500))
    def test_a_signed_answer_link_records_nothing_without_the_pages_csrf_token(self, csrf, content_type, body):
        path = f"/salesjet/chain/answer/{self.answer_token}"
        with self.refused_cleanly("answer without csrf", allowed=(400,)) as responses:
            responses.append(self.send("POST", path, {"csrf_token": csrf}))
        # werkzeug answers a form body that is not UTF-8 with 413
        with self.refused_cleanly("answer of any body") as responses:
            responses.append(self.send("POST", path, body, {"Content-Type": content_type}))
        with self.refused_cleanly("answer page", allowed=(200,)) as responses:
            responses.append(self.send("GET", path))

    # ------------------------------------------------------------------ website: beacon, downloads, forms

    @FUZZ
    @given(body=bodies('{"path": "/sj-offer", "url": ""}'), content_type=CONTENT_TYPES,
           user_agent=st.one_of(st.none(), HEADER_BYTES))
    def test_page_left_beacon_answers_any_body_with_a_4xx_or_204_and_stores_nothing(self, body, content_type,
                                                                                    user_agent):
        # the user agent is part of the website visitor's key
        headers = {"Content-Type": content_type, "User-Agent": user_agent or b"fuzz"}
        # 204: a valid anonymous beacon, accepted and not stored
        with self.refused_cleanly("page left", allowed=(*range(400, 500), 204)) as responses:
            responses.append(self.send("POST", "/salesjet/page_left", body, headers))

    @FUZZ
    @given(token=tokens(), foreign_digit=st.booleans())
    def test_download_links_answer_any_token_with_a_4xx_and_count_nothing(self, token, foreign_digit):
        if foreign_digit:
            # the real token with one character replaced by an Arabic-Indic digit
            token = quote(self.download.token[:-1] + "١") + token
        with self.refused_cleanly("download") as responses:
            responses.append(self.send("GET", f"/salesjet/download/{token}"))
            responses.append(self.send("HEAD", f"/salesjet/download/{token}"))

    @FUZZ
    @given(model=st.sampled_from(["crm.lead", "res.partner", "mail.mail", "ir.attachment"]) | TEXT.filter(bool),
           fields=st.dictionaries(st.sampled_from(["contact_name", "email_from", "name", "description", "phone",
                                                   "expected_revenue", "partner_name", "team_id", "user_id",
                                                   "tag_ids", "probability"]) | TEXT, TEXT, max_size=6),
           body=st.binary(max_size=500), content_type=CONTENT_TYPES)
    def test_website_form_never_answers_500_and_stores_only_a_lead_it_accepts(self, model, fields, body,
                                                                            content_type):
        path = f"/website/form/{quote(model, safe='')}"
        # odoo.http only: the database logs an INSERT it refuses (an SQL constraint of the model) at ERROR
        # itself (odoo.sql_db), and Odoo's form answers it ``false``
        with self.refused_cleanly("form", allowed=(*range(400, 500), 200), changes=True,
                                  logger="odoo.http") as responses:
            before = self.counts()
            responses.append(self.send("POST", path, {**fields, "csrf_token": self.csrf}))
            responses.append(self.send("POST", path, body, {"Content-Type": content_type}))
        accepted = [r for r in responses if r.status_code == 200 and r.text.startswith('{"id"')]
        if not accepted:
            # Odoo answers a refused form 200 with {"error": ...} / {"error_fields": ...}
            self.assertEqual(self.counts(), before, "a refused form stores nothing")

    # ------------------------------------------------------------------ the two findings, as regressions

    def test_chain_link_with_non_ascii_digits_is_refused_with_400_and_no_traceback(self):
        enrollment_id, rest = self.answer_token.split(".", 1)
        arabic = "".join(FOREIGN_DIGITS[int(digit)] for digit in enrollment_id)
        path = f"/salesjet/chain/answer/{quote(arabic + '.' + rest)}"
        with self.refused_cleanly("non-ASCII digits", allowed=(400,)) as responses:
            responses.append(self.send("GET", path))
            responses.append(self.send("POST", path, {"csrf_token": self.csrf}))

    def test_deeply_nested_beacon_and_events_are_refused_with_400_and_no_traceback(self):
        with self.refused_cleanly("nested JSON", allowed=(400,)) as responses:
            responses.append(self.send("POST", "/salesjet/page_left", b"[" * 1500 + b"]" * 500,
                                       {"Content-Type": "application/json"}))
            responses.append(self.send("POST", "/salesjet/page_left", nested(1000, "{").encode()[:2040],
                                       {"Content-Type": "application/json"}))
            deep = f'{{"code": "sj_fuzz", "email": "a@example.com", "data": {nested(20000, "[")}}}'.encode()
            responses.append(self.send("POST", "/salesjet/api/v1/events", deep,
                                       {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}))
            deep = f'{{"events": [{{"code": "sj_fuzz", "email": "a@example.com", "data": {nested(20000, "[")}}}]}}'
            responses.append(self.send("POST", "/salesjet/api/v1/events/batch", deep.encode(),
                                       {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}))
            deep = nested(40000, "{").encode()
            responses.append(self.send("POST", "/salesjet/facebook/webhook", deep,
                                       {"Content-Type": "application/json",
                                        "X-Hub-Signature-256": self.fb_signature(deep)}))

    def test_huge_and_non_finite_numbers_are_refused_with_400(self):
        with self.refused_cleanly("numbers", allowed=(400,)) as responses:
            for number in ("1e999999", "NaN", "-Infinity", "1" * 60000):
                body = f'{{"code": "sj_fuzz", "email": "a@example.com", "data": {{"n": {number}}}}}'.encode()
                responses.append(self.send("POST", "/salesjet/api/v1/events", body, {
                    "Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}))
                responses.append(self.send("POST", "/salesjet/api/v1/events/batch", b'{"events": [' + body + b"]}", {
                    "Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}))

    def test_keys_signatures_and_csrf_tokens_in_any_script_are_refused_not_crashed(self):
        body = b'{"object": "page", "entry": []}'
        with self.refused_cleanly("non-ASCII secrets", allowed=(400, 401, 403)) as responses:
            responses.append(self.send("GET", "/salesjet/facebook/webhook?hub.mode=subscribe"
                                              f"&hub.verify_token={quote('١٢٣')}&hub.challenge=x"))
            responses.append(self.send("POST", "/salesjet/facebook/webhook", body, {
                "Content-Type": "application/json", "X-Hub-Signature-256": "sha256=\xe9".encode("latin-1")}))
            for key in (b"Bearer abc\x00def", "Bearer clé".encode("latin-1"), b"Bearer " + b"k" * 300):
                for route in ("/salesjet/api/v1/events", "/salesjet/api/v1/events/batch"):
                    responses.append(self.send("POST", route, body, {
                        "Content-Type": "application/json", "Authorization": key}))
        # a logged-in visitor's website form: Odoo checks its CSRF token, any text of it
        user = new_test_user(self.env, login="sj_fuzz_portal", groups="base.group_portal")
        self.authenticate(user.login, user.login)
        with self.refused_cleanly("form csrf", allowed=(400,)) as responses:
            for token in ("éo9999999999", "١٢٣o9999999999", "0" * 40 + "o9999999999"):
                responses.append(self.send("POST", "/website/form/crm.lead", {
                    "csrf_token": token, "contact_name": "Eve", "email_from": "eve@example.com", "name": "x"}))

    def test_bodies_over_the_limit_are_refused_and_never_read_whole(self):
        def chunks(size):
            for _i in range(size // 1024):
                yield b" " * 1024
        api_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        with self.refused_cleanly("oversized", allowed=(413,)) as responses:
            responses.append(self.send("POST", "/salesjet/page_left", b" " * (8 * 1024),
                                       {"Content-Type": "application/json"}))
            responses.append(self.send("POST", "/salesjet/api/v1/events", b" " * (80 * 1024), api_headers))
            responses.append(self.send("POST", "/salesjet/api/v1/events/batch",
                                       b" " * (API_BATCH_MAX_BYTES + 1024), api_headers))
            responses.append(self.send("POST", "/salesjet/facebook/webhook", b" " * (300 * 1024), {
                "Content-Type": "application/json", "X-Hub-Signature-256": "sha256=0"}))
        # a chunked body announces no length: refused at the limit (413) or, where the server does not
        # pass chunked bodies on, read as empty (400)
        with self.refused_cleanly("oversized, chunked", allowed=(400, 413)) as responses:
            responses.append(self.send("POST", "/salesjet/page_left", chunks(8 * 1024),
                                       {"Content-Type": "application/json"}))
            responses.append(self.send("POST", "/salesjet/api/v1/events", chunks(80 * 1024), api_headers))
            responses.append(self.send("POST", "/salesjet/api/v1/events/batch", chunks(API_BATCH_MAX_BYTES + 1024),
                                       api_headers))


def depth_of(value):
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    return 0


# strings full of the characters that matter to the depth scan
TRICKY_TEXT = st.text(alphabet='[]{}"\\ab\né', max_size=12)
JSON_TREES = st.recursive(st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
                          lambda children: st.lists(children, max_size=3)
                          | st.dictionaries(TRICKY_TEXT, children, max_size=3), max_leaves=30)


class TestJsonDepthScan(TransactionCase):
    """The depth check that runs before json.loads counts nesting as the parser does, in linear time."""

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(value=JSON_TREES, ascii_only=st.booleans())
    def test_depth_scan_counts_nesting_as_the_parser_does(self, value, ascii_only):
        text = json.dumps(value, ensure_ascii=ascii_only)
        self.assertEqual(controllers_common.json_depth(text), depth_of(value), text)

    def test_depth_scan_is_linear_on_unterminated_strings_of_escaped_quotes(self):
        # a regular expression matching whole strings backtracks quadratically on these
        for text in ('"' + '\\"' * 130000, '"\\' * 130000, '"' * 260000, "[" * 260000):
            start = time.perf_counter()
            controllers_common.json_depth(text, stop_above=32)
            self.assertLess(time.perf_counter() - start, 1.0, text[:10])
