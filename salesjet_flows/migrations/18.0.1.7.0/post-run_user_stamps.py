"""A run's users without keys (1.7.0): ``salesjet.flow.enrollment`` declares its ``create_uid`` and
``write_uid`` ``UserStamp`` (``res.users.unlink`` empties them, as their keys' ``ON DELETE SET NULL`` did), so
Odoo no longer creates their foreign keys, but it never drops a key a field stopped asking for: dropped here,
with what Odoo reflected of them."""

from odoo.addons.salesjet_flows.tools.keys import drop_foreign_keys


def migrate(cr, version):
    if not version:
        return
    drop_foreign_keys(cr, "salesjet_flow_enrollment", "salesjet.flow.enrollment", ("create_uid", "write_uid"))
