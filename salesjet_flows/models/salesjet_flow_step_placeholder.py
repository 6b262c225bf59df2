"""Writing placeholders: a picker that builds ``{{ path ||| fallback }}`` for a field of the
contact, the lead or the event, and the SMS text's preview for a sample contact."""
import re

from odoo import _, api, fields, models
from odoo.tools.mail import TEXT_URL_REGEX

from odoo.addons.link_tracker.models.link_tracker import LINK_TRACKER_MIN_CODE_LENGTH

from ..tools.placeholders import placeholder_fallback
from .website_visitor import LINK_PARAM, partner_link_proof

PICKER_ROOTS = [
    ("object", "Contact"),
    ("lead", "Lead"),
    ("event", "Event / form data"),
]

PICKER_MODELS = {"object": "res.partner", "lead": "crm.lead"}


class SalesjetFlowStepPlaceholder(models.AbstractModel):
    _name = "salesjet.flow.step.placeholder"
    _description = "Flow step: placeholder picker"

    # the picker's choices are kept in the form only (not stored): a helper, not a setting
    placeholder_root = fields.Selection(
        PICKER_ROOTS, string="Insert a value of", compute="_compute_placeholder_root", readonly=False,
        help="Build a placeholder to copy into the texts: a field of the contact, of the run's lead, or a "
             "value of the event (a website form's field).",
    )
    placeholder_model = fields.Char(compute="_compute_placeholder_model")
    placeholder_field_id = fields.Many2one(
        "ir.model.fields", string="Field", compute="_compute_placeholder_root", readonly=False,
        domain="[('model', '=', placeholder_model), ('store', '=', True), ('groups', '=', False), "
               "('ttype', 'not in', ('one2many', 'many2many', 'binary', 'json', 'properties', "
               "'properties_definition'))]",
    )
    placeholder_event_key = fields.Char(
        string="Event value", compute="_compute_placeholder_root", readonly=False,
        help="The name of the form field or of the event's value, e.g. age.",
    )
    # Odoo's placeholder picker (type # in a text) reads the model of ``object`` from this field
    placeholder_render_model = fields.Char(compute="_compute_placeholder_model")
    placeholder_snippet = fields.Char(
        string="Placeholder", compute="_compute_placeholder_snippet",
        help="Copy it into a text. Where the value is missing, the text after ||| shows instead: change it "
             "to your own words. A placeholder without ||| shows its field's name, e.g. #Contact | Phone#.",
    )
    preview_partner_id = fields.Many2one(
        "res.partner", string="Sample contact",
        help="The contact the previews are rendered for; empty: your own contact.",
    )
    sms_preview = fields.Text(
        string="Preview", compute="_compute_sms_preview",
        help="The SMS text as the sample contact would receive it (without event data nor lead).",
    )

    def _compute_placeholder_root(self):
        for step in self:
            step.placeholder_root = "object"
            step.placeholder_field_id = False
            step.placeholder_event_key = False

    @api.depends("placeholder_root")
    def _compute_placeholder_model(self):
        for step in self:
            step.placeholder_model = PICKER_MODELS.get(step.placeholder_root, "")
            step.placeholder_render_model = "res.partner"

    @api.depends("placeholder_root", "placeholder_field_id", "placeholder_event_key")
    def _compute_placeholder_snippet(self):
        for step in self:
            expression = False
            if step.placeholder_root == "event" and (step.placeholder_event_key or "").strip():
                expression = f"event.get({step.placeholder_event_key.strip()!r})"
            elif step.placeholder_root in PICKER_MODELS and step.placeholder_field_id \
                    and step.placeholder_field_id.model == PICKER_MODELS[step.placeholder_root]:
                expression = f"{step.placeholder_root}.{step.placeholder_field_id.name}"
            step.placeholder_snippet = (
                f"{{{{ {expression} ||| {placeholder_fallback(self.env, expression)} }}}}" if expression else False)

    @api.depends("action_type", "sms_body", "sms_template_id", "preview_partner_id")
    @api.depends_context("lang", "uid")
    def _compute_sms_preview(self):
        for step in self:
            source = step._sms_source() if step.action_type == "sms" else ""
            if not (source or "").strip():
                step.sms_preview = False
                continue
            partner = step.preview_partner_id or self.env.user.partner_id
            try:
                step.sms_preview = step._render_preview(source, partner, {}, owner=step.sms_template_id or step)
            except Exception as e:  # noqa: BLE001 - the preview shows why the text does not render
                step.sms_preview = _("This text does not render: %s", e)

    def sms_composer_preview(self, body, partner_id=False):
        """The SMS composer's live preview: ``body`` (the text being written, saved or not) rendered for the
        contact ``partner_id`` (default: the user's own) as the step's preview renders it, its links in the
        form they are sent (tracked and signed for the contact), for the composer to count.

        :return: ``{"text": str, "partner": name, "error": str or False}``; a text that does not render
            gives its reason in ``error``, not an exception.
        """
        step = self[:1] or self
        step.check_access("read")
        partner = self.env["res.partner"].browse(partner_id) if partner_id else self.env.user.partner_id
        result = {"text": "", "partner": "", "error": False}
        try:
            partner.check_access("read")
            result["partner"] = partner.display_name
            text = step._render_preview(body or "", partner, {}, owner=step)
        except Exception as e:  # noqa: BLE001 - the composer shows why the text does not render
            result["error"] = _("This text does not render: %s", e)
            return result
        result["text"] = step._sms_preview_links(str(text), partner)
        return result

    def _sms_preview_links(self, text, partner):
        """``text`` with each link as the contact receives it: shortened on the step's tracking mailing
        (``<base>/r/<code>``, the code's length estimated for a new link) and signed for the contact."""
        tracked = "{}/r/{}?{}={}".format(self.get_base_url().rstrip("/"), "x" * LINK_TRACKER_MIN_CODE_LENGTH,
                                         LINK_PARAM, partner_link_proof(self.env, partner.id))
        return re.sub(TEXT_URL_REGEX, tracked, text)
