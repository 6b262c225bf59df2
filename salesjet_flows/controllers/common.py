"""Helpers shared by the public endpoints: short plain answers, bounded bodies, a rate limit."""
import json
import threading
import time

from odoo.http import request

# per client address, per endpoint: at most RATE_LIMIT calls in RATE_WINDOW seconds (per server process)
RATE_LIMIT = 60
RATE_WINDOW = 60
_rate_lock = threading.Lock()
_rate_counters = {}


class BodyTooLarge(Exception):
    pass


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
    before reading it)."""
    httprequest = request.httprequest
    if httprequest.content_length is not None and httprequest.content_length > max_bytes:
        raise BodyTooLarge()
    body = httprequest.get_data()
    if len(body) > max_bytes:
        raise BodyTooLarge()
    return body


def read_json_object(max_bytes):
    """The body parsed as a JSON object; ValueError when it is not one, BodyTooLarge when too long."""
    body = read_body(max_bytes)
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError("the body is not valid JSON") from e
    if not isinstance(payload, dict):
        raise ValueError("the body must be a JSON object")
    return payload


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
