#!/usr/bin/env bash
# Lint the repository as OCA does, with the pinned tools of requirements-dev.txt:
#   - ruff check with OCA's rule set (.ruff.toml) over every Python file of the repository;
#   - pylint-odoo with OCA's mandatory checks (.pylintrc-mandatory) over every addon
#     (their Python, XML, CSV and manifest files).
# Exits non-zero when either reports a finding. It changes no file: `ruff check --fix`
# applies the safe fixes. `ruff format` is NOT enforced (see .ruff.toml).
# Optional OCA checks, not blocking: pylint --rcfile=.pylintrc <addons>.
source "$(dirname "$0")/lib.sh"
# no database is needed: Odoo's path and the venv only
ensure_odoo
check_odoo
ensure_venv
cd "$REPO_DIR"
ADDONS=$(ls -d */__manifest__.py | xargs -n1 dirname | sort)
status=0
started=$(date +%s)
say "ruff check (.ruff.toml)"
"$VENV/bin/ruff" check --no-fix . || status=1
say "pylint-odoo (.pylintrc-mandatory) on $(echo $ADDONS)"
format=text
[ -t 1 ] && format=colorized
"$VENV/bin/pylint" --rcfile=.pylintrc-mandatory --output-format="$format" $ADDONS || status=1
if [ "$status" != 0 ]; then
    die "lint found problems (above, in $(( $(date +%s) - started )) s): fix them, or for a false positive or a rule broken by design disable that one rule on that line with a comment saying why (# pylint: disable=<rule> / # noqa: <code>)"
fi
say "lint clean ($(( $(date +%s) - started )) s)"
