"""Secrets kept out of what Flows users and logs read.

Error texts of jobs and events, answer excerpts and log lines are written from
exceptions and answers of the outside world, which may quote a request (its URL,
its headers): a token would then be readable by every Flows user. Before such a
text is stored or logged, ``redact`` masks every secret value this database
holds (webhook headers and signing secrets, Facebook page tokens and app secret,
telephony and verify tokens).
"""
from urllib.parse import quote

from odoo.tools import SQL

REDACTED = "[redacted]"
# Shorter values are not secrets worth masking (and would mask ordinary words).
MIN_SECRET_LENGTH = 6
# A header value's words shorter than this ("Bearer", "Basic") are its scheme, not its token.
MIN_TOKEN_LENGTH = 8
SECRET_PARAMS = (
    "salesjet_flows.twilio_auth_token",
    "salesjet_flows.facebook_app_secret",
    "salesjet_flows.facebook_verify_token",
)


def header_secrets(text):
    """The secret parts of webhook headers ("Name: value" lines): each value, and each word of it
    (the token of "Bearer <token>")."""
    values = set()
    for line in (text or "").splitlines():
        _name, sep, value = line.partition(":")
        value = value.strip()
        if sep and value:
            values.add(value)
            values.update(word for word in value.split() if len(word) >= MIN_TOKEN_LENGTH)
    return values


def known_secrets(env):
    """Every secret value stored in this database, longest first (one query)."""
    for model, fnames in (("salesjet.flow", ["webhook_secret"]), ("salesjet.flow.step", ["webhook_headers"]),
                          ("salesjet.facebook.form", ["access_token"]), ("ir.config_parameter", ["value"])):
        env[model].flush_model(fnames)
    env.cr.execute(SQL(
        """
        SELECT 'value', webhook_secret FROM salesjet_flow WHERE webhook_secret IS NOT NULL
         UNION ALL
        SELECT 'headers', webhook_headers FROM salesjet_flow_step WHERE webhook_headers IS NOT NULL
         UNION ALL
        SELECT 'value', access_token FROM salesjet_facebook_form WHERE access_token IS NOT NULL
         UNION ALL
        SELECT 'value', value FROM ir_config_parameter WHERE key IN %s
        """,
        SECRET_PARAMS,
    ))
    values = set()
    for kind, value in env.cr.fetchall():
        if kind == "headers":
            values.update(header_secrets(value))
        else:
            values.add(value.strip())
    values = {value for value in values if len(value) >= MIN_SECRET_LENGTH}
    # as they may appear in a URL, too
    values |= {quote(value, safe="") for value in values}
    return sorted(values, key=len, reverse=True)


def redact(text, secrets):
    """``text`` with each of ``secrets`` replaced by [redacted]."""
    if not text:
        return text
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_known(env, text):
    """``text`` with every secret of the database masked (see ``known_secrets``)."""
    if not text:
        return text
    return redact(text, known_secrets(env))
