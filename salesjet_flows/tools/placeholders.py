import ast
import re
from contextlib import contextmanager
from contextvars import ContextVar
from html import unescape as html_unescape

from lxml import etree
from lxml import html as lxml_html
from markupsafe import Markup

from odoo import SUPERUSER_ID
from odoo.exceptions import UserError, ValidationError
from odoo.tools.rendering_tools import parse_inline_template

from .http import PermanentError

# "{{ expr ||| default }}": Odoo keeps the spaces before "}}" in the default
TRAILING_DEFAULT_SPACE = re.compile(r"(\|\|\|[^}]*?)\s+\}\}")


# an output of QWeb without default content: ``<t t-out="expr"/>`` or ``<t t-out="expr"></t>``
EMPTY_QWEB_OUT = re.compile(r'<t\s+(t-out|t-esc)="([^"]*)"\s*(?:/>|>\s*</t>)')


# what a placeholder's fallback may not hold: it would end the placeholder or start another
FALLBACK_UNSAFE = re.compile(r"[{}#]|\|\|\|")


def tidy_defaults(source):
    """Drop the spaces between a placeholder's default and its closing braces."""
    return TRAILING_DEFAULT_SPACE.sub(r"\1}}", source or "")


def _root_labels(env):
    # the labels of the fields that hold these records (translated with the module's fields)
    event_fields = env["salesjet.event"]._fields
    return {"object": event_fields["partner_id"]._description_string(env),
            "lead": event_fields["lead_id"]._description_string(env),
            "company": event_fields["company_id"]._description_string(env),
            "event": env["salesjet.flow.enrollment"]._fields["event_id"]._description_string(env)}


def _path_labels(env, node):
    """The labels of a placeholder's value: ["Contact", "Phone"] for ``object.phone``, ["Event", "age"] for
    ``event.get('age')``; None when ``node`` is no field path."""
    if isinstance(node, ast.Attribute):
        chain = []
        while isinstance(node, ast.Attribute):
            chain.insert(0, node.attr)
            node = node.value
        if not (isinstance(node, ast.Name) and node.id in PLACEHOLDER_ROOTS):
            return None
        labels, model = [_root_labels(env)[node.id]], PLACEHOLDER_ROOTS[node.id]
        for attr in chain:
            field = env[model]._fields.get(attr) if model else None
            labels.append(field._description_string(env) if field else attr)
            model = field.comodel_name if field is not None and field.relational else None
        return labels
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
            and PlaceholderChecker.is_event(node.func.value) and node.args \
            and PlaceholderChecker.is_constant(node.args[0], str):
        return [_root_labels(env)["event"], node.args[0].value]
    if isinstance(node, ast.Subscript) and PlaceholderChecker.is_event(node.value) \
            and PlaceholderChecker.is_constant(node.slice, str):
        return [_root_labels(env)["event"], node.slice.value]
    return None


