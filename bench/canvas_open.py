"""Time to open the canvas of a long, busy flow: 150 steps and 100,000 runs.

Server side: the flow's ``diagram_data`` (triggers, nodes, job counts of every step, message
figures, split branches), computed cold as the form's read computes it, and its JSON size.
The client side (drawing the canvas) is measured by the Hoot test "a flow of 150 steps..."
(static/tests/flow_canvas.test.js), which logs its render time.

Usage (any database with salesjet_flows installed; everything is rolled back):
    PYTHONPATH=$ODOO_PATH python bench/canvas_open.py --config <odoo.conf> --database <db> [--steps 150] [--runs 100000]
"""
import argparse
import json
import statistics
import time

import odoo  # run with PYTHONPATH=$ODOO_PATH
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import SQL


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--runs", type=int, default=100000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=int, default=10,
                        help="jobs per run: the steps a run went through before the one it waits on (at most)")
    args = parser.parse_args()
    odoo.tools.config.parse_config(["-c", args.config])
    registry = Registry(args.database)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        started = time.perf_counter()
        flow = env["salesjet.flow"].create({"name": "Canvas bench", "state": "running"})
        tag = env["res.partner.category"].create({"name": "Canvas bench"})
        steps = env["salesjet.flow.step"].create([
            {"flow_id": flow.id, "sequence": 10 * (i + 1), "action_type": "add_tag", "tag_ids": [(6, 0, tag.ids)],
             "timing": "delay", "delay_value": 1, "delay_unit": "days"}
            for i in range(args.steps)])
        env["salesjet.flow.trigger"].create({"flow_id": flow.id, "trigger_type": "api", "event_code": "bench"})
        partner = env["res.partner"].create({"name": "Canvas bench contact"})
        env.flush_all()
        # runs spread along the flow: each waits on one step and has the jobs of the --window steps
        # before it (about runs x window jobs, 1,000,000 by default)
        cr.execute(SQL(
            """
            INSERT INTO salesjet_flow_enrollment (flow_id, partner_id, company_id, state, date_start,
                                                  create_uid, write_uid, create_date, write_date)
            SELECT %(flow)s, %(partner)s, %(company)s, 'running', now(), 1, 1, now(), now()
              FROM generate_series(1, %(runs)s)
            RETURNING id
            """, flow=flow.id, partner=partner.id, company=env.company.id, runs=args.runs))
        run_ids = [row[0] for row in cr.fetchall()]
        step_ids = steps.ids
        cr.execute(SQL(
            """
            INSERT INTO salesjet_flow_job (enrollment_id, flow_id, step_id, partner_id, company_id,
                                           scheduled_date, state, repeat_index, attempts, create_date)
            SELECT r.id, %(flow)s, s.step_id, %(partner)s, %(company)s, now(),
                   CASE WHEN s.pos = mod(r.n, %(count)s) THEN 'pending'
                        WHEN mod(s.pos, 17) = 0 THEN 'skipped' ELSE 'done' END, 0, 1, now()
              FROM (SELECT id, row_number() OVER () AS n FROM unnest(%(runs)s::int[]) AS id) r
              JOIN (SELECT step_id, row_number() OVER () - 1 AS pos FROM unnest(%(steps)s::int[]) AS step_id) s
                ON s.pos BETWEEN mod(r.n, %(count)s) - %(window)s + 1 AND mod(r.n, %(count)s)
            """, flow=flow.id, partner=partner.id, company=env.company.id, runs=run_ids, steps=step_ids,
            count=len(step_ids), window=args.window))
        jobs = cr.rowcount
        cr.execute("ANALYZE salesjet_flow_job")
        print(f"data: {args.steps} steps, {args.runs} runs, {jobs} jobs ({time.perf_counter() - started:.1f} s)")
        timings = []
        for _round in range(args.rounds):
            env.invalidate_all()
            began = time.perf_counter()
            data = flow.diagram_data
            timings.append(time.perf_counter() - began)
        counts = []
        for _round in range(args.rounds):
            began = time.perf_counter()
            flow._diagram_counts()
            counts.append(time.perf_counter() - began)
        print(f"of which the job counts (_diagram_counts, one GROUP BY): median "
              f"{statistics.median(counts) * 1000:.0f} ms")
        size = len(json.dumps(data))
        print(f"diagram_data: median {statistics.median(timings) * 1000:.0f} ms, "
              f"min {min(timings) * 1000:.0f} ms over {args.rounds} cold computes; JSON {size / 1024:.0f} KiB; "
              f"{len(data['steps'])} nodes, waiting on the last step: {data['steps'][-1]['counts'].get('pending')}")
        cr.rollback()


if __name__ == "__main__":
    main()
