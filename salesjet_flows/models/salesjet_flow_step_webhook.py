import hashlib
import hmac
import json
import re
import secrets
import time

import requests
from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.rendering_tools import parse_inline_template

from ..tools.http import (
    EXCERPT_SIZE,
    PermanentError,
    check_host,
    classify,
    deliver,
    new_session,
    parse_url,
    read_body,
)
from ..tools.placeholders import check_placeholder_policy, tidy_defaults
from ..tools.preview import preview_rows

WEBHOOK_METHODS = [("POST", "POST"), ("PUT", "PUT"), ("PATCH", "PATCH"), ("GET", "GET")]

DEFAULT_BODY = """{
  "contact_id": {{ object.id }},
  "name": "{{ object.name }}",
  "email": "{{ object.email }}",
  "phone": "{{ object.phone }}",
  "mobile": "{{ object.mobile }}"
}"""

HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

# set by the step itself: a user header may not replace them
RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "idempotency-key"}

SIGNATURE_HEADER = "X-SalesJet-Signature"

TIMESTAMP_HEADER = "X-SalesJet-Timestamp"

IDEMPOTENCY_HEADER = "Idempotency-Key"

MAX_TIMEOUT = 60

ALLOW_PRIVATE_PARAM = "salesjet_flows.webhook_allow_private"


def parse_headers(text):
    """[(name, value)] from one "Name: value" per line; raise ValueError with a sentence."""
    headers = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            raise ValueError(_("line %(number)s (“%(line)s”) is not “Name: value”.", number=number, line=line))
        if not HEADER_NAME.match(name):
            raise ValueError(_("line %(number)s: “%(name)s” is not a valid header name.", number=number, name=name))
        if name.lower() in RESERVED_HEADERS or name.lower().startswith("x-salesjet-"):
            raise ValueError(_("line %(number)s: the %(name)s header is set by the step itself.",
                               number=number, name=name))
        if any(ord(char) < 32 and char != "\t" or ord(char) == 127 for char in value):
            raise ValueError(_("line %(number)s: the value of %(name)s contains control characters.",
                               number=number, name=name))
        headers.append((name, value))
    return headers


def render_json(render, source):
    """Render a JSON body template whose placeholders' values are JSON-escaped.

    ``"name": "{{ object.name }}"`` stays valid JSON whatever the name holds
    (quotes, backslashes, new lines), and ``"id": {{ object.id }}`` gives a
    number. All placeholders render in one call: they are joined with a
    random separator and split again.

    :param render: function(text) -> {key: rendered text}
    :return: {key: body}
    """
    parts = parse_inline_template(tidy_defaults(source))
    placeholders = [(expression, default) for _literal, expression, default in parts if expression]
    if not placeholders:
        return {key: source for key in render("")}
    separator = f"\x1e{secrets.token_hex(8)}\x1e"
    joined = separator.join(
        f"{{{{ {expression} ||| {default}}}}}" if default else f"{{{{ {expression} }}}}"
        for expression, default in placeholders)
    bodies = {}
    for key, rendered in render(joined).items():
        values = iter(rendered.split(separator))
        chunks = []
        for literal, expression, _default in parts:
            chunks.append(literal)
            if expression:
                chunks.append(json.dumps(next(values, ""), ensure_ascii=False)[1:-1])
        bodies[key] = "".join(chunks)
    return bodies


