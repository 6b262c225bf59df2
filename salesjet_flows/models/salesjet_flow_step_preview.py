from markupsafe import Markup

from odoo import models

from ..tools.placeholders import (
    guard_placeholders,
    placeholder_event_data,
    tidy_defaults,
    with_fallbacks,
)


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
