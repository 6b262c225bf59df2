# Shared setup for scripts/demo.sh and scripts/test.sh (sourced, not run).
# Prepares everything but Odoo itself: a Python venv with Odoo's requirements,
# a running PostgreSQL with a role for this user, and an Odoo config file.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ODOO_PATH="${ODOO_PATH:-/opt/odoo18}"
STATE_DIR="${SALESJET_STATE_DIR:-$HOME/.cache/salesjet-flows}"
VENV="${SALESJET_VENV:-$STATE_DIR/venv}"

say() { printf '\033[1m[salesjet]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[salesjet]\033[0m %s\n' "$*" >&2; exit 2; }

check_odoo() {
    if [ ! -f "$ODOO_PATH/odoo-bin" ] || [ ! -d "$ODOO_PATH/odoo/addons/base" ]; then
        die "Odoo 18.0 was not found at ODOO_PATH=$ODOO_PATH. Put an Odoo 18.0 Community source tree there, or set ODOO_PATH to the folder that holds odoo-bin."
    fi
    if ! grep -q "version_info = (18, 0" "$ODOO_PATH/odoo/release.py"; then
        die "The Odoo at ODOO_PATH=$ODOO_PATH is not 18.0. Set ODOO_PATH to an Odoo 18.0 source tree."
    fi
}

ensure_venv() {
    local python="${PYTHON:-python3}"
    command -v "$python" >/dev/null || die "python3 was not found: install Python 3.11 or 3.12, or set PYTHON."
    mkdir -p "$STATE_DIR"
    [ -x "$VENV/bin/python" ] || { say "creating a virtualenv in $VENV"; "$python" -m venv "$VENV"; }
    local reqs="$STATE_DIR/requirements.txt"
    # Odoo's pins for Python 3.12 (its 3.11 pins do not build here), then ours.
    "$VENV/bin/python" "$REPO_DIR/scripts/odoo_requirements.py" "$ODOO_PATH/requirements.txt" > "$reqs.new"
    cat "$REPO_DIR/requirements-dev.txt" >> "$reqs.new"
    if ! cmp -s "$reqs.new" "$reqs" || [ ! -f "$STATE_DIR/.venv-ok" ]; then
        say "installing Python requirements into $VENV (first run only)"
        rm -f "$STATE_DIR/.venv-ok"
        "$VENV/bin/pip" install --quiet --upgrade pip wheel setuptools
        "$VENV/bin/pip" install --quiet -r "$reqs.new"
        mv "$reqs.new" "$reqs"
        touch "$STATE_DIR/.venv-ok"
    else
        rm -f "$reqs.new"
    fi
    export PATH="$VENV/bin:$PATH"
    export PYTHONPATH="$ODOO_PATH${PYTHONPATH:+:$PYTHONPATH}"
}

ensure_postgres() {
    if ! pg_isready -q 2>/dev/null; then
        if command -v pg_lsclusters >/dev/null; then
            local cluster
            cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
            [ -n "$cluster" ] || die "No PostgreSQL cluster exists: create one (pg_createcluster) or start your server."
            say "starting PostgreSQL $cluster"
            pg_ctlcluster $cluster start
        else
            die "PostgreSQL is not running on its default socket: start it, or set PGHOST/PGPORT."
        fi
        for _ in $(seq 1 30); do pg_isready -q && break; sleep 1; done
        pg_isready -q || die "PostgreSQL did not come up: see its log."
    fi
    # Odoo connects as the current system user; create that role once.
    if ! psql -d postgres -Atqc "select 1" >/dev/null 2>&1; then
        say "creating PostgreSQL role $(id -un)"
        if [ "$(id -u)" = 0 ]; then
            su postgres -c "createuser --superuser $(id -un)" || true
        else
            sudo -u postgres createuser --superuser "$(id -un)" || true
        fi
        psql -d postgres -Atqc "select 1" >/dev/null || die "Cannot connect to PostgreSQL as $(id -un): create that role."
    fi
}

# write_config FILE HTTP_PORT: an Odoo config with this repository's addons.
write_config() {
    local file="$1" port="$2"
    mkdir -p "$STATE_DIR/data"
    cat > "$file" <<CONF
[options]
addons_path = $ODOO_PATH/odoo/addons,$ODOO_PATH/addons,$REPO_DIR
data_dir = $STATE_DIR/data
db_host = ${PGHOST:-False}
db_port = ${PGPORT:-False}
http_port = $port
admin_passwd = admin
max_cron_threads = ${SALESJET_CRON_THREADS:-1}
CONF
}

odoo_bin() { "$VENV/bin/python" "$ODOO_PATH/odoo-bin" "$@"; }

db_exists() { psql -d postgres -Atqc "select 1 from pg_database where datname = '$1'" | grep -q 1; }

setup_all() {
    check_odoo
    ensure_venv
    ensure_postgres
}

# ensure_browser: the browser tests (tours) need chromium and websocket-client. Without them Odoo
# *skips* those tests and the suite would pass without running them: install chromium when we are
# root, else stop with a sentence.
ensure_browser() {
    local browser
    for browser in google-chrome chromium chromium-browser google-chrome-stable; do
        command -v "$browser" >/dev/null && break
        browser=""
    done
    if [ -z "$browser" ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            say "installing chromium for the browser tests (tours)"
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
                || die "Could not install chromium: install it (apt-get install chromium) to run the browser tests."
        else
            die "Chromium was not found: install it (e.g. sudo apt-get install chromium); without it the browser tests (tours) would be skipped."
        fi
    fi
    "$VENV/bin/python" -c "import websocket" 2>/dev/null \
        || die "websocket-client is missing from $VENV: run $VENV/bin/pip install websocket-client; without it the browser tests would be skipped."
}
