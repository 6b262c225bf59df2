"""Jobs without Odoo's user columns (1.5.0): ``salesjet.flow.job`` declares ``_log_access = False`` and keeps a
``create_date`` of its own. Odoo never drops the columns of its magic fields (``ir.model.fields._drop_column``
skips them), so their foreign keys to the users would still be checked on every job inserted: dropped here with
their columns (PostgreSQL only marks a dropped column, whatever the table's size)."""


def migrate(cr, version):
    if not version:
        return
    cr.execute("""
        ALTER TABLE salesjet_flow_job
            DROP COLUMN IF EXISTS create_uid,
            DROP COLUMN IF EXISTS write_uid,
            DROP COLUMN IF EXISTS write_date
    """)
