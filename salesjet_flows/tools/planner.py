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


@contextmanager
def jit_off(cr, when=True):
    """Run the statements of the block (and fetch their rows in it) with PostgreSQL's JIT compilation off, then
    put the transaction's setting back.

    For a statement whose cost the planner overestimates from lagging statistics: the runs' lookup of a launch,
    one contact at a time, is estimated at thousands of rows a contact when it finds none, and a batch of
    10,000 crossed ``jit_above_cost``: PostgreSQL then compiled it, inlined and optimised, for 84-135 ms a batch
    that runs in 25 ms. ``set_config(…, true)`` lasts until the transaction (or the savepoint) ends.
    """
    if not when:
        yield
        return
    cr.execute(SQL("SELECT current_setting('jit'), set_config('jit', 'off', true)"))
    previous = cr.fetchone()[0]
    yield
    if previous != "off":
        cr.execute(SQL("SELECT set_config('jit', %s, true)", previous))
