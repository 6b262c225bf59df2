#!/usr/bin/env bash
# Keep the translations in sync with the code: export each addon's .pot from a
# fresh database (with demo data, whose records have translatable names too) and merge it into its i18n/*.po files (new terms appear
# untranslated; tests/test_i18n.py then names them until they are translated).
# Usage: scripts/i18n.sh
source "$(dirname "$0")/lib.sh"
setup_all
DB="salesjet_i18n_$$"
CONF="$STATE_DIR/odoo-i18n-$$.conf"
SALESJET_CRON_THREADS=0 write_config "$CONF" 8369
trap 'dropdb --if-exists "$DB"; rm -f "$CONF"' EXIT
ADDONS=$(cd "$REPO_DIR" && ls -d */__manifest__.py | xargs -n1 dirname | sort)
odoo_bin -c "$CONF" -d "$DB" -i "$(echo $ADDONS | tr ' ' ',')" --stop-after-init --log-level=warn
for module in $ADDONS; do
    mkdir -p "$REPO_DIR/$module/i18n"
    pot="$REPO_DIR/$module/i18n/$module.pot"
    odoo_bin -c "$CONF" -d "$DB" --i18n-export="$pot" --modules="$module" --stop-after-init --log-level=warn
    for po in "$REPO_DIR/$module"/i18n/*.po; do
        [ -e "$po" ] || continue
        msgmerge --quiet --update --backup=none --no-fuzzy-matching "$po" "$pot"
        msgattrib --no-obsolete --output-file="$po" "$po"
    done
    say "$module: $(grep -c '^msgid' "$pot") terms"
done
