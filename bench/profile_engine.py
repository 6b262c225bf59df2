"""Profile the engine in one process: a segment launch, an add-tag batch drain and an email drain.

Usage (on a benchmark database kept with ``KEEP_DB=1 bench/run.sh ...``)::

    python bench/profile_engine.py --config CONF --database DB [--contacts 5000] [--top 25]

For each phase it prints the wall time, the time spent waiting for PostgreSQL (every statement the
cursor executes, timed client-side and grouped by its first words, as ``pg_stat_statements`` would
group them) and the cProfile functions with the largest cumulative time. Nothing here is part of the
module; it is how docs/performance.md's "what bounds each figure" was measured.
"""
import argparse
import cProfile
import io
import pstats
import re
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import odoo
from odoo.tools import SQL

sys.path.insert(0, str(Path(__file__).parent))
from bench import Bench, log  # noqa: E402

SORT = "cumulative"


class StatementTimer:
    """Client-side statement timing: wraps ``odoo.sql_db.Cursor.execute``."""

    def __init__(self):
        self.stats = defaultdict(lambda: [0, 0.0])
        self._orig = None

    def __enter__(self):
        self.stats.clear()
        self._orig = orig = odoo.sql_db.Cursor.execute
        stats = self.stats

        def execute(cursor, query, params=None, log_exceptions=True):
            started = time.perf_counter()
            try:
                return orig(cursor, query, params, log_exceptions)
            finally:
                text = query.code if isinstance(query, SQL) else str(query)
                key = re.sub(r"\s+", " ", text).strip()[:110]
                entry = stats[key]
                entry[0] += 1
                entry[1] += time.perf_counter() - started

        odoo.sql_db.Cursor.execute = execute
        return self

    def __exit__(self, *exc):
        odoo.sql_db.Cursor.execute = self._orig

    def report(self, top=12):
        total = sum(seconds for _count, seconds in self.stats.values())
        lines = [f"  SQL total {total:.2f}s in {sum(c for c, _s in self.stats.values())} statements"]
        for key, (count, seconds) in sorted(self.stats.items(), key=lambda kv: -kv[1][1])[:top]:
            lines.append(f"    {seconds:7.2f}s {count:6d}x  {key}")
        return "\n".join(lines), total


def profiled(label, func, top):
    profile = cProfile.Profile()
    with StatementTimer() as timer:
        started = time.perf_counter()
        profile.enable()
        result = func()
        profile.disable()
        elapsed = time.perf_counter() - started
    sql_report, sql_total = timer.report()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats(SORT).print_stats(top)
    print(f"\n=== {label}: {elapsed:.2f}s wall, of which SQL {sql_total:.2f}s ({sql_total / elapsed:.0%}) ===")
    print(sql_report)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:8000])
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--phases", default="launch,tag,email")
    parser.add_argument("--direct", type=int, default=0,
                        help="drain with batches of this size in one transaction each (salesjet.flow.job."
                             "_process_due_batch), without ir.cron's calls and their time budget")
    parser.add_argument("--sort", default="cumulative", help="cProfile order: cumulative or tottime")
    args = parser.parse_args()
    global SORT  # noqa: PLW0603 - a script's option
    SORT = args.sort
    odoo.tools.config.parse_config(["-c", args.config, "-d", args.database, "--log-level=warn"])
    phases = set(args.phases.split(","))
    bench = Bench(args.database, args.contacts, 0, 0, 0)
    marker = f"prof{int(time.time())}"
    ids = bench.create_contacts(args.contacts, marker)
    log(f"{len(ids)} contacts {marker}")
    with bench.registry.cursor() as cr:
        flow = bench.make_tag_then_email_flow(bench.env(cr), f"Profile {marker}", marker)
        cr.commit()
        flow_id = flow.id
        if "launch" in phases:
            profiled("launch", lambda: flow._launch_segment(flow.trigger_ids), args.top)
            cr.commit()
        else:
            flow._launch_segment(flow.trigger_ids)
            cr.commit()

    def drain():
        if args.direct:
            while True:
                with bench.registry.cursor() as cr:
                    if not bench.env(cr)["salesjet.flow.job"]._process_due_batch(args.direct):
                        return None
        with bench.registry.cursor() as cr:
            env = bench.env(cr)
            cron = env.ref("salesjet_flows.ir_cron_salesjet_process_jobs")
            job = {**cron.read(load=None)[0], "done": 0, "remaining": 0, "timed_out_counter": 0}
        bench.drain_with_cron([flow_id])
        return job

    if "tag" in phases:
        profiled("add tag (cron drain)", drain, args.top)
    else:
        drain()
    if "email" in phases:
        with bench.registry.cursor() as cr:
            cr.execute(SQL("UPDATE salesjet_flow_job SET scheduled_date = %s "
                           "WHERE flow_id = %s AND state = 'pending'",
                           odoo.fields.Datetime.now() - timedelta(seconds=1), flow_id))
        profiled("email (cron drain)", drain, args.top)


if __name__ == "__main__":
    main()
