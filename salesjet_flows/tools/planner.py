"""Conditions written for PostgreSQL's planner."""
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
