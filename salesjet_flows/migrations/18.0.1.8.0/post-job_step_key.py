"""A job's step without key (1.8.0): ``salesjet.flow.job`` declares its ``step_id`` ``CountedStep`` (the
counters' rows stand for the key; the steps' delete trigger deletes their jobs), so Odoo no longer creates its
foreign key, but it never drops a key a field stopped asking for: dropped here, with what Odoo reflected of it.
The triggers are the counters' (``salesjet.flow.step.stat``), created again by every update."""

from odoo.addons.salesjet_flows.tools.keys import drop_foreign_keys


def migrate(cr, version):
    if not version:
        return
    drop_foreign_keys(cr, "salesjet_flow_job", "salesjet.flow.job", ("step_id",))
