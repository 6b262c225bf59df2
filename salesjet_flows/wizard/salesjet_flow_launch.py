from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError


class SalesjetFlowLaunch(models.TransientModel):
    _name = "salesjet.flow.launch"
    _description = "Launch a Flow for a Segment"

    flow_id = fields.Many2one("salesjet.flow", string="Flow", required=True, ondelete="cascade")
    trigger_id = fields.Many2one(
        "salesjet.flow.trigger", string="Segment", required=True, ondelete="cascade",
        domain="[('flow_id', '=', flow_id), ('trigger_type', '=', 'segment')]",
    )
    contact_count = fields.Integer(string="Matching contacts", compute="_compute_contact_count")

    @api.depends("trigger_id")
    def _compute_contact_count(self):
        for wizard in self:
            wizard.contact_count = self.env["res.partner"].search_count(
                wizard.trigger_id._get_partner_domain()) if wizard.trigger_id else 0

    def action_launch(self):
        """Enrol the contacts of the chosen segment trigger of the flow.

        For Flows administrators, with one of the flow's own "manual launch for a segment" triggers:
        any other trigger (an API trigger has no segment, so it matched every contact of the company)
        or another flow's trigger is refused.
        """
        self.ensure_one()
        if not self.env.su and not self.env.user.has_group("salesjet_flows.group_salesjet_manager"):
            raise AccessError(_("Only Flows administrators can launch a flow for a segment."))
        # the user's rights, company rules included, decide which flows and triggers they may name
        self.flow_id.check_access("write")
        self.trigger_id.check_access("read")
        if self.trigger_id.flow_id != self.flow_id or self.trigger_id.trigger_type != "segment":
            raise UserError(_("Launch the flow “%s” with one of its own “Manual launch for a segment” triggers.",
                              self.flow_id.name))
        if not self.flow_id.active:
            raise UserError(_("The flow “%s” is archived: restore it before launching it.", self.flow_id.name))
        if self.flow_id.state != "running":
            raise UserError(_("The flow “%s” is not running: start it before launching it.", self.flow_id.name))
        if not self.flow_id.step_ids:
            raise UserError(_("The flow “%s” has no steps yet: add at least one.", self.flow_id.name))
        Launch = self.env["salesjet.segment.launch"]
        if Launch.sudo().search_count([("trigger_id", "=", self.trigger_id.id), ("state", "=", "queued")]):
            raise UserError(_("The flow “%s” is already being launched for this segment: its chatter says when "
                              "it is done.", self.flow_id.name))
        if self.contact_count > Launch._inline_max():
            # enrolling it in this request would outlast Odoo's time limits: a scheduled action does it
            Launch._queue(self.trigger_id.sudo(), self.contact_count)
            return self._notify("info", _(
                "%(count)s contacts are being enrolled in %(flow)s in the background, batch by batch: the flow's "
                "chatter says when it is done.", count=self.contact_count, flow=self.flow_id.name))
        # the enrolment writes runs and jobs with SQL, as superuser, once the rights are checked above
        count = self.flow_id.sudo()._launch_segment(self.trigger_id.sudo())
        return self._notify("success", _("%(count)s contacts enrolled in %(flow)s.", count=count,
                                         flow=self.flow_id.name))

    @staticmethod
    def _notify(kind, message):
        """The client action that shows ``message`` (a notification of ``kind``) and closes the wizard."""
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": kind, "message": message, "next": {"type": "ir.actions.act_window_close"}},
        }
