"""Flows got a state (draft, running, stopped) and only running flows enrol contacts: the flows of a database
upgraded from 1.0 were live, so they stay live."""


def migrate(cr, version):
    if not version:
        return
    cr.execute("UPDATE salesjet_flow SET state = 'running' WHERE state = 'draft' OR state IS NULL")
