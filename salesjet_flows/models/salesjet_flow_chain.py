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
        help="A website form sent from a page whose address contains this text (e.g. /aquarium) registers its "
             "contact; API events count when their “page” or “url” value contains it. Empty: API events from any "
             "page (website forms need a page).")

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

    @api.model
    def _landing_pages(self, company_id):
        """The landing pages (texts of page addresses) set on the active "registers from a landing page"
        triggers of ``company_id``, from the trigger cache. A trigger without a page listens to the API only:
        website forms are registrations only on a page a trigger names."""
        rows = self._cached_triggers("api", company_id)
        ids = [row[0] for row in rows if row[1] == "landing_signup"]
        return [page for page in ((t.landing_page or "").strip() for t in self.sudo().browse(ids)) if page]

    def _match_landing_signup(self, event):
        if (self.event_code or "landing_signup").strip() != (event.code or "").strip():
            return False
        if not (self.landing_page or "").strip():
            return True
        data = event.data or {}
        page = str(data.get("page") or data.get("url") or "")
        return self.landing_page.strip().lower() in page.lower()


class SalesjetEvent(models.Model):
    """A website form sent from a landing page is a registration from that page."""
    _inherit = "salesjet.event"

    def _dispatch(self):
        enrollments = super()._dispatch()
        if self.kind == "website_form":
            self._post_landing_signup()
        return enrollments

    def _post_landing_signup(self):
        """Post the ``landing_signup`` event of a website form's contact when the form's page (its
        Referer) is the page of a "registers from a landing page" trigger. Its external id, the form
        event's, makes a retried form event post it once."""
        data = self.data or {}
        page = str(data.get("url") or data.get("path") or "").lower()
        pages = self.env["salesjet.flow.trigger"]._landing_pages(self.company_id.id)
        partner = self._get_partner()
        if not partner or not any(landing.lower() in page for landing in pages):
            return
        self.sudo().with_company(self.company_id).post(
            "landing_signup", partner, lead=self.lead_id, external_id=f"website_form:{self.id}",
            source="website_form", data={"page": data.get("path") or "", "url": data.get("url") or "",
                                         "lead_id": self.lead_id.id or False})
