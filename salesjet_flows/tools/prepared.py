"""Server-side prepared statements for the engine's hot statements.

psycopg2 sends every statement as text, so PostgreSQL parses and plans it on every execution. For the
statements an event runs (a few rows, a few joins) planning costs about as much as executing (measured
with ``EXPLAIN ANALYZE`` on a warm connection: 0.3-0.5 ms of planning for 0.5 ms of execution). A statement
run through :func:`execute_prepared` is prepared once per cursor (``PREPARE``, which survives rollbacks and
lives as long as the session) and then executed by name: after its first five executions PostgreSQL keeps a
generic plan and plans it no more. Once per cursor, not per connection: Odoo's pool resets a connection when a
cursor borrows it (psycopg2's ``reset()`` is ``DISCARD ALL``), which drops the session's prepared statements.
"""
import hashlib
import itertools
import re

from psycopg2 import errorcodes

_PLACEHOLDER = re.compile(r"%([%s])")
# (SQL text, slots) -> (statement name, text with $n parameters, number of parameters, its EXECUTE)
_STATEMENTS = {}


def _statement(code, slots=None):
    """(statement name, text with $n parameters, number of parameters, its EXECUTE) of ``code``, cached.
    ``slots``: the parameter number of each placeholder in order (a parameter used in several places is
    sent once), by default one parameter per placeholder."""
    key = (code, slots)
    entry = _STATEMENTS.get(key)
    if entry is None:
        placeholders = _PLACEHOLDER.findall(code).count("s")
        if slots and len(slots) != placeholders:
            raise ValueError(f"{len(slots)} slots for the {placeholders} placeholders of {code!r}")
        numbers = iter(slots) if slots else itertools.count(1)
        text = _PLACEHOLDER.sub(lambda match: "%" if match.group(1) == "%" else f"${next(numbers)}", code)
        name = "salesjet_" + hashlib.sha1(f"{code}{slots}".encode(), usedforsecurity=False).hexdigest()[:20]
        count = max(slots) if slots else placeholders
        call = f"EXECUTE {name}({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"
        entry = _STATEMENTS[key] = (name, text, count, call)
    return entry


def number_parameters(names):
    """(distinct names in order, slots) of the names of a statement's placeholders in order: what
    :func:`execute_statement` takes to send a value used in several places once."""
    distinct = list(dict.fromkeys(names))
    return tuple(distinct), tuple(distinct.index(name) + 1 for name in names)


def execute_prepared(cr, query, before=None):
    """Execute ``query`` (an ``odoo.tools.SQL``) on ``cr`` as a prepared statement of its connection.

    Every parameter's type must follow from the statement's text: a column it is compared with or
    inserted into through ``VALUES``, or an explicit cast (``%s::int[]``, and always in a ``SELECT`` list).

    :param before: SQL text without parameters sent in the same round trip first (a ``SAVEPOINT``)
    """
    return execute_statement(cr, query.code, list(query.params), before=before)


def execute_statement(cr, code, params, before=None, slots=None):
    """:func:`execute_prepared` for a statement composed once: ``code`` an ``odoo.tools.SQL``'s code
    (``%s`` placeholders, ``%%`` for a literal ``%``) and ``params`` its parameters in order, or, with
    ``slots`` (see :func:`number_parameters`), its distinct parameters, each sent once."""
    name, text, count, call = _statement(code, slots)
    if len(params) != count:
        raise ValueError(f"{count} placeholders for {len(params)} parameters")
    # a test cursor wraps the cursor that holds the connection
    holder = cr.__dict__.get("_cursor", cr)
    prepared = holder.__dict__.setdefault("_salesjet_prepared", set())
    prefix = f"{before};\n" if before else ""
    if name not in prepared:
        # its own round trip, once per cursor: an EXECUTE that fails below must not make
        # the name look unprepared while PostgreSQL keeps it (PREPARE outlives a rollback)
        # the text is an SQL object's own code, its parameters now $n: nothing is interpolated into it
        cr.execute(f"{prefix}PREPARE {name} AS {text}")  # pylint: disable=sql-injection
        prepared.add(name)
        prefix = ""
    try:
        cr.execute(f"{prefix}{call}", params)
    except Exception as error:
        if getattr(error, "pgcode", None) == errorcodes.INVALID_SQL_STATEMENT_NAME:
            prepared.discard(name)  # the session lost it (DISCARD ALL): prepared again next time
        raise
