"""Foreign keys that a field stopped asking for (``RunCopy``, ``UserStamp``): Odoo never drops those."""
from odoo.tools import SQL


def drop_foreign_keys(cr, table, model, columns):
    """Drop the foreign keys of ``table`` on ``columns`` (found by column in ``pg_constraint``, whatever their
    names) and what Odoo reflected of them for ``model`` (``ir.model.constraint``, which a module uninstall
    reads). Does nothing when they are gone: a migration may run twice.

    :return: the names of the keys dropped
    """
    cr.execute("""
        SELECT c.conname
          FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.conrelid = %s::regclass AND c.contype = 'f'
           AND array_length(c.conkey, 1) = 1 AND a.attname IN %s
    """, [table, tuple(columns)])
    names = [row[0] for row in cr.fetchall()]
    for name in names:
        cr.execute(SQL("ALTER TABLE %s DROP CONSTRAINT %s", SQL.identifier(table), SQL.identifier(name)))
    cr.execute("""
        DELETE FROM ir_model_constraint c
         USING ir_model m
         WHERE m.id = c.model AND m.model = %s AND c.type = 'f'
           AND c.name IN %s
    """, [model, tuple(f"{table}_{column}_fkey" for column in columns)])
    return names
