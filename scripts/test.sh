#!/usr/bin/env bash
# Run the whole test suite: first the tests of scripts/ (plain pytest), then, on a
# fresh database, install every addon of this repository (salesjet_flows and its
# bridges, with demo data) into a new database, run pytest-odoo on their tests,
# drop the database.
# Extra arguments go to the Odoo suite's pytest, e.g.  scripts/test.sh -k launch
# KEEP_DB=1 keeps the database afterwards for debugging.
source "$(dirname "$0")/lib.sh"
setup_all
# first the tests of these scripts (plain pytest, no Odoo: pytest-odoo's plugin is off), a few seconds
say "testing the scripts (scripts/tests)"
(cd "$REPO_DIR" && "$VENV/bin/python" -m pytest -q -p no:odoo scripts/tests) \
    || die "the tests of scripts/ failed (see above); the Odoo suite does not run"
ensure_browser
DB="salesjet_test_$$_$(date +%s)"
PORT="${SALESJET_TEST_HTTP_PORT:-8169}"
CONF="$STATE_DIR/odoo-test-$$.conf"
# no cron thread in the test server: tests drive the scheduler themselves
SALESJET_CRON_THREADS=0 write_config "$CONF" "$PORT"
cleanup() {
    if [ "${KEEP_DB:-0}" != 1 ]; then
        odoo_bin db -D "$STATE_DIR/data" drop "$DB" >/dev/null 2>&1 || dropdb --if-exists "$DB" || true
        rm -f "$CONF"
    else
        say "kept database $DB (config $CONF)"
    fi
}
trap cleanup EXIT
ADDONS=$(cd "$REPO_DIR" && ls -d */__manifest__.py | xargs -n1 dirname | sort)
say "installing $(echo $ADDONS) into the fresh database $DB"
INSTALL_LOG="$STATE_DIR/install-$$.log"
odoo_bin -c "$CONF" -d "$DB" -i "$(echo $ADDONS | tr ' ' ','),base_automation" --stop-after-init --log-level=warn 2>&1 | tee "$INSTALL_LOG"
# an error while installing (e.g. demo data that does not load: Odoo only warns) is a failure, even if Odoo goes on
if grep -E " (ERROR|CRITICAL) |demo data failed to install" "$INSTALL_LOG" >/dev/null; then
    die "installing the addons logged errors (see above); the suite does not run on a half-installed database"
fi
rm -f "$INSTALL_LOG"
say "running the tests"
cd "$REPO_DIR"
"$VENV/bin/python" -m pytest --odoo-database="$DB" --odoo-config="$CONF" --odoo-http $ADDONS "$@"
