"""Conditions written for PostgreSQL's planner."""
from contextlib import contextmanager

from odoo.tools import SQL


def state_in(column, *states):
    """SQL: the state ``column`` (an SQL expression) is one of ``states``, written so that PostgreSQL neither
    matches it with the predicate of a partial index on the state (the due and the ended jobs' indexes) nor
    uses an index on the state (the runs').

    For a statement that picks rows by a selective key (ids, runs, contacts) and tests their state, the planner
    takes the state's index when the table's statistics make the rows of that state look few, and a launch or a
    drain changes the states of more rows than autoanalyze has seen for a while (it waits for 10 % of a table of
    millions to change): it then reads every row of that state and filters them by the key. Measured on a bench
    database after a 20,000-contact launch, for 480 runs: their waiting jobs in 2.9 ms through the due jobs'
    index against 0.38 ms through the runs' key, the running runs in 2.1 ms through the runs' state index
    against 0.35 ms through the primary key (``tests/test_query_plans.py``).
    """
    return SQL("(%s || '') IN %s", column, tuple(states))


def unindexed(column):
    """SQL: the value of ``column`` (an SQL expression), written so that PostgreSQL does not read it through an
    index on it: for a test on a key whose statistics lag (the runs of a flow a launch is writing look few), in
    a statement that must go through another, selective, key."""
    return SQL("(%s + 0)", column)


# A batch's rows picked by their ids or keys (``id = ANY(…)``): through the keys' index, never by reading the table
# whole. A statement that joins its values to the table by id (``UPDATE … FROM unnest(…) v WHERE j.id = v.id``)
# also tests ``j.id = ANY(…)``, so that the table's side has a path of its own through the key. Joins are left to
# the planner: the counters' triggers, planned under the same settings, join their transition tables, which have
# no index (with hash joins off, 1,000 jobs took 466 ms instead of 26).
BY_KEYS = ("enable_seqscan",)
# Rows taken in an index's order up to a limit: never a whole range read and sorted.
IN_ORDER = ("enable_sort",)


@contextmanager
def planner_off(cr, *settings, when=True):
    """Run the statements of the block (and fetch their rows in it) with PostgreSQL's planner ``settings`` off
    (``"jit"``, ``"enable_sort"``…, see ``BY_KEYS`` and ``IN_ORDER``), then put the transaction's values back.

    For the statements whose right plan does not depend on the statistics, which lag behind what a launch or a
    drain writes (autoanalyze waits for 10 % of a table to change; a table created empty looks empty until
    then). Measured on a fresh database after a 100,000-contact launch (``auto_explain``): the scheduler's
    batch read every due job through a bitmap scan and sorted them on disk to take 1,000 (up to 94 ms a batch
    instead of 1-8 ms), updated its outcomes through a hash join over the whole job table (46-63 ms against
    24-28 ms through the key, the counters' trigger included), and read its runs by id with a scan of the run
    table (11-17 ms instead of 1); the launch's windows of contacts were the whole table scanned and sorted
    (docs/performance.md, "the scheduler's plans on a fresh database"). A switched-off setting only makes a
    plan that needs it cost more: where no other plan exists, PostgreSQL still takes it.

    ``set_config(…, true)`` lasts until the transaction (or the savepoint) ends: hence the values put back,
    for the other statements of the transaction (Odoo's among them). Two round trips a block.
    """
    if not when:
        yield
        return
    cr.execute(SQL("SELECT %s", SQL(", ").join(
        SQL("current_setting(%s), set_config(%s, 'off', true)", name, name) for name in settings)))
    previous = cr.fetchone()[0::2]
    yield
    changed = [(name, value) for name, value in zip(settings, previous, strict=True) if value != "off"]
    if changed:
        cr.execute(SQL("SELECT %s", SQL(", ").join(
            SQL("set_config(%s, %s, true)", name, value) for name, value in changed)))


def jit_off(cr, when=True):
    """``planner_off`` for JIT compilation: for a statement whose cost the planner overestimates from lagging
    statistics. The runs' lookup of a launch, one contact at a time, is estimated at thousands of rows a
    contact when it finds none, and a batch of 10,000 crossed ``jit_above_cost``: PostgreSQL then compiled it,
    inlined and optimised, for 84-135 ms a batch that runs in 25 ms."""
    return planner_off(cr, "jit", when=when)
