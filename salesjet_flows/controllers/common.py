"""Helpers shared by the public endpoints: short plain answers, bounded bodies, defensive JSON, tokens, a rate limit.

Everything here refuses hostile input with an exception a route turns into a 4xx (``BodyTooLarge`` → 413,
``MalformedBody`` → 400), never with one that becomes a 500: no recursion on nested JSON, no unbounded numbers,
no string comparison that raises on non-ASCII text.
"""
import hmac
import json
import math
import re
import threading
import time

from werkzeug.exceptions import RequestEntityTooLarge

from odoo.http import request

# per client address, per endpoint: at most RATE_LIMIT calls in RATE_WINDOW seconds (per server process)
RATE_LIMIT = 60
RATE_WINDOW = 60
_rate_lock = threading.Lock()
_rate_counters = {}

# deeper JSON is refused before parsing: json.loads recurses once per level and raises RecursionError
# (not ValueError) near 1000 levels
MAX_JSON_DEPTH = 32
# longest number literal accepted: Python refuses ints of more than 4300 digits with ValueError, and
# 1e999999 parses to infinity, which PostgreSQL's jsonb cannot store
MAX_NUMBER_LENGTH = 40
_JSON_SIGNIFICANT = re.compile(r'["\\\[\]{}]')


class BodyTooLarge(Exception):
    pass


class MalformedBody(ValueError):
    """The body is not what the route accepts; its message says why (shown in the 400 answer)."""


def reply(status, message=None, payload=None):
    """A short answer: JSON when ``payload`` is given, else one line of text (nothing for 204)."""
    if payload is not None:
        return request.make_response(json.dumps(payload), headers=[("Content-Type", "application/json")],
                                     status=status)
    if status == 204:
        return request.make_response("", status=204)
    return request.make_response(message or "", headers=[("Content-Type", "text/plain; charset=utf-8")],
                                 status=status)


def read_body(max_bytes):
    """The raw request body, or BodyTooLarge beyond ``max_bytes`` (refused on its announced length,
    before reading it). Routes also declare ``max_content_length``: werkzeug then stops reading a body
    that announces no length (chunked) at that size."""
    httprequest = request.httprequest
    if httprequest.content_length is not None and httprequest.content_length > max_bytes:
        raise BodyTooLarge()
    try:
        body = httprequest.get_data()
    except RequestEntityTooLarge as e:
        raise BodyTooLarge() from e
    if len(body) > max_bytes:
        raise BodyTooLarge()
    return body


def json_depth(text, stop_above=None):
    """How deeply arrays and objects nest in ``text`` (brackets inside strings skipped), without parsing it.

    One pass over the characters that matter (a regular expression matching whole strings would
    backtrack quadratically on an unterminated string of escaped quotes). Stops as soon as the depth
    exceeds ``stop_above``.
    """
    depth = deepest = 0
    in_string, skip = False, -1
    for match in _JSON_SIGNIFICANT.finditer(text):
        position, char = match.start(), match.group()
        if position == skip:
            continue  # the character after a backslash in a string
        if in_string:
            if char == "\\":
                skip = position + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if stop_above is not None and deepest > stop_above:
                break
        elif char in "]}":
            depth -= 1
    return deepest


def _parse_int(literal):
    if len(literal) > MAX_NUMBER_LENGTH:
        raise MalformedBody("a number is too long")
    return int(literal)


def _parse_float(literal):
    if len(literal) > MAX_NUMBER_LENGTH:
        raise MalformedBody("a number is too long")
    value = float(literal)
    if not math.isfinite(value):
        raise MalformedBody("a number is too large")
    return value


def _refuse_constant(name):
    raise MalformedBody(f"{name} is not a JSON number")


def _check_storable(value):
    """Refuse text PostgreSQL cannot store: NUL characters and lone surrogates (keys included)."""
    text = json.dumps(value, ensure_ascii=False)
    if "\x00" in text or "\\u0000" in text:
        raise MalformedBody("values cannot contain NUL characters (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise MalformedBody("the body holds an invalid character (a lone surrogate)") from e


def parse_json(body, max_depth=MAX_JSON_DEPTH):
    """``body`` (bytes) parsed as JSON, or MalformedBody: strict UTF-8, at most ``max_depth`` levels of
    arrays and objects, numbers of at most MAX_NUMBER_LENGTH characters, no NaN or Infinity, no NUL
    character nor lone surrogate in any string."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedBody("the body is not UTF-8") from e
    if json_depth(text, stop_above=max_depth) > max_depth:
        raise MalformedBody(f"the body nests deeper than {max_depth} levels")
    try:
        value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)
    except MalformedBody:
        raise
    except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise MalformedBody("the body is not valid JSON") from e
    _check_storable(value)
    return value


def read_json_object(max_bytes, max_depth=MAX_JSON_DEPTH):
    """The body parsed as a JSON object (see ``parse_json``); MalformedBody when it is not one,
    BodyTooLarge when too long."""
    payload = parse_json(read_body(max_bytes), max_depth=max_depth)
    if not isinstance(payload, dict):
        raise MalformedBody("the body must be a JSON object")
    return payload


def token_matches(given, expected):
    """Constant-time comparison of a token from the request with the expected one, for any text:
    ``hmac.compare_digest`` (Odoo's ``consteq``) raises TypeError on non-ASCII strings, so both are
    compared as UTF-8 bytes."""
    if not isinstance(given, str) or not isinstance(expected, str) or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def valid_csrf(token):
    """Whether ``token`` is this session's CSRF token (as Odoo's ``request.validate_csrf``), False for
    anything that is not short ASCII text instead of the TypeError Odoo's check raises on non-ASCII."""
    if not isinstance(token, str) or not token.isascii() or len(token) > 200:
        return False
    return request.validate_csrf(token)


def rate_limited(bucket, limit=RATE_LIMIT, window=RATE_WINDOW):
    """Whether the caller's address went over ``limit`` calls to ``bucket`` in the current window."""
    now = time.monotonic()
    key = (bucket, request.httprequest.remote_addr)
    with _rate_lock:
        if len(_rate_counters) > 10000:  # keep memory bounded
            _rate_counters.clear()
        start, count = _rate_counters.get(key, (now, 0))
        if now - start > window:
            start, count = now, 0
        count += 1
        _rate_counters[key] = (start, count)
    return count > limit
