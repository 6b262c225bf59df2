from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..tools.preview import preview_rows


class SalesjetFlowStepServerAction(models.AbstractModel):
    """Run a server action: any ``ir.actions.server`` of Odoo on the run's contact (or on its lead).

    The action runs once for the whole batch (``active_ids`` of every contact): a multi runner (code, several
    actions) sees them together, the others are looped by ``run()`` itself. As ``base_automation`` does, it
    runs as superuser (the cron's user); only a Settings administrator may choose one, since an action can run
    code.
    """
    _name = "salesjet.flow.step.server_action"
    _description = "Flow step: server action"

    server_action_id = fields.Many2one(
        "ir.actions.server", string="Server action", ondelete="restrict",
        domain="[('model_id.model', '=', 'crm.lead' if server_action_target == 'lead' else 'res.partner')]",
        help="The server action to run on the run's contact, or on its lead. Only Settings administrators "
             "may choose it: a server action can run code.",
    )
    server_action_target = fields.Selection(
        [("contact", "On the contact"), ("lead", "On the run's lead")], string="Run on", default="contact",
        help="On the run's lead: runs without a lead skip the step.",
    )

    def _settings_fields(self):
        return super()._settings_fields() + ["server_action_id", "server_action_target"]

    def _display_details_server_action(self):
        return self.server_action_id.sudo().name or ""

    def _server_action_model(self):
        return "crm.lead" if self.server_action_target == "lead" else "res.partner"

    def _check_action_server_action(self):
        action = self.server_action_id
        if not action:
            raise ValidationError(_("Step “%s”: choose the server action to run.", self.display_name))
        if action.sudo().model_id.model != self._server_action_model():
            raise ValidationError(_(
                "Step “%(step)s”: the server action “%(action)s” works on another model; choose one of %(model)s.",
                step=self.display_name, action=action.sudo().name,
                model=self.env["ir.model"]._get(self._server_action_model()).name))

    @api.constrains("server_action_id", "server_action_target", "action_type")
    def _check_server_action_rights(self):
        if self.env.su or self.env.user.has_group("base.group_system"):
            return
        if any(step.action_type == "server_action" and step.server_action_id for step in self):
            raise ValidationError(_(
                "Only a Settings administrator may set a step that runs a server action: a server action can run "
                "code. Ask one to configure this step."))

    def _server_action_records(self, jobs):
        """The records to run on: the contacts, or the runs' leads (skipping runs without one)."""
        if self.server_action_target != "lead":
            return jobs, jobs.partner_id
        without = jobs.filtered(lambda j: not j.enrollment_id.lead_id)
        without._mark_skipped(_("The run has no lead."))
        jobs -= without
        return jobs, jobs.enrollment_id.lead_id

    def _action_server_action(self, jobs):
        """Run the server action once on all the batch's contacts (or leads), as base_automation does."""
        jobs, records = self._server_action_records(jobs)
        if not records:
            return
        action = self.server_action_id.sudo()
        action.with_context(active_model=records._name, active_ids=records.ids, active_id=records[:1].id).run()
        jobs._set_result(_("Server action “%s” run.", action.name))

    def _preview_server_action(self, partner, data):
        action = self.server_action_id.sudo()
        target = dict(self._fields["server_action_target"]._description_selection(self.env)).get(
            self.server_action_target, "")
        return preview_rows([
            (_("Server action"), action.name or ""),
            (_("Run on"), target if self.server_action_target == "lead" else partner.display_name),
        ])
