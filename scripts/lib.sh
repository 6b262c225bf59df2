# Shared setup for scripts/demo.sh and scripts/test.sh (sourced, not run).
# Prepares everything: Odoo 18.0 itself (fetched with git when ODOO_PATH holds none),
# a Python venv with Odoo's requirements, a running PostgreSQL with a role for this
# user, and an Odoo config file.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# whether the user chose ODOO_PATH: only the default may fall back to $STATE_DIR/odoo
ODOO_PATH_FROM_USER="${ODOO_PATH:+1}"
ODOO_PATH="${ODOO_PATH:-/opt/odoo18}"
# where ensure_odoo fetches Odoo from when ODOO_PATH holds none: a URL, a mirror or a local repository
ODOO_GIT_URL="${ODOO_GIT_URL:-https://github.com/odoo/odoo.git}"
ODOO_GIT_REF="${ODOO_GIT_REF:-18.0}"
STATE_DIR="${SALESJET_STATE_DIR:-$HOME/.cache/salesjet-flows}"
VENV="${SALESJET_VENV:-$STATE_DIR/venv}"

say() { printf '\033[1m[salesjet]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[salesjet]\033[0m %s\n' "$*" >&2; exit 2; }

# is_odoo DIR: DIR holds an Odoo source tree (of any version); is_odoo18 DIR: and it is 18.0.
is_odoo() { [ -f "$1/odoo-bin" ] && [ -d "$1/odoo/addons/base" ]; }
is_odoo18() { grep -q "version_info = (18, 0" "$1/odoo/release.py" 2>/dev/null; }

check_odoo() {
    if ! is_odoo "$ODOO_PATH"; then
        die "Odoo 18.0 was not found at ODOO_PATH=$ODOO_PATH. Put an Odoo 18.0 Community source tree there, or set ODOO_PATH to the folder that holds odoo-bin."
    fi
    if ! is_odoo18 "$ODOO_PATH"; then
        die "The Odoo at ODOO_PATH=$ODOO_PATH is not 18.0. Set ODOO_PATH to an Odoo 18.0 source tree."
    fi
}

# is_vacant DIR: nothing there, or an empty folder (a place where Odoo may be fetched).
is_vacant() { [ ! -e "$1" ] || { [ -d "$1" ] && [ -z "$(ls -A "$1")" ]; }; }

# can_place DIR: DIR's parent folder exists (or can be made) and is writable; the clone
# goes to a sibling folder first, then moves into place.
can_place() {
    local parent
    parent="$(dirname "$1")"
    mkdir -p "$parent" 2>/dev/null && [ -w "$parent" ]
}

refuse_occupied() {
    die "ODOO_PATH=$ODOO_PATH is not empty and holds no Odoo source tree (no odoo-bin and odoo/addons/base): set ODOO_PATH to an Odoo 18.0 tree, or to a missing or empty folder where Odoo 18.0 will be fetched."
}

# ensure_odoo: when ODOO_PATH holds no Odoo, fetch Odoo $ODOO_GIT_REF there from $ODOO_GIT_URL
# (a shallow clone of that one branch). Without ODOO_PATH set and /opt/odoo18 out of reach
# (not root), Odoo goes to $STATE_DIR/odoo instead. check_odoo then checks the version.
ensure_odoo() {
    if ! is_odoo "$ODOO_PATH"; then
        is_vacant "$ODOO_PATH" || refuse_occupied
        if [ -z "$ODOO_PATH_FROM_USER" ]; then
            local own="$STATE_DIR/odoo"
            if is_odoo "$own"; then
                say "using the Odoo fetched earlier in $own (ODOO_PATH is unset and $ODOO_PATH holds no Odoo)"
                ODOO_PATH="$own"
            elif ! can_place "$ODOO_PATH"; then
                say "$ODOO_PATH is not writable by $(id -un): Odoo $ODOO_GIT_REF goes to $own instead (set ODOO_PATH to choose another folder)"
                ODOO_PATH="$own"
                is_vacant "$ODOO_PATH" || refuse_occupied
            fi
        fi
        is_odoo "$ODOO_PATH" || fetch_odoo
    fi
    # absolute, as the scripts change directory later
    ODOO_PATH="$(cd "$ODOO_PATH" && pwd)"
}

fetch_odoo() {
    can_place "$ODOO_PATH" \
        || die "Cannot create ODOO_PATH=$ODOO_PATH (its folder $(dirname "$ODOO_PATH") is not writable): set ODOO_PATH to a folder you can write, or to an existing Odoo 18.0 tree."
    command -v git >/dev/null \
        || die "git was not found: install git to fetch Odoo 18.0 into ODOO_PATH=$ODOO_PATH, or set ODOO_PATH to an existing Odoo 18.0 source tree."
    local url="$ODOO_GIT_URL"
    # git ignores --depth for a plain local path, not for a file:// URL
    if [ -d "$url" ]; then
        url="file://$(cd "$url" && pwd)"
    fi
    # a sibling folder: an interrupted clone never leaves a half tree at ODOO_PATH (a later run
    # removes what a killed one left; on Ctrl+C or a failure it goes at once)
    local tmp
    tmp="$(dirname "$ODOO_PATH")/.$(basename "$ODOO_PATH").partial"
    rm -rf "$tmp"
    say "fetching Odoo $ODOO_GIT_REF from $ODOO_GIT_URL into $ODOO_PATH (a shallow clone, a few minutes)"
    trap "rm -rf $(printf %q "$tmp"); exit 130" INT
    trap "rm -rf $(printf %q "$tmp"); exit 143" TERM
    local progress=--quiet
    [ -t 2 ] && progress=--progress
    if ! GIT_TERMINAL_PROMPT=0 git -c advice.detachedHead=false clone "$progress" --depth 1 --single-branch \
            --branch "$ODOO_GIT_REF" "$url" "$tmp"; then
        rm -rf "$tmp"
        trap - INT TERM
        die "Could not fetch Odoo $ODOO_GIT_REF from ODOO_GIT_URL=$ODOO_GIT_URL: set ODOO_PATH to an existing Odoo 18.0 source tree, or ODOO_GIT_URL to a reachable mirror or local repository of Odoo."
    fi
    trap - INT TERM
    if ! is_odoo "$tmp" || ! is_odoo18 "$tmp"; then
        rm -rf "$tmp"
        die "$ODOO_GIT_URL at $ODOO_GIT_REF is not an Odoo 18.0 source tree (no odoo-bin, or odoo/release.py is not 18.0): set ODOO_GIT_URL and ODOO_GIT_REF to Odoo's 18.0 branch, or ODOO_PATH to an Odoo 18.0 tree."
    fi
    [ ! -d "$ODOO_PATH" ] || rmdir "$ODOO_PATH"
    mv "$tmp" "$ODOO_PATH"
    say "Odoo $ODOO_GIT_REF is now in $ODOO_PATH"
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
    ensure_odoo
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
