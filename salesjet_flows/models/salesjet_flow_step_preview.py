from markupsafe import Markup, escape

from odoo import _, models
from odoo.tools import plaintext2html

from ..tools.placeholders import (
    guard_placeholders,
    inline_to_qweb,
    placeholder_event_data,
    tidy_defaults,
    with_fallbacks,
)
from .salesjet_flow_step_webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    parse_headers,
    render_json,
    sign,
)


def _rows(pairs):
    """A small two-column HTML table from (label, value) pairs; values are escaped unless Markup."""
    body = Markup("").join(
        Markup("<tr><th class='pe-2 align-top'>%s</th><td>%s</td></tr>") % (label, value)
        for label, value in pairs if value not in (None, False)
    )
    return Markup("<table class='table table-sm o_salesjet_preview'>%s</table>") % body


class SalesjetFlowStepPreview(models.AbstractModel):
    """Previews: what a step WOULD do for one contact, without doing it (test runs).

    Each action type may add ``_preview_<type>(partner, data)`` returning HTML
    (Markup); types without one fall back to the step's summary. A preview must
    not write anything: it only reads and renders.
    """
    _name = "salesjet.flow.step.preview"
    _description = "Flow step: preview"

    def _preview(self, partner, data):
        """HTML describing what this step would do for ``partner`` with event ``data`` (a dict)."""
        self.ensure_one()
        previewer = getattr(self, f"_preview_{self.action_type}", None)
        if previewer is None:
            return Markup("<p>%s</p>") % self.summary
        return previewer(partner, data or {})

    def _render_preview(self, source, partner, data, engine="inline_template", owner=None, fallbacks=True):
        """Render ``source`` for ``partner`` as a run with event ``data`` and no lead would.

        ``owner``: the record ``source`` comes from (default: the step), see ``guard_placeholders``;
        ``fallbacks``: as ``_render_for_jobs`` (False for webhooks).
        """
        guard_placeholders(self.env, source, self if owner is None else owner, engine)
        Render = self.env["mail.render.mixin"].with_context(lang=partner.lang or None)
        data = placeholder_event_data(data, fallbacks)
        if fallbacks:
            source = with_fallbacks(Render.env, source, engine)
        if engine == "inline_template":
            source = tidy_defaults(source)
        return Render._render_template(
            source or "", "res.partner", partner.ids, engine=engine,
            add_context={"lead": self.env["crm.lead"], "event": data or {}, "company": self._placeholder_company()},
            options={"post_process": engine == "qweb"},
        )[partner.id]

    # -- messages --------------------------------------------------------------

    def _preview_email(self, partner, data):
        step = self.with_context(lang=partner.lang or None)
        template = step.mail_template_id.with_context(lang=partner.lang or None)
        owner = self
        if self.email_source == "template" or not self.email_subject:
            subject_src, body_src, owner = template.subject or "", template.body_html or "", template
        else:
            subject_src, body_src = step.email_subject or "", inline_to_qweb(step.email_body)
        to = self.email_to_fixed if self.email_to_mode == "fixed" else partner.email
        return _rows([
            (_("To"), to or _("(no email address: the step would be skipped)")),
            (_("Subject"), self._render_preview(subject_src, partner, data, owner=owner)),
            (_("Body"), Markup(self._render_preview(body_src, partner, data, engine="qweb", owner=owner))),
        ])

    def _preview_sms(self, partner, data):
        raw, number = self._contact_number(partner, data, self.sms_number_source)
        source = (self.sms_template_id.with_context(lang=partner.lang or None).body if self.sms_template_id
                  else self.with_context(lang=partner.lang or None).sms_body)
        if number and self.env["phone.blacklist"].sudo().search_count([("number", "=", number)], limit=1):
            number = _("%s is blacklisted (opted out of SMS): the step would be skipped", number)
        return _rows([
            (_("To"), number or (_("invalid number %s: the step would be skipped", raw) if raw
                                 else _("no phone number: the step would be skipped"))),
            (_("Text"), self._render_preview(source or "", partner, data, owner=self.sms_template_id or self)),
        ])

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
        return _rows([
            (_("Request"), f"{self.webhook_method} {self.webhook_url or ''}"),
            (_("Headers"), Markup("<pre>%s</pre>") % "\n".join(f"{k}: {v}" for k, v in headers.items())),
            (_("Body"), Markup("<pre>%s</pre>") % body.decode()),
        ])

    def _preview_call(self, partner, data):
        number = self._contact_number(partner)[1]
        lines = [self._render_preview(line.text or "", partner, data, owner=line)
                 for line in self.call_template_id._say_lines().with_context(lang=partner.lang or None)]
        provider = self.env["salesjet.call.provider"]._current()
        return _rows([
            (_("Call"), number or _("no valid phone number: the step would be skipped")),
            (_("Through"), provider),
            (_("Script"), Markup("<br/>").join(escape(line) for line in lines)),
        ])

    # -- contact actions ---------------------------------------------------------

    def _preview_add_tag(self, partner, data):
        return _rows([(_("Tags added"), ", ".join(self.tag_ids.mapped("name")))])

    def _preview_remove_tag(self, partner, data):
        return _rows([(_("Tags removed"), ", ".join(self.tag_ids.mapped("name")))])

    def _preview_note(self, partner, data):
        return _rows([(_("Note on the contact"), plaintext2html(self._render_preview(self.note_body, partner, data)))])

    def _preview_notify_user(self, partner, data):
        how = _("an activity") if self.notify_mode == "activity" else _("a notification")
        return _rows([
            (_("Tell"), f"{self.notify_user_id.name} ({how})"),
            (_("Text"), plaintext2html(self._render_preview(self.note_body, partner, data))),
        ])

    def _preview_list_add(self, partner, data):
        return _rows([(_("Added to mailing list"), self.mailing_list_id.name)])

    def _preview_list_remove(self, partner, data):
        return _rows([(_("Removed from mailing list"), self.mailing_list_id.name)])

    def _preview_flow_start(self, partner, data):
        return _rows([(_("Starts flow"), self.target_flow_id.name)])

    def _preview_flow_stop(self, partner, data):
        return _rows([(_("Stops flow"), self.target_flow_id.name)])

    def _preview_segment_add(self, partner, data):
        return _rows([(_("Added to segment"), ", ".join(self.tag_ids.mapped("name")))])

    def _preview_segment_remove(self, partner, data):
        return _rows([(_("Removed from segment"), ", ".join(self.tag_ids.mapped("name")))])

    def _preview_product_grant(self, partner, data):
        return _rows([(_("Product access granted"), ", ".join(self.access_product_ids.mapped("display_name")))])

    def _preview_product_revoke(self, partner, data):
        return _rows([(_("Product access removed"), ", ".join(self.access_product_ids.mapped("display_name")))])

    def _preview_offer_create(self, partner, data):
        price = (_("%s (fixed price)", self.offer_fixed_price) if self.offer_price_type == "fixed"
                 else _("%s%% off", self.offer_discount))
        return _rows([
            (_("Special offer on"), ", ".join(self.offer_product_ids.mapped("display_name"))),
            (_("Price"), price),
        ])

    def _preview_chain_start(self, partner, data):
        return _rows([(_("Starts message chain"), self.chain_flow_id.name)])

    def _preview_chain_message(self, partner, data):
        message = self.chain_message_id.with_context(lang=partner.lang or None)
        if not message:
            return Markup("<p>%s</p>") % self.summary
        body = self._render_preview(inline_to_qweb(message.body), partner, data, engine="qweb", owner=message)
        pairs = [(_("Channel"), message.channel)]
        if message.channel != "sms":
            pairs.append((_("Subject"), self._render_preview(message.subject or "", partner, data, owner=message)))
        pairs += [(_("Body"), Markup(body)),
                  (_("Buttons"), ", ".join(message.button_ids.mapped("label")))]
        return _rows(pairs)
