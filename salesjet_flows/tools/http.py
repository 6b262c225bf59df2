"""Outgoing HTTP for flow steps (webhooks, telephony): errors, address guard, batch delivery.

Steps that call the outside world send one request per contact. Those
requests cannot be rolled back, so a step never raises once it has started
sending: each job's failure is recorded on that job (``_mark_error``) and the
others go on. Otherwise the engine would rerun the batch job by job and
repeat the requests that had already succeeded.
"""
import ipaddress
import logging
import socket
import time
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from odoo import _

_logger = logging.getLogger(__name__)

EXCERPT_SIZE = 1000
# Bytes read from an answer: enough for the excerpt, never a whole large body.
READ_LIMIT = 8192
# A batch stops sending after this many transport failures in a row (the
# receiver is down: waiting for each timeout would hold the worker) or once the
# scheduler call's time budget is spent (salesjet.cron._call_budget); its
# remaining jobs are postponed without losing an attempt.
BREAKER_FAILURES = 3
POSTPONE_MINUTES = 1
RETRYABLE_STATUSES = {408, 425, 429}
USER_AGENT = "SalesJet-Flows/1.0 (Odoo)"


class PermanentError(Exception):
    """An error retrying cannot fix (a 4xx answer, a refused address): the job fails at once."""

    def __init__(self, message, http_status=None, excerpt=None):
        super().__init__(message)
        self.http_status = http_status
        self.excerpt = excerpt


class RetryableHttpError(Exception):
    """The receiver answered with a status worth retrying (5xx, 408, 429): the engine retries with backoff."""

    def __init__(self, message, http_status=None, excerpt=None):
        super().__init__(message)
        self.http_status = http_status
        self.excerpt = excerpt


class AddressRefused(PermanentError):
    """The URL's host is (or resolved to) an address webhooks may not reach.

    Raised from inside the connection, it goes through requests and urllib3
    unwrapped (they only wrap socket and HTTP errors)."""


def read_body(response):
    """The start of a streamed answer's body as text, reading at most READ_LIMIT bytes."""
    try:
        raw = response.raw.read(READ_LIMIT, decode_content=True) or b""
    except Exception:  # noqa: BLE001 - an unreadable body must not hide the status
        raw = b""
    finally:
        response.close()
    return raw.decode(response.encoding or "utf-8", errors="replace")


def classify(response, body, receiver):
    """Raise the error matching a non-2xx answer: retryable (5xx, 408, 425, 429) or permanent."""
    status = response.status_code
    excerpt = body[:EXCERPT_SIZE]
    if 200 <= status < 300:
        return
    short = " ".join(excerpt.split())[:200]
    if status >= 500 or status in RETRYABLE_STATUSES:
        raise RetryableHttpError(
            _("%(receiver)s answered HTTP %(status)s: %(body)s", receiver=receiver, status=status, body=short),
            status, excerpt)
    if 300 <= status < 400:
        raise PermanentError(
            _("%(receiver)s answered HTTP %(status)s, a redirection to %(location)s: redirections are not "
              "followed, set the final address.", receiver=receiver, status=status,
              location=response.headers.get("Location") or "?"),
            status, excerpt)
    raise PermanentError(
        _("%(receiver)s refused the request with HTTP %(status)s (not retried): %(body)s",
          receiver=receiver, status=status, body=short),
        status, excerpt)


# ----------------------------------------------------------------------
# Address guard (SSRF)
# ----------------------------------------------------------------------

def address_refused(address):
    """Whether an IP address is one webhooks may not reach: loopback, private, link-local, reserved..."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if getattr(ip, "ipv4_mapped", None):
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def parse_url(url):
    """Split an http(s) URL; raise ValueError with a sentence when it is not one."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise ValueError(_("“%(url)s” is not a valid URL (%(error)s).", url=url, error=e)) from e
    if parts.scheme not in ("http", "https"):
        raise ValueError(_("“%s” is not a web address: it must start with https:// (or http://).", url))
    if not parts.hostname:
        raise ValueError(_("“%s” has no host name, e.g. https://hooks.example.com/salesjet.", url))
    if any(char.isspace() for char in url):
        raise ValueError(_("“%s” contains spaces: encode them as %%20.", url))
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_host(host, port, strict):
    """Refuse a host that is or resolves to a refused address.

    :param strict: when the name does not resolve, raise ``requests.ConnectionError``
        (at send time: retried later) instead of accepting it (when saving:
        DNS may be down; the send-time check and the connection guard still apply)
    :raise AddressRefused: with a sentence naming the address
    """
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        addresses = [host]
    except ValueError:
        try:
            addresses = [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
        except (socket.gaierror, UnicodeError) as e:
            if strict:
                raise requests.ConnectionError(_("The host name %(host)s does not resolve: %(error)s",
                                                 host=host, error=e)) from e
            return
    for address in addresses:
        if address_refused(address):
            raise AddressRefused(_(
                "%(host)s is a loopback, private, link-local or reserved address (%(address)s): webhooks may "
                "not reach it unless an administrator allows private addresses in the Flows settings.",
                host=host, address=address))


def _check_peer(sock, host):
    try:
        address = sock.getpeername()[0]
    except OSError:
        return
    if address_refused(address):
        sock.close()
        raise AddressRefused(_(
            "%(host)s resolved to the refused address %(address)s when connecting.", host=host, address=address))


class _GuardedHTTPConnection(HTTPConnection):
    # Checked on the connected socket itself: a name that resolved to a public
    # address when checked may resolve to a private one a moment later.
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(sock, self.host)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(sock, self.host)
        return sock


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter that refuses to connect to refused addresses."""

    def init_poolmanager(self, *args, **kwargs):
        res = super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
        return res


def new_session(guarded):
    """One session per batch (connections are reused). Environment proxies are ignored: the
    guard must see the receiver's own address."""
    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    if guarded:
        adapter = GuardedAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


# ----------------------------------------------------------------------
# Batch delivery
# ----------------------------------------------------------------------

def deliver(jobs, send):
    """Call ``send(job)`` for each job and return ``[(job, value)]`` for those that succeeded.

    A failing job is recorded with ``job._mark_error()`` (retried with backoff,
    or failed at once for a ``PermanentError``) and never stops the others.
    After BREAKER_FAILURES transport failures in a row, or once the time budget
    of a scheduler call is spent, the remaining jobs are postponed without
    losing an attempt (those due at once are taken by the next call).
    """
    delivered = []
    failures_in_row = 0
    budget = jobs.env["salesjet.cron"]._call_budget()
    started = time.monotonic()
    for index, job in enumerate(jobs):
        if failures_in_row >= BREAKER_FAILURES:
            jobs[index:]._postpone(_("Not sent yet: the receiver failed %s times in a row; trying again later.",
                                     failures_in_row), POSTPONE_MINUTES)
            break
        if time.monotonic() - started > budget:
            jobs[index:]._postpone(_("Not sent yet: the batch ran out of time; sending later."), 0)
            break
        try:
            value = send(job)
        except (requests.ConnectionError, requests.Timeout):
            failures_in_row += 1
            job._mark_error()
            continue
        except Exception:  # noqa: BLE001 - recorded on the job; the batch goes on
            failures_in_row = 0
            job._mark_error()
            continue
        failures_in_row = 0
        delivered.append((job, value))
    return delivered
