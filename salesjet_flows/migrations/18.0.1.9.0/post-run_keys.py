"""A run's flow, company and trigger without keys, its company and state without indexes (1.9.0).

``salesjet.flow.enrollment`` declares its flow and company ``HeldRunKey`` (the counters' rows stand for the keys;
the flows' delete trigger deletes their runs; ``res.company`` keeps a company that has runs) and its trigger
``RunTrigger`` (the triggers' delete trigger empties it), so Odoo no longer creates their foreign keys, but it
never drops a key a field stopped asking for: dropped here, with what Odoo reflected of them. The delete
triggers are the counters' (``salesjet.flow.step.stat``), created again by every update.
Odoo also keeps an index a field no longer asks for: the company's and the state's are dropped here."""

from odoo.tools import SQL
from odoo.tools.sql import make_index_name

from odoo.addons.salesjet_flows.tools.keys import drop_foreign_keys


def migrate(cr, version):
    if not version:
        return
    table = "salesjet_flow_enrollment"
    drop_foreign_keys(cr, table, "salesjet.flow.enrollment", ("flow_id", "company_id", "trigger_id"))
    for column in ("company_id", "state"):
        cr.execute(SQL("DROP INDEX IF EXISTS %s", SQL.identifier(make_index_name(table, column))))
