#!/usr/bin/env bash
# Benchmark SalesJet Flows on a fresh database (see bench/bench.py for what is measured).
# Usage: bench/run.sh [--contacts N] [--ref-contacts M] [--events E] [--worker-jobs W] [--prod-contacts P] [--prod-emails Q]
#                     [--parts floors,steps,events,http,workers,references,production,statistics] [--stat-runs R]
#                     [--million N [--million-base B]]   (the million part, not in the default parts)
# Defaults: N = 100000 contacts, M = 5000 for the two references. KEEP_DB=1 keeps the database.
source "$(dirname "$0")/../scripts/lib.sh"
setup_all
# OCA's automation_oca 18.0 as the peer reference, without its dependencies (they are Odoo's).
if ! "$VENV/bin/python" -c "import importlib.util as u; import sys; sys.exit(0 if u.find_spec('odoo.addons.automation_oca') else 1)" 2>/dev/null \
   && [ ! -d "$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/odoo/addons/automation_oca" ]; then
    say "installing odoo-addon-automation-oca (18.0) into the venv, without dependencies"
    "$VENV/bin/pip" install --quiet --no-deps "odoo-addon-automation-oca>=18.0,<18.1"
fi
OCA_ADDONS="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/odoo/addons"
DB="salesjet_bench_$$"
CONF="$STATE_DIR/odoo-bench-$$.conf"
SALESJET_CRON_THREADS=0 write_config "$CONF" 8269
sed -i "s|^addons_path = \(.*\)|addons_path = \1,$OCA_ADDONS|" "$CONF"
cleanup() {
    if [ "${KEEP_DB:-0}" != 1 ]; then
        dropdb --if-exists "$DB" || true
        rm -rf "$STATE_DIR/data/filestore/$DB" "$CONF"
    else
        say "kept database $DB (config $CONF)"
    fi
}
trap cleanup EXIT
say "installing salesjet_flows, mass_mailing and automation_oca into $DB (no demo data)"
odoo_bin -c "$CONF" -d "$DB" -i salesjet_flows,automation_oca --without-demo=all --stop-after-init --log-level=warn
"$VENV/bin/python" "$REPO_DIR/bench/bench.py" --config "$CONF" --database "$DB" "$@"
