"""What foreign-key checks cost: a segment launch and its add-tag drain, timed with some of the job and run
tables' foreign keys dropped, in alternated rounds.

Usage (on a benchmark database kept with ``KEEP_DB=1 bench/run.sh ...``: it alters the job table, so it refuses
any other database)::

    PYTHONPATH=$ODOO_PATH python bench/fk_cost.py --config CONF --database salesjet_bench_NNN \
        [--contacts 10000] [--rounds 6] [--variants all,redundant,none,runs,both]

Each round creates its contacts and a flow shaped as the steps part's (add tag, then email a day later), drops
the variant's constraints, times the launch (a run and its first job a contact) and the drain (each tag job
also inserts the email job), then puts the constraints back as they were (``pg_get_constraintdef``, validated).
Variants run in the order given, then reversed, round after round (ABBA), so that a machine whose speed drifts
weighs on each alike. Variants:

- ``all``: the job table as the module creates it;
- ``redundant``: without the foreign keys of ``flow_id``, ``partner_id`` and ``company_id``, the three
  columns a job copies from its run: what a job row without them would save (measured on 1.5.0; since 1.6.0
  the module creates none, ``RunCopy``, and this variant drops nothing);
- ``none``: without any of the job table's foreign keys (an upper bound of what its checks cost);
- ``runs``: without any of the run table's (``salesjet_flow_enrollment``: a launch inserts a run a contact);
- ``both``: without any foreign key of either table;
- a list of columns, ``job:enrollment_id+run:partner_id``: without the foreign keys of those columns.

PostgreSQL checks each foreign key of each inserted row with a query of its own (an ``AFTER ROW`` trigger that
runs ``SELECT 1 FROM ONLY parent WHERE id = $1 FOR KEY SHARE``), also for a key every row of the batch repeats.
Nothing here is part of the module; it is how docs/performance.md's "What the foreign keys cost" was measured.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import odoo
from odoo.tools import SQL

sys.path.insert(0, str(Path(__file__).parent))
from bench import Bench, log  # noqa: E402

JOBS, RUNS = "salesjet_flow_job", "salesjet_flow_enrollment"
REDUNDANT = ("flow_id", "partner_id", "company_id")
VARIANTS = ("all", "redundant", "none", "runs", "both")


def foreign_keys(cr, table):
    """{column: (table, constraint name, definition)} of ``table``'s single-column foreign keys."""
    cr.execute(SQL("""
        SELECT a.attname, c.conname, pg_get_constraintdef(c.oid)
          FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.conrelid = %s::regclass AND c.contype = 'f' AND array_length(c.conkey, 1) = 1
    """, table))
    return {column: (table, name, definition) for column, name, definition in cr.fetchall()}


def variant_keys(variant, keys):
    """The constraints ``variant`` drops; ``keys``: {table: foreign_keys(table)}."""
    if ":" in variant:
        tables = {"job": JOBS, "run": RUNS}
        try:
            return [keys[tables[table]][column] for table, column in
                    (item.split(":", 1) for item in variant.split("+"))]
        except (KeyError, ValueError):
            raise SystemExit(f"unknown column in {variant!r}: job:<column> or run:<column>, joined by +") from None
    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r}: {', '.join(VARIANTS)}, or job:<column>+run:<column>")
    return {
        "all": [],
        "redundant": [keys[JOBS][column] for column in REDUNDANT if column in keys[JOBS]],
        "none": list(keys[JOBS].values()),
        "runs": list(keys[RUNS].values()),
        "both": [*keys[JOBS].values(), *keys[RUNS].values()],
    }[variant]


def drop(cr, constraints):
    for table, name, _definition in constraints:
        cr.execute(SQL("ALTER TABLE %s DROP CONSTRAINT %s", SQL.identifier(table), SQL.identifier(name)))


def restore(cr, constraints):
    for table, name, definition in constraints:
        # NOT VALID then VALIDATE: the same constraint as before, checked against every row written meanwhile
        cr.execute(SQL("ALTER TABLE %s ADD CONSTRAINT %s %s NOT VALID",
                       SQL.identifier(table), SQL.identifier(name), SQL(definition)))
        cr.execute(SQL("ALTER TABLE %s VALIDATE CONSTRAINT %s", SQL.identifier(table), SQL.identifier(name)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--contacts", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=6, help="rounds of every variant (ABBA order)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="the first is the ratios' base")
    args = parser.parse_args()
    if not args.database.startswith("salesjet_bench_"):
        raise SystemExit("fk_cost.py alters the job and run tables: give it a benchmark database (salesjet_bench_...)")
    odoo.tools.config.parse_config(["-c", args.config, "-d", args.database, "--log-level=warn"])
    variants = args.variants.split(",")
    bench = Bench(args.database, args.contacts, 0, 0, 0)
    with bench.registry.cursor() as cr:
        keys = {table: foreign_keys(cr, table) for table in (JOBS, RUNS)}
    for variant in variants:
        variant_keys(variant, keys)  # an unknown variant stops the script before any change
    order = []
    for i in range(args.rounds):
        order += variants if i % 2 == 0 else variants[::-1]
    rates = {variant: {"launch": [], "tag": []} for variant in variants}
    for i, variant in enumerate(order):
        marker = f"fk{int(time.time())}_{i}"
        bench.create_contacts(args.contacts, marker)
        constraints = variant_keys(variant, keys)
        with bench.registry.cursor() as cr:
            flow = bench.make_tag_then_email_flow(bench.env(cr), f"FK cost {marker}", marker)
            drop(cr, constraints)
            cr.commit()
        try:  # the keys come back whatever fails, the launch included
            with bench.registry.cursor() as cr:
                cr.execute(SQL("CHECKPOINT"))  # each round starts without the WAL the last one left to write
                started = time.perf_counter()
                flow = flow.with_env(bench.env(cr))
                flow._launch_segment(flow.trigger_ids)
                cr.commit()
                launch = time.perf_counter() - started
            started = time.perf_counter()
            bench.drain_with_cron([flow.id])
            tag = time.perf_counter() - started
        finally:
            with bench.registry.cursor() as cr:
                restore(cr, constraints)
        rates[variant]["launch"].append(args.contacts / launch)
        rates[variant]["tag"].append(args.contacts / tag)
        log(f"round {i + 1}/{len(order)} {variant}: launch {args.contacts / launch:,.0f}/s, "
            f"add tag {args.contacts / tag:,.0f} jobs/s")
    base = {phase: statistics.median(rates[variants[0]][phase]) for phase in ("launch", "tag")}
    for table, table_keys in keys.items():
        print(f"\nforeign keys of {table}: {', '.join(sorted(table_keys))}", end="")
    print()
    print(f"{args.contacts:,} contacts a round, {args.rounds} rounds a variant; medians, and their ratio to "
          f"{variants[0]!r}")
    for variant in variants:
        launch, tag = (statistics.median(rates[variant][phase]) for phase in ("launch", "tag"))
        print(f"  {variant:10} launch {launch:8,.0f}/s ({launch / base['launch']:.2f} x)   "
              f"add tag {tag:8,.0f} jobs/s ({tag / base['tag']:.2f} x)   "
              f"[{len(variant_keys(variant, keys))} foreign keys dropped]")


if __name__ == "__main__":
    main()