def sign(secret, body):
    """The signature header's value: sha256=<hex of HMAC-SHA256(secret, body)>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SalesjetFlowStepWebhook(models.AbstractModel):
    _name = "salesjet.flow.step.webhook"
    _description = "Flow step: webhook"

    webhook_method = fields.Selection(WEBHOOK_METHODS, string="Method", default="POST")
    webhook_url = fields.Char(
        string="URL", help="The receiver's address, e.g. https://hooks.example.com/salesjet. Addresses of your "
                           "own network are refused unless an administrator allows them in the settings.",
    )
    webhook_headers = fields.Text(
        string="Headers", groups="salesjet_flows.group_salesjet_manager",
        help="One per line, “Name: value”, e.g. Authorization: Bearer abc123. The step adds Content-Type, "
             "X-SalesJet-Signature, X-SalesJet-Timestamp and Idempotency-Key itself.",
    )
    webhook_body = fields.Text(
        string="JSON body", default=DEFAULT_BODY,
        help="Sent for POST, PUT and PATCH. Placeholders are JSON-escaped, so quote text values: "
             "\"name\": \"{{ object.name }}\", and leave numbers bare: \"id\": {{ object.id }}.",
    )
    webhook_timeout = fields.Integer(
        string="Timeout (seconds)", default=10,
        help="How long to wait for the receiver. A timeout, a connection error or a 5xx answer is retried "
             "with backoff; a 4xx answer fails the job at once.",
    )

    def _settings_fields(self):
        return super()._settings_fields() + [
            "webhook_method", "webhook_url", "webhook_headers", "webhook_body", "webhook_timeout",
        ]

    def _check_action_webhook(self):
        name = self.display_name
        if not self.webhook_method:
            raise ValidationError(_("Step “%s”: choose the HTTP method.", name))
        if not (self.webhook_url or "").strip():
            raise ValidationError(_("Step “%s”: give the URL to call.", name))
        try:
            host, port = parse_url(self.webhook_url)
            if not self._webhook_private_allowed():
                check_host(host, port, strict=False)
        except (ValueError, PermanentError) as e:
            raise ValidationError(_("Step “%(step)s”: %(error)s", step=name, error=e)) from e
        try:
            parse_headers(self.sudo().webhook_headers)
        except ValueError as e:
            raise ValidationError(_("Step “%(step)s”, headers: %(error)s Write one “Name: value” per line.",
                                    step=name, error=e)) from e
        if not 1 <= self.webhook_timeout <= MAX_TIMEOUT:
            raise ValidationError(_("Step “%(step)s”: the timeout is from 1 to %(max)s seconds.",
                                    step=name, max=MAX_TIMEOUT))
        if self.webhook_method != "GET":
            self._check_webhook_body()

    def _check_webhook_body(self):
        """Refuse a body that does not render to valid JSON for a sample contact."""
        if not (self.webhook_body or "").strip():
            raise ValidationError(_("Step “%s”: write the JSON body to send.", self.display_name))
        check_placeholder_policy(self.env, self.webhook_body, _("Step “%s”, JSON body", self.display_name))
        sample = self.env.user.partner_id
        Render = self.env["mail.render.mixin"]
        try:
            body = render_json(lambda text: Render._render_template(
                text, "res.partner", sample.ids, add_context={"lead": self.env["crm.lead"], "event": {},
                                                              "company": self._placeholder_company()},
            ), self.webhook_body)[sample.id]
        except Exception as e:  # noqa: BLE001 - any rendering error is the user's to fix
            raise ValidationError(_(
                "Step “%(step)s”: the JSON body does not render: %(error)s. Check its placeholders, "
                "e.g. {{ object.name }}, {{ event.get('key') ||| default }}.",
                step=self.display_name, error=escape(str(e)))) from e
        try:
            json.loads(body)
        except ValueError as e:
            raise ValidationError(_(
                "Step “%(step)s”: the JSON body is not valid JSON once rendered for a sample contact (%(error)s). "
                "Quote text placeholders, e.g. \"name\": \"{{ object.name }}\".",
                step=self.display_name, error=e)) from e

    @api.model
    def _webhook_private_allowed(self):
        return self.env["ir.config_parameter"].sudo().get_param(ALLOW_PRIVATE_PARAM) in ("True", "1", "true")

    # ------------------------------------------------------------------
    # Execution
    # ------------------------------------------------------------------

    def _webhook_bodies(self, jobs):
        """{job id: body bytes} for the whole batch, per contact language; b"" for GET."""
        if self.webhook_method == "GET":
            return {job.id: b"" for job in jobs}
        bodies = {}
        for lang, lang_jobs in self._jobs_per_lang(jobs).items():
            rendered = render_json(
                lambda text, lang_jobs=lang_jobs, lang=lang: self._render_for_jobs(text, lang_jobs, lang=lang,
                                                                                   fallbacks=False),
                self.webhook_body or "")
            bodies.update({job_id: body.encode() for job_id, body in rendered.items()})
        return bodies

    def _action_webhook(self, jobs):
        """Send one signed request per contact, with one HTTP session for the batch."""
        allow_private = self._webhook_private_allowed()
        url = self.webhook_url.strip()
        host, port = parse_url(url)
        try:
            if not allow_private:
                # checked again at send time: the name may resolve elsewhere now
                check_host(host, port, strict=True)
        except (PermanentError, requests.ConnectionError):
            for job in jobs:
                job._mark_error()  # a refusal fails each job at once; a name that does not resolve is retried
            return
        bodies = self._webhook_bodies(jobs)
        invalid = {}
        for job_id, body in bodies.items():
            try:
                json.loads(body) if body else None
            except ValueError as e:
                invalid[job_id] = str(e)
        headers = parse_headers(self.sudo().webhook_headers)
        secret = self.flow_id._webhook_signing_secret()
        timeout = self.webhook_timeout or 10
        method = self.webhook_method

        def send(job):
            if job.id in invalid:
                raise PermanentError(_("The JSON body is not valid for this contact (%s); check the placeholders.",
                                       invalid[job.id]))
            body = bodies[job.id]
            request_headers = dict(headers)
            if body:
                request_headers.setdefault("Content-Type", "application/json")
            request_headers.update({
                SIGNATURE_HEADER: sign(secret, body),
                TIMESTAMP_HEADER: str(int(time.time())),
                IDEMPOTENCY_HEADER: f"salesjet-job-{job.id}",
            })
            response = session.request(method, url, data=body or None, headers=request_headers, timeout=timeout,
                                       allow_redirects=False, stream=True)
            text = read_body(response)
            classify(response, text, host)
            return response.status_code, text[:EXCERPT_SIZE]

        with new_session(guarded=not allow_private) as session:
            delivered = deliver(jobs, send)
        for job, (status, _excerpt) in delivered:
            job._set_result(_("Webhook delivered: HTTP %s.", status))
        jobs._write_http_answers({job.id: answer for job, answer in delivered})

    def _preview_webhook(self, partner, data):
        body = b""
        if self.webhook_method != "GET":
            body = render_json(lambda text: {partner.id: self._render_preview(text, partner, data, fallbacks=False)},
                               self.webhook_body or "")[partner.id].encode()
        headers = dict(parse_headers(self.sudo().webhook_headers))
        if body:
            headers.setdefault("Content-Type", "application/json")
        # the flow's secret is made on first real send: a preview never creates it
        secret = self.flow_id.sudo().webhook_secret
        headers[SIGNATURE_HEADER] = sign(secret, body) if secret else _("(signed with the flow's secret when sent)")
        headers[TIMESTAMP_HEADER] = _("(the moment of sending)")
        headers[IDEMPOTENCY_HEADER] = "salesjet-job-<id>"
        return preview_rows([
            (_("Request"), f"{self.webhook_method} {self.webhook_url or ''}"),
            (_("Headers"), Markup("<pre>%s</pre>") % "\n".join(f"{k}: {v}" for k, v in headers.items())),
            (_("Body"), Markup("<pre>%s</pre>") % body.decode()),
        ])
