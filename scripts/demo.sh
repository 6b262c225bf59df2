#!/usr/bin/env bash
# Bring up Odoo with SalesJet Flows and its demo flows on http://localhost:8069
# (login admin / admin). Usage: scripts/demo.sh [DATABASE]   (default: salesjet_demo)
source "$(dirname "$0")/lib.sh"
setup_all
DB="${1:-salesjet_demo}"
PORT="${SALESJET_HTTP_PORT:-8069}"
CONF="$STATE_DIR/odoo-demo.conf"
write_config "$CONF" "$PORT"
# the addon and its bridges (eLearning, shop, loyalty), which bring those apps along
ADDONS=$(cd "$REPO_DIR" && ls -d */__manifest__.py | xargs -n1 dirname | sort | paste -sd, -)
if db_exists "$DB"; then
    say "updating $ADDONS in the existing database $DB"
    odoo_bin -c "$CONF" -d "$DB" -u "$ADDONS" --stop-after-init
else
    say "creating database $DB with $ADDONS and their demo data (a few minutes the first time)"
    odoo_bin -c "$CONF" -d "$DB" -i "$ADDONS" --stop-after-init
fi
# a past for the demo flows, made once by the engine itself (salesjet_flows/tools/demo_history.py)
say "giving the demo flows their history: demo contacts who went through them over the past six weeks (once, one or two minutes)"
printf '%s\n' "from odoo.addons.salesjet_flows.tools.demo_history import generate" \
    "generate(env)" "env.cr.commit()" \
    | odoo_bin shell -c "$CONF" -d "$DB" --no-http --log-level=warn \
    || say "the demo history could not be made (see above); the demo flows start without a past"
say "serving $DB on http://localhost:$PORT (login admin, password admin); Ctrl+C to stop"
exec "$VENV/bin/python" "$ODOO_PATH/odoo-bin" -c "$CONF" -d "$DB" --db-filter="^$DB\$"
