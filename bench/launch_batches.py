"""Time each batch of a segment launch of N contacts, rolled back after, on a database kept by bench/run.sh.

It shows whether a launch's batches grow with what it has written (a statement whose plan reads the runs
written before it): the mean time a batch in each tenth of the launch, with its window reads and its
enrolment statement apart. The contacts (``ref = winN``) are created and analysed as the million part does,
once; later runs reuse them.

    KEEP_DB=1 bash bench/run.sh --contacts 1000 --ref-contacts 10 --parts floors
    cd bench && PYTHONPATH=$ODOO_PATH python launch_batches.py CONF DB 1000000 [explain]

``explain`` also prints the plan of the old page query (``ref = … AND id > middle ORDER BY id LIMIT``).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odoo  # noqa: E402

import bench as B  # noqa: E402


def launch_batches(conf, db, n, explain=False):
    odoo.tools.config.parse_config(["-c", conf, "-d", db])
    bench = B.Bench(db, 1000, 10, 0, 0)
    marker = f"win{n}"
    with bench.registry.cursor() as cr:
        cr.execute("SELECT count(*) FROM res_partner WHERE ref = %s", [marker])
        have = cr.fetchone()[0]
    if not have:
        started = time.perf_counter()
        bench.create_contacts_setwise(n, marker)
        print(f"created {n} in {time.perf_counter() - started:.1f}s", flush=True)
    from odoo.addons.salesjet_flows.models import salesjet_flow  # noqa: PLC0415
    flow_model = salesjet_flow.SalesjetFlow
    with bench.registry.cursor() as cr:
        flow = bench.make_tag_then_email_flow(bench.env(cr), f"Win {marker}", marker)
        cr.commit()
        if explain:
            cr.execute("SELECT (min(id) + max(id)) / 2 FROM res_partner WHERE ref = %s", [marker])
            middle = cr.fetchone()[0]
            cr.execute("EXPLAIN (ANALYZE, BUFFERS) SELECT id FROM res_partner WHERE active AND ref = %s "
                       "AND (company_id IS NULL OR company_id IN (1)) AND id > %s ORDER BY id LIMIT 10000",
                       [marker, middle])
            print("\n".join(row[0] for row in cr.fetchall()))
        spent = {"window": 0.0, "enroll": 0.0}
        originals = {"window": flow_model._segment_window, "enroll": flow_model._enroll}

        def timed(key):
            def wrapper(self, *args, **kwargs):
                started = time.perf_counter()
                try:
                    return originals[key](self, *args, **kwargs)
                finally:
                    spent[key] += time.perf_counter() - started
            return wrapper

        flow_model._segment_window, flow_model._enroll = timed("window"), timed("enroll")
        try:
            batches, last, exhausted = [], 0, False
            started = time.perf_counter()
            while not exhausted:
                spent.update(window=0.0, enroll=0.0)
                batch_started = time.perf_counter()
                _read, _enrolled, last, exhausted = flow._launch_segment_batch(
                    flow.trigger_ids, last, salesjet_flow.LAUNCH_BATCH_SIZE)
                batches.append((time.perf_counter() - batch_started, spent["window"], spent["enroll"]))
            total = time.perf_counter() - started
        finally:
            flow_model._segment_window, flow_model._enroll = originals["window"], originals["enroll"]
            cr.rollback()
    print(f"launch {n}: {total:.1f}s")
    step = max(1, len(batches) // 10)
    for first in range(0, len(batches), step):
        part = batches[first:first + step]
        mean = [sum(batch[i] for batch in part) / len(part) * 1000 for i in range(3)]
        print(f"batches {first}-{first + len(part) - 1}: {mean[0]:.0f} ms a batch "
              f"(windows {mean[1]:.1f} ms, enrolment {mean[2]:.0f} ms)")


if __name__ == "__main__":
    launch_batches(sys.argv[1], sys.argv[2], int(sys.argv[3]), explain=len(sys.argv) > 4)
