from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL


class SalesjetFlowStart(models.TransientModel):
    """Start a running flow for the contacts (or the leads' contacts) selected in a list."""

    _name = "salesjet.flow.start"
    _description = "Start a Flow for Selected Records"

    flow_id = fields.Many2one(
        "salesjet.flow", string="Flow", required=True, ondelete="cascade",
        domain="[('state', '=', 'running')]", help="A running flow: the selected contacts start it now.")
    partner_ids = fields.Many2many("res.partner", string="Contacts")
    lead_ids = fields.Many2many("crm.lead", string="Leads")
    record_count = fields.Integer(string="Selected", compute="_compute_record_count")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        model, ids = self.env.context.get("active_model"), self.env.context.get("active_ids") or []
        if model == "res.partner" and "partner_ids" in fields_list:
            values["partner_ids"] = [fields.Command.set(ids)]
        elif model == "crm.lead" and "lead_ids" in fields_list:
            values["lead_ids"] = [fields.Command.set(ids)]
        return values

    @api.depends("partner_ids", "lead_ids")
    def _compute_record_count(self):
        for wizard in self:
            wizard.record_count = len(wizard.partner_ids) + len(wizard.lead_ids)

    def action_start(self):
        """Enrol the selected contacts (for leads: their contacts, each run keeping its lead), set-based.

        Contacts the flow's re-entry policy keeps out, who are already running in it, or who belong to
        another company are skipped, and the message says how many and why.
        """
        self.ensure_one()
        if not self.env.su and not self.env.user.has_group("salesjet_flows.group_salesjet_manager"):
            raise AccessError(_("Only Flows administrators can start a flow for selected records."))
        flow = self.flow_id
        # the user's rights, company rules included, decide which flow and records they may name
        flow.check_access("write")
        self.partner_ids.check_access("read")
        self.lead_ids.check_access("read")
        if not flow.active:
            raise UserError(_("The flow “%s” is archived: restore it before starting it.", flow.name))
        if flow.state != "running":
            raise UserError(_("The flow “%s” is not running: start the flow itself first, or pick a running flow.",
                              flow.name))
        if not flow.step_ids:
            raise UserError(_("The flow “%s” has no steps yet: add at least one.", flow.name))
        skipped = []
        partners = self.partner_ids
        lead_by_partner = {}
        if self.lead_ids:
            without_contact = self.lead_ids.filtered(lambda lead: not lead.partner_id)
            if without_contact:
                skipped.append(_("%s leads have no contact", len(without_contact)))
            for lead in self.lead_ids - without_contact:
                lead_by_partner.setdefault(lead.partner_id.id, lead.id)
            duplicates = len(self.lead_ids) - len(without_contact) - len(lead_by_partner)
            if duplicates:
                skipped.append(_("%s leads share their contact with another selected lead", duplicates))
            partners = self.env["res.partner"].browse(list(lead_by_partner))
        other_company = partners.filtered(lambda p: p.company_id and p.company_id != flow.company_id)
        if other_company:
            skipped.append(_("%(count)s contacts belong to another company than the flow's (%(company)s)",
                             count=len(other_company), company=flow.company_id.name))
        partners -= other_company
        # the enrolment writes runs and jobs with SQL, as superuser, once the rights are checked above
        runs = flow.sudo()._enroll(partners.ids, skip_running=True)
        if lead_by_partner and runs:
            self.env.cr.execute(SQL(
                """
                UPDATE salesjet_flow_enrollment e SET lead_id = l.lead_id
                  FROM unnest(%s::int[], %s::int[]) AS l(partner_id, lead_id)
                 WHERE e.id = ANY(%s) AND e.partner_id = l.partner_id
                """, list(lead_by_partner), list(lead_by_partner.values()), runs.ids))
            runs.invalidate_recordset(["lead_id"])
        refused = len(partners) - len(runs)
        if refused:
            skipped.append(_("%s contacts are already running in this flow or its re-entry policy keeps them out",
                             refused))
        if runs:
            flow.sudo().message_post(body=_("Started for %(count)s selected contacts by %(user)s.",
                                            count=len(runs), user=self.env.user.name))
        message = _("%(count)s contacts started the flow “%(flow)s”.", count=len(runs), flow=flow.name)
        if skipped:
            message = _("%(message)s Skipped: %(reasons)s.", message=message, reasons="; ".join(skipped))
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success" if runs else "warning",
                "message": message,
                "sticky": bool(skipped),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
