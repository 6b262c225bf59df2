import json

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import file_open

from .salesjet_flow import FLOW_KINDS

POPULAR_DAYS = 90


class SalesjetFlowTemplate(models.Model):
    """A ready-made flow: a flow export (see salesjet.flow.transfer) shown in a gallery."""
    _name = "salesjet.flow.template"
    _description = "Ready-made Flow"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    description = fields.Text(translate=True, help="What the flow does, shown on its card in the gallery.")
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    kind = fields.Selection(FLOW_KINDS, required=True, default="manual")
    icon = fields.Char(default="fa-magic", help="A Font Awesome icon class for the card, e.g. fa-envelope.")
    payload_file = fields.Char(
        string="File", help="Path of the JSON export inside the addons, e.g. "
                            "salesjet_flows/data/flow_templates/newsletter_welcome.json.",
    )
    payload = fields.Text(string="JSON", help="The flow export itself, used when no file is given.")
    required_module = fields.Char(
        help="Technical name of a module the flow needs; the template is offered only when it is installed.",
    )
    available = fields.Boolean(compute="_compute_available", search="_search_available")
    step_count = fields.Integer(string="Steps", compute="_compute_step_count")

    def _installed_modules(self):
        # "to install"/"to upgrade": a module's own demo data creates its flows while it installs
        return set(self.env["ir.module.module"].sudo().search(
            [("state", "in", ("installed", "to install", "to upgrade"))]).mapped("name"))

    def _compute_available(self):
        installed = self._installed_modules()
        for template in self:
            template.available = not template.required_module or template.required_module in installed

    def _search_available(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(_("Filter ready-made flows by availability with = or != and true/false."))
        installed = list(self._installed_modules())
        domain = ["|", ("required_module", "=", False), ("required_module", "in", installed)]
        return domain if (operator == "=") == value else ["!", *domain]

    def _compute_step_count(self):
        for template in self:
            try:
                template.step_count = sum(len(flow.get("step_ids", [])) + len(flow.get("chain_message_ids", []))
                                          for flow in template._payload()["flows"])
            except UserError:
                template.step_count = 0

    def _payload(self):
        """The flow export of this template, as a dict."""
        self.ensure_one()
        try:
            if self.payload_file:
                with file_open(self.payload_file, "r") as handle:
                    text = handle.read()
            else:
                text = self.payload or ""
            payload = json.loads(text)
        except (OSError, ValueError) as e:
            raise UserError(_("The ready-made flow “%(name)s” cannot be read (%(error)s).",
                              name=self.name, error=e)) from e
        if not isinstance(payload, dict) or not isinstance(payload.get("flows"), list):
            raise UserError(_("The ready-made flow “%s” is not a flow export.", self.name))
        return payload

    def _create_flows(self, **values):
        """Create the flows of this template (through the JSON import) and return them; ``values`` are written
        on them."""
        self.ensure_one()
        if not self.available:
            raise UserError(_("The ready-made flow “%(name)s” needs the module %(module)s: install it first.",
                              name=self.name, module=self.required_module))
        flows = self.env["salesjet.flow.transfer"].import_flows(self._payload())
        if values:
            flows.write(values)
        return flows

    def action_use(self):
        """Create the flow from this template and open it."""
        flows = self._create_flows()
        return {
            "type": "ir.actions.act_window",
            "res_model": "salesjet.flow",
            "res_id": flows[:1].id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }

    @api.model
    def _create_demo_flow(self, xmlid, template_xmlid, active=False):
        """Demo data: create the flows of a template, owned by the administrator, archived by default, running
        (demo flows show a live flow), and give the first one the external id ``xmlid`` (once: a second call
        does nothing)."""
        if self.env.ref(xmlid, raise_if_not_found=False):
            return False
        template = self.env.ref(template_xmlid)
        admin = self.env.ref("base.user_admin")
        flows = template.with_user(admin).with_context(tracking_disable=True)._create_flows(
            user_id=admin.id, active=active, state="running")
        module, name = xmlid.split(".")
        self.env["ir.model.data"].create({"module": module, "name": name, "model": "salesjet.flow",
                                          "res_id": flows[:1].id, "noupdate": True})
        return flows[:1].id
