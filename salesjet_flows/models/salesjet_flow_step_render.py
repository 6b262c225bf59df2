import json

from markupsafe import escape

from odoo import _, api, models
from odoo.exceptions import ValidationError

from ..tools.placeholders import (
    check_placeholder_policy,
    check_template_placeholders,
    guard_placeholders,
    placeholder_event_data,
    tidy_defaults,
    with_fallbacks,
)


class SalesjetFlowStepRender(models.AbstractModel):
    _name = "salesjet.flow.step.render"
    _description = "Flow step: rendering and placeholder rules"

    @api.model
    def _placeholder_methods(self):
        """Methods a placeholder may call on a record, with constant integer arguments:
        {method name: (model it is called on, model of its result, most arguments)}. Bridges add theirs."""
        return {"salesjet_popular_products": ("res.partner", "product.product", 1)}

    def _render_context_key(self, job):
        enrollment = job.enrollment_id
        return enrollment.lead_id.id, json.dumps(enrollment.data or {}, sort_keys=True, default=str)

    def _render_for_jobs(self, source, jobs, engine="inline_template", lang=None, owner=None, fallbacks=True):
        """Render ``source`` for each job's contact, as few times as possible.

        The contact is ``object``; ``lead`` (the run's lead, maybe empty),
        ``company`` (the flow's company) and ``event`` (the event's data, a
        dict) are available too, e.g. ``{{ event.get('plan') ||| standard }}``.
        Jobs sharing a lead and event data (every run of a segment launch)
        render in one call.

        :param owner: the record ``source`` was read from (default: the step); a text
            outside the placeholder language renders only if a Settings administrator
            wrote it last (``guard_placeholders``), else ``PlaceholderError``.
        :param fallbacks: give every placeholder without ``||| default`` its visible fallback
            (``with_fallbacks``); False for data sent to machines (webhooks)
        :return: dict {job id: rendered text}
        """
        self.ensure_one()
        guard_placeholders(self.env, source, self if owner is None else owner, engine)
        Render = self.env["mail.render.mixin"]
        if lang:
            Render = Render.with_context(lang=lang)
        if fallbacks:
            source = with_fallbacks(Render.env, source, engine)
        groups = {}
        for job in jobs:
            groups.setdefault(self._render_context_key(job), self.env["salesjet.flow.job"])
            groups[self._render_context_key(job)] |= job
        result = {}
        for (lead_id, data_json), group in groups.items():
            add_context = {
                "lead": self.env["crm.lead"].browse(lead_id),
                "event": placeholder_event_data(json.loads(data_json), fallbacks),
                "company": self._placeholder_company(),
            }
            partner_ids = list(set(group.partner_id.ids))
            rendered = Render._render_template(
                tidy_defaults(source) if engine == "inline_template" else source, "res.partner", partner_ids,
                engine=engine, add_context=add_context,
                options={"post_process": engine == "qweb"},
            )
            for job in group:
                result[job.id] = rendered[job.partner_id.id]
        return result

    def _jobs_per_lang(self, jobs):
        """The batch's jobs grouped by the language their texts are read and rendered in: {lang or None: jobs}.

        The contact's language, whatever a template's own ``lang`` expression says: Odoo's
        ``mail.render.mixin._classify_per_lang`` renders that expression per record (an empty one would send
        every contact the default language), so the step types group here instead, in one place.
        """
        return {lang or None: lang_jobs for lang, lang_jobs in jobs.grouped(lambda j: j.partner_id.lang or "").items()}

    def _placeholder_company(self):
        """The ``company`` of placeholders: the flow's company, else the current one."""
        return self.flow_id.company_id or self.env.company

    def _check_renders(self, source, label, engine="inline_template"):
        """Refuse on save a text whose placeholders do not render on a sample contact."""
        if not source:
            return
        # before any rendering: the sample render below runs the placeholders
        check_placeholder_policy(self.env, source, _("Step “%(step)s”, %(label)s", step=self.display_name,
                                                        label=label), engine=engine)
        sample = self.env.user.partner_id
        try:
            self.env["mail.render.mixin"]._render_template(
                source, "res.partner", sample.ids, engine=engine,
                add_context={"lead": self.env["crm.lead"], "event": {}, "company": self._placeholder_company()},
            )
        except Exception as e:  # noqa: BLE001 - any rendering error is the user's to fix
            raise ValidationError(_(
                "Step “%(step)s”: the %(label)s does not render: %(error)s. Check its placeholders, "
                "e.g. {{ object.name }}, {{ lead.name }}, {{ event.get('key') ||| default }}.",
                step=self.display_name, label=label, error=escape(str(e)),
            )) from e

    def _check_template_placeholders(self, template, fields_engines, label):
        """Refuse on save a template of the step (``mail.template``, ``sms.template``) whose texts,
        in any installed language, go beyond the placeholder language (see ``check_placeholder_policy``)."""
        check_template_placeholders(self.env, template, fields_engines, _(
            "Step “%(step)s”, %(label)s “%(template)s”", step=self.display_name, label=label,
            template=template.sudo().display_name))
