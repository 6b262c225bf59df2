"""Before the data of 18.0.1.1.0 loads: drop this module's extensions of its own views.

1.1.0 keeps one primary view per model: every extension of a salesjet_flows view made by salesjet_flows itself
was merged into the view it extended, and fields some of them showed are gone (a step's segment name and
colour). Odoo validates a view with the extensions still in the database, so an old extension naming a removed
field would stop the update before its end-of-update cleanup deleted it. Extensions that still exist in the
files (of Odoo's views, and the bridges' own) are loaded again by this update.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute("""
        DELETE FROM ir_ui_view v
         USING ir_model_data d
         WHERE d.model = 'ir.ui.view' AND d.res_id = v.id AND d.module = 'salesjet_flows'
           AND v.mode = 'extension'
           AND v.inherit_id IN (SELECT res_id FROM ir_model_data
                                 WHERE model = 'ir.ui.view' AND module = 'salesjet_flows')
    """)
    cr.execute("""
        DELETE FROM ir_model_data d
         WHERE d.model = 'ir.ui.view' AND d.module = 'salesjet_flows'
           AND NOT EXISTS (SELECT 1 FROM ir_ui_view v WHERE v.id = d.res_id)
    """)