def placeholder_fallback(env, expression):
    """The visible text of a placeholder without value whose author gave no ``||| default``.

    ``#Contact | Phone#`` for ``{{ object.phone }}`` (the labels of its path, in the rendering
    language), ``#Event | age#`` for ``{{ event.get('age') }}``; a helper such as
    ``format_date(object.x_birthday)`` takes the label of its field; anything else ``#Value#``.
    """
    try:
        tree = ast.parse(str(expression).strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = None
    labels = None
    if isinstance(tree, ast.Name):
        # a name a text offers (``points``) or a root alone
        labels = [_root_labels(env).get(tree.id) or tree.id.replace("_", " ").capitalize()]
    elif tree is not None:
        for node in ast.walk(tree):
            labels = _path_labels(env, node)
            if labels:
                break
    text = " | ".join(labels) if labels else env["salesjet.flow.condition"]._fields["value"]._description_string(env)
    return f"#{FALLBACK_UNSAFE.sub(' ', text).strip()}#"


def with_fallbacks(env, source, engine="inline_template"):
    """``source`` where every placeholder without an author's default gets its visible fallback
    (``placeholder_fallback``), so that a missing value never renders empty. The author's
    ``||| default`` always wins. Inline templates: ``{{ expr }}``; QWeb: a ``t-out``/``t-esc``
    without default content (what ``inline_to_qweb`` writes for ``{{ expr }}``)."""
    source = str(source or "")
    if engine == "qweb":
        if "t-out" not in source and "t-esc" not in source:
            return source

        def fill(match):
            expression = html_unescape(match.group(2))
            return Markup('<t {}="{}">{}</t>').format(match.group(1), expression,
                                                        placeholder_fallback(env, expression))
        return EMPTY_QWEB_OUT.sub(fill, source)
    if "{{" not in source:
        return source
    parts = []
    for literal, expression, default in parse_inline_template(source):
        parts.append(literal)
        if expression:
            default = default.strip() or placeholder_fallback(env, expression)
            parts.append(f"{{{{ {expression} ||| {default} }}}}")
    return "".join(parts)


def placeholder_event_data(data, fallbacks=True):
    """The ``event`` of placeholders: the run's data, where a form's fields (``fields``) are also
    read at the top (``event.get('age')``, as the *event / form data* condition reads them) unless
    the data has its own value of that name. With ``fallbacks``, an empty text counts as missing
    (None), so that QWeb shows the fallback too (it does only for None/False)."""
    data = dict(data or {})
    form_fields = data.get("fields")
    if isinstance(form_fields, dict):
        for key, value in form_fields.items():
            data.setdefault(key, value)
    if fallbacks:
        data = {key: (None if value == "" else value) for key, value in data.items()}
    return data


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


# The placeholder language of users who are not Settings administrators (docs/user-guide.md, "Placeholders").
# Scheduled steps render as the cron's user, with more rights than a text's author: so such texts
# may only read, never call code. Validated by allow-list on the parsed expression (``ast``): any
# node, name, attribute or call not listed below is refused, whatever Python or Odoo adds later.
PLACEHOLDER_ROOTS = {"object": "res.partner", "lead": "crm.lead", "company": "res.company"}


# helpers of Odoo's rendering context (``mail.render.mixin._render_eval_context``): name -> most arguments
PLACEHOLDER_FUNCTIONS = {"format_date": 3, "format_datetime": 4, "format_time": 4, "format_amount": 3,
                         "format_duration": 1}


# methods of records: name -> (model they are called on, model they return, most arguments)


# the attributes of QWeb templates a placeholder text may use (other t-* run code: t-set, t-foreach...)
QWEB_ALLOWED = {"t-out", "t-esc", "t-if", "t-elif", "t-else"}


def placeholders_refused(env, source, engine="inline_template", extra=(), author_env=None):
    """The expressions of ``source`` outside the placeholder language (a list, empty if none).

    Inline templates (subjects, SMS, notes...): the ``{{ ... }}`` placeholders. QWeb (HTML
    bodies): every ``t-*`` attribute must be one of ``QWEB_ALLOWED`` with an allowed
    expression; the HTML is parsed as QWeb parses it, so no quoting trick hides one.
    """
    source = str(source or "")
    checker = PlaceholderChecker(env, extra, author_env)
    refused = []
    if engine == "qweb":
        if "t-" not in source.lower():
            return refused
        try:
            root = lxml_html.fragment_fromstring(source, create_parent="div")
        except (etree.ParserError, ValueError):
            return [source]
        expressions = []
        for element in root.iter():
            for name, value in element.attrib.items():
                if name.startswith("t-"):
                    if name not in QWEB_ALLOWED:
                        refused.append(f"{name}={value}")
                    elif name != "t-else":
                        expressions.append(value)
    else:
        if "{{" not in source:
            return refused
        expressions = [expression for _literal, expression, _default in parse_inline_template(source) if expression]
    for expression in expressions:
        try:
            checker.check(expression)
        except PlaceholderRefused:
            refused.append(expression.strip())
    return refused


def _is_settings_admin(env):
    # sudo() does not make a user a Settings administrator: code in a text needs the user's own right
    return env.uid == SUPERUSER_ID or env.user.has_group("base.group_system")


# Set by ``checking_stored_texts``, never from a request's context: a flow's Start re-checks texts already saved.
_STORED_TEXTS = ContextVar("salesjet_checking_stored_texts", default=False)


@contextmanager
def checking_stored_texts():
    """Within this block ``check_placeholder_policy`` judges texts already saved as the scheduler will
    (``guard_placeholders``): allowed, or approved when a Settings administrator saved them, whoever checks;
    it approves nothing. Used by a flow's Start, so that texts an administrator wrote do not stop it."""
    token = _STORED_TEXTS.set(True)
    try:
        yield
    finally:
        _STORED_TEXTS.reset(token)


def check_placeholder_policy(env, source, where, engine="inline_template", extra=()):
    """On save: refuse, for users who are not Settings administrators, a text outside the placeholder
    language; for Settings administrators, approve its code expressions (``salesjet.placeholder.approval``)
    so that the scheduler may run them.

    Odoo's own rule still applies on top (rendering is checked as the user in Odoo's sandbox: without
    *Template Editor* rights only plain fields such as ``object.name`` are allowed).
    """
    stored = _STORED_TEXTS.get()
    admin = _is_settings_admin(env)
    refused = placeholders_refused(env, source, engine, extra, author_env=None if admin or stored else env)
    if refused and stored:
        refused = env["salesjet.placeholder.approval"]._unapproved(refused)
    if not refused:
        return
    if admin and not stored:
        env["salesjet.placeholder.approval"]._approve(refused)
        return
    raise ValidationError(env._(
        "%(where)s: the placeholder “%(expression)s” is not allowed. Placeholders may use fields of the "
        "contact, the lead and the company (e.g. {{ object.name }}, {{ lead.name }}, {{ company.name }}), "
        "the event's values ({{ event.get('key') ||| default }}) and the helpers format_date, "
        "format_datetime, format_amount and object.salesjet_popular_products(3); only Settings "
        "administrators may write other code.",
        where=where, expression=refused[0]))


def check_template_placeholders(env, templates, fields_engines, where):
    """``check_placeholder_policy`` on the texts ``fields_engines`` ([(field name, engine)]) of
    ``templates``, in every installed language (each is rendered for the contacts who speak it)."""
    if not templates:
        return
    for lang, _name in env["res.lang"].get_installed():
        for template in templates.sudo().with_context(lang=lang):
            for fname, engine in fields_engines:
                check_placeholder_policy(env, template[fname], where, engine=engine)


def check_templates_used_by_steps(templates, step_field, fields_engines, where):
    """The templates among ``templates`` that a flow step uses (through its field ``step_field``) are step texts:
    the scheduler renders them with the cron's rights. So their ``fields_engines`` texts go through
    ``check_template_placeholders``; ``where(template, step)`` names the template in the refusal."""
    steps = templates.env["salesjet.flow.step"].sudo().search([(step_field, "in", templates.ids)])
    for template in steps[step_field]:
        step = steps.filtered(lambda s, template=template: s[step_field] == template)[:1]
        check_template_placeholders(templates.env, template, fields_engines, where(template, step))


def guard_placeholders(env, source, owner, engine="inline_template", extra=()):
    """At render time, whoever renders: refuse a text with an expression outside the placeholder
    language that no Settings administrator saved (``salesjet.placeholder.approval``). A text that
    reached the database without the check on save (SQL, a template edited another way) is never run.

    :param owner: the record the text comes from, named in the error
    :raise PlaceholderError: the job fails at once, without retry
    """
    refused = placeholders_refused(env, source, engine, extra)
    unapproved = env["salesjet.placeholder.approval"]._unapproved(refused) if refused else []
    if unapproved:
        raise PlaceholderError(env._(
            "The placeholder “%(expression)s” is not allowed and a Settings administrator did not write "
            "this text (%(record)s): it was not rendered. Save the text again with allowed placeholders.",
            expression=unapproved[0], record=owner.sudo().display_name if owner else "?"))


class PlaceholderError(PermanentError, UserError):
    """A stored text refused at render time: its job fails at once, with this message."""


class PlaceholderRefused(Exception):
    """A placeholder outside the language: ``args[0]`` is the offending expression."""


class PlaceholderChecker:
    """Check a placeholder expression against the allow-list.

    A value is a field path from ``object`` (the contact), ``lead`` (the run's lead) or
    ``company``: each attribute must be a field of the model reached so far, a relational
    field continues on its comodel, and a field restricted to groups is refused. Also:
    ``event.get('key'[, default])`` / ``event['key']``, the ``extra`` names a text offers
    (e.g. ``points``), the ``PLACEHOLDER_FUNCTIONS`` on values and constants, and the
    methods of records with constant arguments that ``salesjet.flow.step._placeholder_methods()`` lists
    (bridges extend it).

    :param author_env: the author's environment on save: the models a path reaches must
        be readable by them; None at render time (the structure is checked, not the author).
    """

    def __init__(self, env, extra=(), author_env=None):
        self.env = env
        self.extra = set(extra)
        self.author_env = author_env
        self.methods = env["salesjet.flow.step"]._placeholder_methods()

    def check(self, expression):
        try:
            tree = ast.parse(expression.strip(), mode="eval")
            kind = self.value(tree.body)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise PlaceholderRefused(expression) from None
        if kind[0] not in ("record", "scalar"):
            raise PlaceholderRefused(expression)

    def value(self, node):
        """("record", model) | ("scalar", None) | ("event", None) of an allowed node, else raise."""
        if isinstance(node, ast.Name):
            if node.id in PLACEHOLDER_ROOTS:
                return "record", PLACEHOLDER_ROOTS[node.id]
            if node.id in self.extra:
                return "scalar", None
            if node.id == "event":
                return "event", None
        elif isinstance(node, ast.Attribute):
            kind, model = self.value(node.value)
            if kind == "record" and not node.attr.startswith("_"):
                field = self.env[model]._fields.get(node.attr)
                if field is not None and not field.groups:
                    if field.relational:
                        self.readable(field.comodel_name)
                        return "record", field.comodel_name
                    return "scalar", None
        elif isinstance(node, ast.Subscript):
            if self.is_event(node.value) and self.is_constant(node.slice, str):
                return "scalar", None
        elif isinstance(node, ast.Call) and not node.keywords:
            return self.call(node)
        raise PlaceholderRefused(ast.unparse(node))

    def call(self, node):
        func, args = node.func, node.args
        if any(isinstance(arg, ast.Starred) for arg in args):
            raise PlaceholderRefused(ast.unparse(node))
        if isinstance(func, ast.Name) and func.id in PLACEHOLDER_FUNCTIONS:
            if 1 <= len(args) <= PLACEHOLDER_FUNCTIONS[func.id]:
                for arg in args:
                    if not self.is_constant(arg, (str, int, float, bool, type(None))):
                        self.value_or_raise(arg)
                return "scalar", None
        elif isinstance(func, ast.Attribute) and func.attr == "get" and self.is_event(func.value):
            if 1 <= len(args) <= 2 and self.is_constant(args[0], str) and all(
                    self.is_constant(arg, (str, int, float, bool, type(None))) for arg in args[1:]):
                return "scalar", None
        elif isinstance(func, ast.Attribute) and func.attr in self.methods:
            on_model, result_model, most = self.methods[func.attr]
            if (result_model in self.env and self.value(func.value) == ("record", on_model) and len(args) <= most
                    and all(self.is_constant(arg, int) for arg in args)):
                self.readable(result_model)
                return "record", result_model
        raise PlaceholderRefused(ast.unparse(node))

    def value_or_raise(self, node):
        if self.value(node)[0] not in ("record", "scalar"):
            raise PlaceholderRefused(ast.unparse(node))

    def readable(self, model):
        if self.author_env is not None and not self.author_env[model].has_access("read"):
            raise PlaceholderRefused(model)

    @staticmethod
    def is_event(node):
        return isinstance(node, ast.Name) and node.id == "event"

    @staticmethod
    def is_constant(node, types):
        return isinstance(node, ast.Constant) and isinstance(node.value, types) and not (
            types is int and isinstance(node.value, bool))