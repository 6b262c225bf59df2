from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class IrActionsServer(models.Model):
    """Add a "Start a flow" server action, so Odoo's automation rules (base_automation) can start a running
    flow for a record's contact: the record itself if it is a contact, else its ``partner_id`` (a lead, a
    sales order...); a lead is kept on the run."""
    _inherit = "ir.actions.server"

    state = fields.Selection(selection_add=[("salesjet_flow_start", "Start a flow")],
                             ondelete={"salesjet_flow_start": "cascade"})
    salesjet_flow_id = fields.Many2one(
        "salesjet.flow", string="Flow to start", ondelete="restrict",
        domain="[('state', '=', 'running')]",
        help="The running flow the records' contacts enter (its re-entry policy applies).",
    )

    @api.constrains("state", "model_id", "salesjet_flow_id")
    def _check_salesjet_flow_start(self):
        for action in self.filtered(lambda a: a.state == "salesjet_flow_start"):
            if not action.salesjet_flow_id:
                raise ValidationError(_("Server action “%s”: choose the flow to start.", action.name))
            model = self.env[action.model_id.model]
            if model._name != "res.partner" and not (
                    "partner_id" in model._fields and model._fields["partner_id"].comodel_name == "res.partner"):
                raise ValidationError(_(
                    "Server action “%(action)s”: a flow starts for a contact; %(model)s records have no contact "
                    "field (partner_id).", action=action.name, model=action.model_id.name))

    def _run_action_salesjet_flow_start_multi(self, eval_context=None):
        records = eval_context.get("records") or eval_context.get("record")
        flow = self.salesjet_flow_id.sudo()
        if not records or not flow:
            return False
        records = records.sudo()
        if records._name == "res.partner":
            flow._enroll(records.ids)
        elif records._name == "crm.lead":
            leads = records.filtered("partner_id")
            enrollments = flow._enroll(leads.partner_id.ids)
            lead_of = {}
            for lead in leads:
                lead_of.setdefault(lead.partner_id.id, lead)
            for enrollment in enrollments:
                enrollment.lead_id = lead_of[enrollment.partner_id.id]
        else:
            flow._enroll(records.partner_id.ids)
        return False
