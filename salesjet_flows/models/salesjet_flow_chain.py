from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class SalesjetFlow(models.Model):
    """A flow of kind "message chain" holds messages; each one generates the step that sends it."""
    _inherit = "salesjet.flow"

    chain_message_ids = fields.One2many("salesjet.chain.message", "flow_id", string="Chain messages", copy=False)
    chain_answer_count = fields.Integer(string="Answers", compute="_compute_chain_answer_count")

    def _compute_chain_answer_count(self):
        data = dict(self.env["salesjet.chain.answer"]._read_group(
            [("flow_id", "in", self.ids)], ["flow_id"], ["__count"]))
        for flow in self:
            flow.chain_answer_count = data.get(flow, 0)

    @api.constrains("kind", "reentry_policy")
    def _check_chain_reentry(self):
        for flow in self:
            if flow.kind == "chain" and flow.reentry_policy != "once":
                raise ValidationError(_("Message chain “%s” runs at most once per client: set its re-entry to "
                                        "“Once per contact”.", flow.name))

    def copy(self, default=None):
        """A copied chain gets copies of the messages, which generate its own steps."""
        new_flows = super().copy(default)
        for old, new in zip(self, new_flows):
            if old.chain_message_ids:
                new.step_ids.filtered("chain_message_id").unlink()
                for message in old.chain_message_ids:
                    message.copy({"flow_id": new.id})
        return new_flows

    def action_view_chain_answers(self):
        self.ensure_one()
        return self.env["salesjet.chain.answer"]._action_open([("flow_id", "=", self.id)])


class SalesjetFlowTrigger(models.Model):
    """Landing-page registration: an event posted when a client registers from a landing page."""
    _inherit = "salesjet.flow.trigger"

    trigger_type = fields.Selection(selection_add=[
        ("landing_signup", "Client registers from a landing page"),
    ], ondelete={"landing_signup": "cascade"})
    landing_page = fields.Char(
        string="Landing page",
        help="Only registrations from a page whose address contains this text (the event's “page” or “url” "
             "value); empty: any page.")

    @api.onchange("trigger_type")
    def _onchange_trigger_type_landing(self):
        if self.trigger_type == "landing_signup" and not self.event_code:
            self.event_code = "landing_signup"

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("trigger_type") == "landing_signup" and not vals.get("event_code"):
                vals["event_code"] = "landing_signup"
        return super().create(vals_list)

    @api.model
    def _event_kinds(self):
        return {**super()._event_kinds(), "landing_signup": "api"}

    def _match_landing_signup(self, event):
        if (self.event_code or "landing_signup").strip() != (event.code or "").strip():
            return False
        if not (self.landing_page or "").strip():
            return True
        data = event.data or {}
        page = str(data.get("page") or data.get("url") or "")
        return self.landing_page.strip().lower() in page.lower()
