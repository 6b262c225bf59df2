"""A job's flow, contact and company without keys of their own (1.6.0): ``salesjet.flow.job`` declares them
``RunCopy`` (its run's keys stand for them), so Odoo no longer creates their foreign keys, but it never drops
a key a field stopped asking for: dropped here, with what Odoo reflected of them (``ir.model.constraint``,
which a module uninstall reads)."""

from odoo.addons.salesjet_flows.tools.keys import drop_foreign_keys


def migrate(cr, version):
    if not version:
        return
    drop_foreign_keys(cr, "salesjet_flow_job", "salesjet.flow.job", ("flow_id", "partner_id", "company_id"))
