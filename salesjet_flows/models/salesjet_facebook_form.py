import logging

import requests

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import plaintext2html

_logger = logging.getLogger(__name__)

GRAPH_TIMEOUT = 10  # seconds

DEFAULT_GRAPH_URL = "https://graph.facebook.com"

DEFAULT_GRAPH_VERSION = "v19.0"

# Contact fields a Facebook field may fill (those a lead form asks for).
MAPPABLE_FIELDS = [
    ("name", "Name"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("mobile", "Mobile"),
    ("street", "Street"),
    ("city", "City"),
    ("zip", "ZIP"),
    ("function", "Job position"),
    ("website", "Website"),
    ("comment", "Notes"),
    ("company_name", "Company name"),
]


class SalesjetFacebookForm(models.Model):
    _name = "salesjet.facebook.form"
    _description = "Facebook Lead Form"
    _order = "name, id"

    name = fields.Char(required=True, help="e.g. Spring promotion form")
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", string="Company", required=True, index=True,
                                 default=lambda self: self.env.company)
    page_id = fields.Char(string="Facebook page ID", required=True, help="The numeric id of the Facebook page.")
    form_id = fields.Char(string="Facebook form ID", required=True, help="The numeric id of the lead ads form.")
    access_token = fields.Char(
        string="Page access token", groups="base.group_system", copy=False,
        help="A page access token with the leads_retrieval permission: Odoo reads each lead with it.",
    )
    field_ids = fields.One2many("salesjet.facebook.form.field", "form_id", string="Field mapping", copy=True,
                                help="Which contact field each answer of the form fills.")
    lead_count = fields.Integer(string="Leads", compute="_compute_lead_count")
    team_id = fields.Many2one(
        "crm.team", string="Sales team", check_company=True, ondelete="set null",
        help="The sales team of the CRM leads created from this form's leads; empty: Odoo's default team.")

    _sql_constraints = [("page_form_uniq", "UNIQUE(page_id, form_id)", "This Facebook form is already configured.")]

    @api.model
    def default_get(self, fields_list):
        res = super().default_get(fields_list)
        if "field_ids" in fields_list and not res.get("field_ids"):
            res["field_ids"] = [(0, 0, {"facebook_field": fb, "partner_field": partner})
                                for fb, partner in (("email", "email"), ("full_name", "name"),
                                                    ("phone_number", "phone"))]
        return res

    def _compute_lead_count(self):
        data = dict(self.env["salesjet.event"].sudo()._read_group(
            [("kind", "=", "facebook_lead"), ("source", "in", [f"facebook:{f.id}" for f in self])],
            ["source"], ["__count"]))
        for form in self:
            form.lead_count = data.get(f"facebook:{form.id}", 0)

    @api.constrains("page_id", "form_id")
    def _check_ids(self):
        for form in self:
            if not (form.page_id or "").strip().isdigit() or not (form.form_id or "").strip().isdigit():
                raise ValidationError(_("Facebook form “%s”: the page ID and form ID are numbers, as Facebook "
                                        "shows them.", form.name))

    def _graph_settings(self):
        params = self.env["ir.config_parameter"].sudo()
        base = (params.get_param("salesjet_flows.facebook_graph_url") or DEFAULT_GRAPH_URL).rstrip("/")
        version = (params.get_param("salesjet_flows.facebook_graph_version") or DEFAULT_GRAPH_VERSION).strip("/")
        return base, version

    def _fetch_lead(self, leadgen_id):
        """Read one lead from the Graph API: ``{field name: value}`` of its field_data.

        Raises on any failure (network, HTTP error, unexpected answer): the caller's event is then stored
        as failed and retried by the event cron.
        """
        self.ensure_one()
        token = self.sudo().access_token
        if not token:
            raise UserError(_("Facebook form “%s” has no page access token: set it, then retry the event.",
                              self.name))
        base, version = self._graph_settings()
        # in a header, not the query: an exception quotes the URL, and the event keeps it as its error
        response = requests.get(f"{base}/{version}/{leadgen_id}", headers={"Authorization": f"Bearer {token}"},
                                timeout=GRAPH_TIMEOUT)
        if response.status_code != 200:
            raise UserError(_("The Graph API answered %(status)s for lead %(lead)s: %(body)s",
                              status=response.status_code, lead=leadgen_id, body=response.text[:300]))
        payload = response.json()
        values = {}
        for item in payload.get("field_data") or []:
            name, answers = item.get("name"), item.get("values") or []
            if isinstance(name, str) and answers:
                values[name] = str(answers[0])[:1000]
        return values

    def _map_to_partner(self, answers):
        """Contact values from the form's answers, per the mapping lines."""
        self.ensure_one()
        values = {}
        for line in self.field_ids:
            value = answers.get(line.facebook_field)
            if value:
                values[line.partner_field] = value
        return values

    def _create_crm_lead(self, partner, answers):
        """The CRM lead of one Facebook lead of this form, for its contact ``partner`` (source and medium
        Facebook); the flow's run keeps it."""
        self.ensure_one()
        Lead = self.env["crm.lead"].sudo().with_company(self.company_id)
        source = self.env.ref("utm.utm_source_facebook", raise_if_not_found=False)
        medium = self.env.ref("utm.utm_medium_facebook", raise_if_not_found=False)
        vals = {
            "name": _("%(form)s: %(contact)s", form=self.name, contact=partner.display_name),
            "partner_id": partner.id, "company_id": self.company_id.id,
            # no salesperson of the request (a webhook) or the cron: assignment rules and flows set one
            "user_id": False,
            "source_id": source.id if source else False, "medium_id": medium.id if medium else False,
            "description": plaintext2html("\n".join(f"{key}: {value}" for key, value in answers.items())),
        }
        if self.team_id:
            vals["team_id"] = self.team_id.id
        return Lead.create(vals)
