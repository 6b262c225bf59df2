"""Where a segment launch's time goes: the launch's own statement for N contacts in several shapes, alternated,
each in a transaction rolled back (the database is left as it was).

Usage (on a benchmark database kept with ``KEEP_DB=1 bench/run.sh ...``, which holds contacts and a flow)::

    PYTHONPATH=$ODOO_PATH python bench/launch_shapes.py --database salesjet_bench_NNN [--contacts 20000] [--rounds 6]

Shapes (the runs as ``salesjet.flow._enroll`` inserts them for a flow whose first step is due at once):

- ``runs+jobs``: the runs and their first jobs in one statement, as the module does;
- ``no-users``: the same with the runs' ``create_uid`` and ``write_uid`` NULL, which PostgreSQL does not look
  up: what the two keys cost, where the table has them (1.6.0 and before);
- ``no-users-company``: the same, also without the run's company key (dropped in the transaction);
- ``runs``: the runs only, as a run that carried its first step until it runs would be inserted;
- ``runs-no-users``: the runs only, with NULL users.

The shapes run in the order above, then reversed, round after round (ABBA). Nothing here is part of the
module; it is how docs/performance.md's "What the launch target needs" was measured.
"""
import argparse
import statistics
import time

import psycopg2

RUNS = """
    INSERT INTO salesjet_flow_enrollment
        (flow_id, partner_id, company_id, trigger_id, event_id, lead_id, data, state,
         reentry_key, date_start, create_uid, create_date, write_uid, write_date)
    SELECT %(flow)s, p.id, %(company)s, NULL, NULL, NULL, NULL, 'running', NULL, now() AT TIME ZONE 'UTC',
           {uid}, now() AT TIME ZONE 'UTC', {uid}, now() AT TIME ZONE 'UTC'
      FROM unnest(%(partners)s::int[]) AS p(id)
    RETURNING id, partner_id
"""
JOBS = """
    INSERT INTO salesjet_flow_job
        (enrollment_id, flow_id, step_id, partner_id, company_id, scheduled_date, repeat_index, state,
         attempts, create_date)
    SELECT r.id, %(flow)s, %(step)s, r.partner_id, %(company)s, now() AT TIME ZONE 'UTC', 0, 'pending', 0,
           now() AT TIME ZONE 'UTC'
      FROM runs r
"""
USER, NO_USER = "%(uid)s", "NULL::int"
SHAPES = {
    "runs+jobs": f"WITH runs AS ({RUNS.format(uid=USER)}), jobs AS ({JOBS}) SELECT count(*) FROM runs",
    "no-users": f"WITH runs AS ({RUNS.format(uid=NO_USER)}), jobs AS ({JOBS}) SELECT count(*) FROM runs",
    "no-users-company": "ALTER TABLE salesjet_flow_enrollment DROP CONSTRAINT salesjet_flow_enrollment_company_id_fkey;"
                        f" WITH runs AS ({RUNS.format(uid=NO_USER)}), jobs AS ({JOBS}) SELECT count(*) FROM runs",
    "runs": f"WITH runs AS ({RUNS.format(uid=USER)}) SELECT count(*) FROM runs",
    "runs-no-users": f"WITH runs AS ({RUNS.format(uid=NO_USER)}) SELECT count(*) FROM runs",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--contacts", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=6, help="rounds of every shape (ABBA order)")
    args = parser.parse_args()
    if not args.database.startswith("salesjet_bench_"):
        raise SystemExit("a benchmark database (salesjet_bench_…) only")
    connection = psycopg2.connect(dbname=args.database)
    cr = connection.cursor()
    cr.execute("SELECT id FROM res_partner ORDER BY id LIMIT %s", [args.contacts])
    partners = [row[0] for row in cr.fetchall()]
    cr.execute("""
        SELECT f.id, f.company_id, s.id FROM salesjet_flow f
          JOIN salesjet_flow_step s ON s.flow_id = f.id ORDER BY f.id, s.id LIMIT 1
    """)
    flow, company, step = cr.fetchone()
    cr.execute("SELECT id FROM res_users WHERE login = 'admin'")
    params = {"flow": flow, "company": company, "step": step, "partners": partners, "uid": cr.fetchone()[0]}
    connection.rollback()
    seconds = {shape: [] for shape in SHAPES}
    order = list(SHAPES)
    for i in range(args.rounds):
        for shape in order if i % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            cr.execute(SHAPES[shape], params)
            cr.fetchall()
            seconds[shape].append(time.perf_counter() - start)
            connection.rollback()
    base = statistics.median(seconds["runs+jobs"])
    print(f"{len(partners):,} contacts, {args.rounds} rounds a shape; medians, and their speed against 'runs+jobs'")
    for shape, times in seconds.items():
        median = statistics.median(times)
        print(f"  {shape:17} {median / len(partners) * 1e6:6.1f} us a contact  {len(partners) / median:9,.0f}/s"
              f"  {base / median:.2f} x")
    connection.close()


if __name__ == "__main__":
    main()
