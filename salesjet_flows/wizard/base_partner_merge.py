from odoo import models


class MergePartnerAutomatic(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    def _get_fk_on(self, table):
        """Odoo's merge moves every column with a foreign key to the contacts to the contact kept. A job's
        contact has no key of its own (``RunCopy``: its run's stands for it): named here, so that the jobs
        move with their runs."""
        relations = super()._get_fk_on(table)
        if table == "res_partner" and ("salesjet_flow_job", "partner_id") not in relations:
            relations.append(("salesjet_flow_job", "partner_id"))
        return relations
