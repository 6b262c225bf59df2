"""Time a launch and its add-tag drain batch by batch, with autovacuum and the checkpoints marked beside them.

For the question "why did this drain run slower than that one": it creates N contacts, launches the steps
part's flow (add tag, then email a day later) on them, drains it through the cron's path
(``ir.cron._process_job``, as the benchmark does), and samples the server once a second on a connection of
its own: autovacuum's workers and what they work on (``pg_stat_activity``), checkpoints
(``pg_stat_bgwriter``) and WAL (``pg_stat_wal``). It prints the drain's rate, its 1,000-job batches (median,
90th percentile, slowest), the share of the drain spent inside batches, and the batches that ran while
autovacuum worked or a checkpoint started against the others.

Run it on a database kept by the benchmark, a fresh one for each round (as the steps part times a
database minutes old)::

    KEEP_DB=1 bash bench/run.sh --contacts 1000 --ref-contacts 10 --parts floors
    cd bench && PYTHONPATH=$ODOO_PATH python drain_trace.py CONF DB [N=100000] [--json FILE]

Nothing here is part of the module; it is how docs/performance.md's "a fresh database's drain, batch by
batch" was measured.
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import psycopg2  # noqa: E402

import odoo  # noqa: E402

import bench as B  # noqa: E402

SAMPLE = """
    SELECT extract(epoch FROM now()),
           (SELECT array_agg(regexp_replace(query, '^autovacuum: ', ''))
              FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'),
           b.checkpoints_req + b.checkpoints_timed, w.wal_bytes
      FROM pg_stat_bgwriter b, pg_stat_wal w
"""


class Sampler(threading.Thread):
    """Once a second, on a connection of its own: (epoch, autovacuum's work, checkpoints so far, WAL bytes)."""

    def __init__(self, connection_info):
        super().__init__(daemon=True)
        self.connection_info, self.samples, self.stopped = connection_info, [], threading.Event()

    def run(self):
        with psycopg2.connect(**self.connection_info) as conn:
            conn.autocommit = True
            with conn.cursor() as cr:
                while not self.stopped.is_set():
                    cr.execute(SAMPLE)
                    epoch, vacuums, checkpoints, wal = cr.fetchone()
                    self.samples.append((float(epoch), vacuums or [], checkpoints, int(wal)))
                    self.stopped.wait(1)


def around(samples, start, end):
    """What the samples from a second before ``start`` to a second after ``end`` saw: (autovacuum's work,
    checkpoints started)."""
    inside = [s for s in samples if start - 1 <= s[0] <= end + 1]
    if not inside:
        return set(), 0
    return {work for s in inside for work in s[1]}, inside[-1][2] - inside[0][2]


def trace(conf, db, n):
    odoo.tools.config.parse_config(["-c", conf, "-d", db])
    bench = B.Bench(db, 1000, 10, 0, 0)
    sampler = Sampler(odoo.sql_db.connection_info_for(db)[1])
    sampler.start()
    marker = f"trace{int(time.time())}"
    bench.create_contacts(n, marker)
    from odoo.addons.salesjet_flows.models import salesjet_flow_job  # noqa: PLC0415
    job_model = salesjet_flow_job.SalesjetFlowJob
    original = job_model._process_due_batch
    batches = []

    def timed(self, *args, **kwargs):
        started = time.time()
        count = original(self, *args, **kwargs)
        batches.append((started, time.time(), count))
        return count

    job_model._process_due_batch = timed
    try:
        with bench.registry.cursor() as cr:
            flow = bench.make_tag_then_email_flow(bench.env(cr), f"Trace {marker}", marker)
            cr.commit()
            launch = [time.time()]
            flow._launch_segment(flow.trigger_ids)
            cr.commit()
            launch.append(time.time())
            flow_id = flow.id
        drain = [time.time()]
        bench.drain_flow(flow_id)
        drain.append(time.time())
    finally:
        job_model._process_due_batch = original
        sampler.stopped.set()
        sampler.join()
    return {"contacts": n, "launch": launch, "drain": drain, "batches": batches, "samples": sampler.samples}


def report(result):
    n, (ds, de), batches, samples = result["contacts"], result["drain"], result["batches"], result["samples"]
    jobs = sum(count for _s, _e, count in batches)
    print(f"launch {n:,} contacts: {n / (result['launch'][1] - result['launch'][0]):,.0f}/s")
    print(f"drain {jobs:,} jobs in {de - ds:.1f} s: {jobs / (de - ds):,.0f} jobs/s, {len(batches)} batches, "
          f"{sum(e - s for s, e, _c in batches) / (de - ds):.0%} of it inside batches")
    full = sorted(1000 * (e - s) for s, e, count in batches if count == 1000)
    if full:
        print(f"batches of 1,000 jobs: median {statistics.median(full):.1f} ms, "
              f"p90 {full[int(len(full) * 0.9)]:.1f} ms, slowest {full[-1]:.1f} ms")
    vacuums, checkpoints = around(samples, ds, de)
    print(f"during the drain: {checkpoints} checkpoint(s); autovacuum: {', '.join(sorted(vacuums)) or 'none'}")
    by_kind = {"autovacuum at work": [], "checkpoint started": [], "neither": []}
    for s, e, count in batches:
        if count != 1000:
            continue
        work, started = around(samples, s, e)
        kind = "autovacuum at work" if work else "checkpoint started" if started else "neither"
        by_kind[kind].append(1000 * (e - s))
    for kind, times in by_kind.items():
        if times:
            print(f"  batches with {kind}: {len(times)}, median {statistics.median(times):.1f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config")
    parser.add_argument("database")
    parser.add_argument("contacts", nargs="?", type=int, default=100_000)
    parser.add_argument("--json", help="also write every batch and sample to this file")
    args = parser.parse_args()
    result = trace(args.config, args.database, args.contacts)
    report(result)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out)


if __name__ == "__main__":
    main()
