import ast
import html
import json
import re

from markupsafe import Markup, escape

from odoo import _, models
from odoo.exceptions import ValidationError
from odoo.tools.rendering_tools import parse_inline_template

# "{{ expr ||| default }}": Odoo keeps the spaces before "}}" in the default
TRAILING_DEFAULT_SPACE = re.compile(r"(\|\|\|[^}]*?)\s+\}\}")


def tidy_defaults(source):
    """Drop the spaces between a placeholder's default and its closing braces."""
    return TRAILING_DEFAULT_SPACE.sub(r"\1}}", source or "")


def inline_to_qweb(html):
    """Turn ``{{ expr ||| default }}`` placeholders of an HTML text into QWeb ``t-out``.

    Unlike ``inline_template`` rendering, QWeb escapes what it outputs, so a
    contact's name holding HTML cannot inject markup into a mail or a note.
    The literal parts are the author's own (sanitized) HTML and stay as they are.
    """
    parts = []
    for literal, expression, default in parse_inline_template(str(html or "")):
        parts.append(Markup(literal))
        if expression:
            parts.append(Markup('<t t-out="{}">{}</t>').format(expression, default.strip()))
    return Markup("").join(parts)


# Names a placeholder of a user who is not a Settings administrator may not use: they reach other
# records, other users' rights or the database (``object.env[...].sudo()``, ``object.search([])``,
# ``user``, ``ctx``...) or change data while rendering. Scheduled steps render as the cron's user, so
# without this a Flows administrator could run code with more rights than their own.
UNSAFE_NAMES = {
    "env", "sudo", "with_user", "with_env", "with_context", "with_company", "search", "search_read",
    "search_count", "search_fetch", "name_search", "browse", "read", "read_group", "fetch", "write", "create",
    "unlink", "copy", "update", "exists", "user", "ctx", "self", "request", "registry", "pool", "cr",
}


# QWeb attributes holding an expression (the step's own HTML is sanitized; the generated t-out too)
QWEB_ATTRIBUTE = re.compile(r'\bt-(?:out|esc|raw|if|elif|foreach|att-[\w-]+|attf-[\w-]+|set|value)\s*=\s*"([^"]*)"')


def placeholder_expressions(source):
    """The Python expressions of a text's ``{{ ... }}`` placeholders and QWeb ``t-*`` attributes."""
    source = str(source or "")
    expressions = [expression for _literal, expression, _default in parse_inline_template(source) if expression]
    expressions += [html.unescape(value) for value in QWEB_ATTRIBUTE.findall(source)]
    return [expression.strip() for expression in expressions if expression.strip()]


def unsafe_placeholder(source):
    """The first placeholder of ``source`` using a name of ``UNSAFE_NAMES`` or a private one, else None."""
    for expression in placeholder_expressions(source):
        try:
            tree = ast.parse(expression, mode="eval")
        except SyntaxError:
            continue  # not Python: the rendering check refuses it
        for node in ast.walk(tree):
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if name and (name in UNSAFE_NAMES or name.startswith("_")):
                return expression
    return None


def check_placeholder_policy(env, source, where):
    """Refuse, for users who are not Settings administrators, placeholders that reach beyond the
    contact's, the lead's and the event's own values (see ``UNSAFE_NAMES``).

    Odoo's own rule still applies on top (rendering is checked as the user in Odoo's sandbox: without
    *Template Editor* rights only plain fields such as ``object.name`` are allowed).
    """
    if env.su or env.user.has_group("base.group_system"):
        return
    expression = unsafe_placeholder(source)
    if expression:
        raise ValidationError(_(
            "%(where)s: the placeholder “%(expression)s” is not allowed. Use the values of the contact, the "
            "lead and the event, e.g. {{ object.name }}, {{ lead.name }}, {{ event.get('key') ||| default }}; "
            "only Settings administrators may write code in placeholders.",
            where=where, expression=expression))


class SalesjetFlowStep(models.Model):
    _inherit = "salesjet.flow.step"

    def _render_context_key(self, job):
        enrollment = job.enrollment_id
        return enrollment.lead_id.id, json.dumps(enrollment.data or {}, sort_keys=True, default=str)

    def _render_for_jobs(self, source, jobs, engine="inline_template", lang=None):
        """Render ``source`` for each job's contact, as few times as possible.

        The contact is ``object``; ``lead`` (the run's lead, maybe empty) and
        ``event`` (the event's data, a dict) are available too, e.g.
        ``{{ event.get('plan') ||| standard }}``. Jobs sharing a lead and
        event data (every run of a segment launch) render in one call.

        :return: dict {job id: rendered text}
        """
        self.ensure_one()
        Render = self.env["mail.render.mixin"]
        if lang:
            Render = Render.with_context(lang=lang)
        groups = {}
        for job in jobs:
            groups.setdefault(self._render_context_key(job), self.env["salesjet.flow.job"])
            groups[self._render_context_key(job)] |= job
        result = {}
        for (lead_id, data_json), group in groups.items():
            add_context = {
                "lead": self.env["crm.lead"].browse(lead_id),
                "event": json.loads(data_json),
            }
            partner_ids = list(set(group.partner_id.ids))
            rendered = Render._render_template(
                tidy_defaults(source) if engine == "inline_template" else source, "res.partner", partner_ids, engine=engine, add_context=add_context,
                options={"post_process": engine == "qweb"},
            )
            for job in group:
                result[job.id] = rendered[job.partner_id.id]
        return result

    def _check_renders(self, source, label, engine="inline_template"):
        """Refuse on save a text whose placeholders do not render on a sample contact."""
        if not source:
            return
        # before any rendering: the sample render below runs the placeholders
        check_placeholder_policy(self.env, source, _("Step “%(step)s”, %(label)s", step=self.display_name,
                                                        label=label))
        sample = self.env.user.partner_id
        try:
            self.env["mail.render.mixin"]._render_template(
                source, "res.partner", sample.ids, engine=engine,
                add_context={"lead": self.env["crm.lead"], "event": {}},
            )
        except Exception as e:  # noqa: BLE001 - any rendering error is the user's to fix
            raise ValidationError(_(
                "Step “%(step)s”: the %(label)s does not render: %(error)s. Check its placeholders, "
                "e.g. {{ object.name }}, {{ lead.name }}, {{ event.get('key') ||| default }}.",
                step=self.display_name, label=label, error=escape(str(e)),
            )) from e

    def _render_test(self, partner):
        """Render this step's message for ``partner`` outside any run (test sends and previews)."""
        self.ensure_one()
        Render = self.env["mail.render.mixin"].with_context(lang=partner.lang)
        context = {"lead": self.env["crm.lead"], "event": {}}
        if self.action_type == "email":
            template = self.mail_template_id.with_context(lang=partner.lang)
            return {
                "subject": Render._render_template(template.subject or "", "res.partner", partner.ids,
                                                   add_context=context)[partner.id],
                "body": Render._render_template(template.body_html or "", "res.partner", partner.ids,
                                                engine="qweb", add_context=context,
                                                options={"post_process": True})[partner.id],
            }
        source = self._sms_source() if self.action_type == "sms" else (self.note_body or "")
        return {"body": Render._render_template(source, "res.partner", partner.ids, add_context=context)[partner.id]}
