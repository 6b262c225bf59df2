"""A job's flow, contact and company without keys of their own (1.6.0): ``salesjet.flow.job`` declares them
``RunCopy`` (its run's keys stand for them), so Odoo no longer creates their foreign keys, but it never drops
a key a field stopped asking for: dropped here, with what Odoo reflected of them (``ir.model.constraint``,
which a module uninstall reads)."""

from odoo.tools import SQL

COLUMNS = ("flow_id", "partner_id", "company_id")


def migrate(cr, version):
    if not version:
        return
    cr.execute("""
        SELECT c.conname
          FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.conrelid = 'salesjet_flow_job'::regclass AND c.contype = 'f'
           AND array_length(c.conkey, 1) = 1 AND a.attname IN %s
    """, [COLUMNS])
    names = [row[0] for row in cr.fetchall()]
    for name in names:
        cr.execute(SQL("ALTER TABLE salesjet_flow_job DROP CONSTRAINT %s", SQL.identifier(name)))
    cr.execute("""
        DELETE FROM ir_model_constraint c
         USING ir_model m
         WHERE m.id = c.model AND m.model = 'salesjet.flow.job' AND c.type = 'f'
           AND c.name IN %s
    """, [tuple(f"salesjet_flow_job_{column}_fkey" for column in COLUMNS)])
