"""Many2ones without foreign keys (``RunCopy``, ``UserStamp``), and dropping the keys such a field stopped
asking for: Odoo never drops those."""
from odoo import fields
from odoo.tools import SQL


class KeylessMany2one(fields.Many2one):
    """A many2one as any (stored, indexed, searched, grouped by, read through the rules) for which Odoo creates
    no foreign key. PostgreSQL checks each key of each row inserted with a query of its own; a subclass says
    what holds its column's integrity instead."""

    def update_db_foreign_key(self, model, column):
        return


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
