
from odoo import _, api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools.safe_eval import safe_eval

from ..tools.paths import normalize_path, path_matches, request_page_path
from .salesjet_event import LEAD_KINDS, SOURCE_KINDS

# Trigger types and the event kind each one listens to. A type without an
# event kind is launched by hand (a segment). Bridge modules add their types
# with ``selection_add`` and an entry in ``_event_kinds()``.
TRIGGER_TYPES = [
    ("segment", "Manual launch for a segment"),
    ("api", "Event posted through the API"),
    ("landing_signup", "Client registers from a landing page"),
    *SOURCE_KINDS,
    ("funnel_registered", "Registered in a funnel"),
    *LEAD_KINDS,
]

PAGE_TYPES = ("website_form", "page_visit", "page_leave")

EMAIL_TYPES = ("email_open", "email_click", "email_reply", "email_bounce")

LEAD_TRIGGER_TYPES = tuple(key for key, _label in LEAD_KINDS)


class SalesjetFlowTrigger(models.Model):
    _name = "salesjet.flow.trigger"
    _check_company_auto = True
    _inherit = ["salesjet.engine.cache.mixin"]
    _description = "Flow Trigger"
    _order = "flow_id, sequence, id"

    flow_id = fields.Many2one("salesjet.flow", string="Flow", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="flow_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    trigger_type = fields.Selection(
        TRIGGER_TYPES, string="Starts when", required=True, default="segment",
        help="Manual launch for a segment: a user presses Launch and every contact of the segment is enrolled.\n"
             "Event posted through the API: another module or system posts an event with this code.",
    )
    event_code = fields.Char(
        string="Event code",
        help="The code the event is posted with, e.g. newsletter_signup "
             "(env['salesjet.event'].post('newsletter_signup', partner)).",
    )
    partner_domain = fields.Char(
        string="Contacts", default="[]",
        help="Only contacts matching this filter are enrolled. For a segment launch this is the segment.",
    )
    name = fields.Char(compute="_compute_name")
    # the product filter of the purchase triggers that bridges add (shop, loyalty): declared once here, so
    # that a trigger has one filter, in one pair of tables, whichever bridges are installed
    product_tmpl_ids = fields.Many2many(
        "product.template", "salesjet_flow_trigger_product_template_rel", "trigger_id", "product_tmpl_id",
        check_company=True,
        ondelete="restrict",  # never widen a filter silently: a used record cannot be deleted
        string="Products", help="The order holds at least one of these products (any variant).",
    )
    product_categ_ids = fields.Many2many(
        "product.category", "salesjet_flow_trigger_product_category_rel", "trigger_id", "categ_id",
        ondelete="restrict",
        string="Product categories",
        help="The order holds a product of one of these categories or of their sub-categories.",
    )

    @api.depends("trigger_type", "event_code", "page_path", "funnel_id", "download_id", "mail_step_id",
                 "mail_template_id", "facebook_form_id", "mailing_list_id", "lead_stage_ids", "lead_team_id")
    def _compute_name(self):
        labels = dict(self._fields["trigger_type"]._description_selection(self.env))
        for trigger in self:
            label = labels.get(trigger.trigger_type, "")
            name = f"{label}: {trigger.event_code}" if trigger.event_code else label
            detail = (trigger.funnel_id.name or trigger.page_path or trigger.download_id.name
                      or trigger.mail_step_id.display_name or trigger.mail_template_id.name
                      or trigger.facebook_form_id.name or trigger.mailing_list_id.name
                      or ", ".join(trigger.lead_stage_ids.mapped("name")) or trigger.lead_team_id.name)
            if detail and trigger.trigger_type != "api":
                name = f"{name}: {detail}"
            trigger.name = name

    def _compute_display_name(self):
        # a run may keep the id of a trigger deleted while it was enrolled (RunTrigger): it reads as deleted
        existing = self.exists()
        for trigger in self - existing:
            trigger.display_name = _("Deleted trigger")
        return super(SalesjetFlowTrigger, existing)._compute_display_name()

    @api.constrains("trigger_type", "event_code")
    def _check_event_code(self):
        for trigger in self:
            if trigger.trigger_type == "api" and not (trigger.event_code or "").strip():
                raise ValidationError(_("Give the API trigger of flow “%s” an event code, e.g. newsletter_signup.",
                                        trigger.flow_id.name))

    def _match_products(self, event):
        """Whether the purchase ``event`` (its data's ``product_template_ids`` and ``product_category_ids``)
        passes this trigger's product filter; no filter: every purchase does."""
        if not self.product_tmpl_ids and not self.product_categ_ids:
            return True
        data = event.data or {}
        return bool(set(self.product_tmpl_ids.ids) & set(data.get("product_template_ids") or [])
                    or set(self.product_categ_ids.ids) & set(data.get("product_category_ids") or []))

    @api.constrains("partner_domain")
    def _check_partner_domain(self):
        for trigger in self:
            try:
                self.env["res.partner"].search_count(trigger._get_partner_domain(), limit=1)
            except Exception as e:
                raise ValidationError(_("The contact filter of trigger “%(trigger)s” is not valid: %(error)s",
                                        trigger=trigger.name, error=e)) from e

    @api.model
    @tools.ormcache("kind", "company_id")
    def _cached_triggers(self, kind, company_id):
        """(id, type, event code, flow id, contact domain) of the triggers of active, running flows
        listening to events of ``kind``.

        Cleared whenever a trigger or a flow changes (see create/write/unlink).
        """
        types = [trigger_type for trigger_type, event_kind in self._event_kinds().items() if event_kind == kind]
        triggers = self.sudo().search([
            ("trigger_type", "in", types), ("flow_id.active", "=", True), ("flow_id.state", "=", "running"),
            ("company_id", "=", company_id),
        ])
        return tuple((t.id, t.trigger_type, t.event_code, t.flow_id.id, t.partner_domain) for t in triggers)

    @api.model
    def _event_kinds(self):
        """Map each trigger type to the ``salesjet.event`` kind it listens to."""
        return {
            "api": "api",
            "landing_signup": "api",
            **{key: key for key, _label in SOURCE_KINDS},
            # a registration is a website form sent from one of the funnel's pages
            "funnel_registered": "website_form",
            **{key: key for key, _label in LEAD_KINDS},
        }

    def _get_partner_domain(self):
        self.ensure_one()
        return list(safe_eval(self.partner_domain or "[]", {"uid": self.env.uid}))

    def _matches_event(self, event):
        """Whether this trigger starts its flow for ``event`` (kind already matched).

        Types with parameters override ``_match_<type>``; the default accepts.
        """
        self.ensure_one()
        matcher = getattr(self, f"_match_{self.trigger_type}", None)
        return matcher(event) if matcher else True

    def _match_api(self, event):
        return (self.event_code or "").strip() == (event.code or "").strip()

    # ---- Message chains ----
    # Landing-page registration: an event posted when a client registers from a landing page.
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
        triggers = super().create(vals_list)
        for trigger in triggers:
            trigger.flow_id._note_change(_("Trigger added: %s.", trigger.display_name))
        return triggers

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

    # ---- Event sources ----
    # pages: forms, visits, leaving
    page_path = fields.Char(
        string="Page",
        help="The page's path, e.g. /pricing or /contactus; end it with * for every page under it (/shop*). "
             "Empty: any page (or any page of the funnel).",
    )
    funnel_id = fields.Many2one(
        "salesjet.funnel", string="Funnel", ondelete="restrict",
        check_company=True,
        help="Fire for any page of this funnel instead of one page.",
    )
    popup_enabled = fields.Boolean(
        string="Show a pop-up when the visitor is about to leave",
        help="On the trigger's pages, a pop-up (e.g. a special offer) opens when the mouse leaves the window "
             "towards the tabs or the address bar. Shown to every visitor; only identified visitors start the flow.",
    )
    popup_title = fields.Char(string="Pop-up title", translate=True)
    popup_text = fields.Text(string="Pop-up text", translate=True)
    popup_button_label = fields.Char(string="Button label", translate=True, help="e.g. Get 10% off")
    popup_button_url = fields.Char(
        string="Button link", help="Where the button leads: a page of the site (/offer) or a full https:// address.",
    )
    # files
    download_id = fields.Many2one(
        "salesjet.download", string="File", ondelete="restrict",
        check_company=True,
        help="Only downloads of this tracked file; empty: any tracked file.",
    )
    # emails
    mail_step_id = fields.Many2one(
        "salesjet.flow.step", string="Email of step", ondelete="cascade", domain=[("action_type", "=", "email")],
        check_company=True,
        help="Only the email sent by this step (of any flow). Empty: any tracked email, or the template's.",
    )
    mail_template_id = fields.Many2one(
        "mail.template", string="Email template", ondelete="cascade", domain=[("model", "=", "res.partner")],
        help="Only emails sent from this template by a flow step.",
    )
    # Facebook
    facebook_form_id = fields.Many2one(
        "salesjet.facebook.form", string="Facebook lead form", ondelete="restrict",
        check_company=True,
        help="Only leads of this page and form; empty: leads of any configured form.",
    )
    # mailing lists
    mailing_list_id = fields.Many2one(
        "mailing.list", string="Mailing list", ondelete="cascade",
        help="Only subscriptions to this list; empty: any list.",
    )

    @api.constrains("trigger_type", "page_path", "funnel_id", "popup_enabled", "popup_title", "popup_text",
                    "popup_button_url")
    def _check_source_settings(self):
        for trigger in self.filtered(lambda t: t.trigger_type == "funnel_registered" and not t.funnel_id):
            raise ValidationError(_("Trigger of flow “%s”: choose the funnel whose registrations start the flow.",
                                    trigger.flow_id.name))
        for trigger in self.filtered(lambda t: t.trigger_type in PAGE_TYPES):
            path = (trigger.page_path or "").strip()
            if path and not path.startswith("/"):
                raise ValidationError(_("Trigger of flow “%(flow)s”: write the page as a path starting with /, "
                                        "e.g. /pricing (not “%(path)s”).", flow=trigger.flow_id.name, path=path))
            if trigger.popup_enabled:
                if trigger.trigger_type != "page_leave":
                    raise ValidationError(_("Trigger of flow “%s”: the exit pop-up belongs to a “Page left” trigger.",
                                            trigger.flow_id.name))
                if not (trigger.popup_title or "").strip() or not (trigger.popup_text or "").strip():
                    raise ValidationError(_("Trigger of flow “%s”: give the pop-up a title and a text.",
                                            trigger.flow_id.name))
                url = (trigger.popup_button_url or "").strip()
                if url and not (url.startswith(("https://", "http://"))
                                or (url.startswith("/") and not url.startswith("//"))):
                    raise ValidationError(_("Trigger of flow “%(flow)s”: the button link must be a page of the site "
                                            "(/offer) or an http(s):// address, not “%(url)s”.",
                                            flow=trigger.flow_id.name, url=url))

    # ------------------------------------------------------------------
    # Matching events
    # ------------------------------------------------------------------

    def _match_page(self, event):
        data = event.data or {}
        path = normalize_path(data.get("path") or "")
        if self.funnel_id:
            return self.funnel_id._contains(path, data.get("page_id"))
        return path_matches(self.page_path, path)

    _match_website_form = _match_page
    _match_page_visit = _match_page
    _match_page_leave = _match_page

    def _match_funnel_registered(self, event):
        data = event.data or {}
        return bool(self.funnel_id) and self.funnel_id._contains(normalize_path(data.get("path") or ""))

    def _match_file_download(self, event):
        return not self.download_id or (event.data or {}).get("download_id") == self.download_id.id

    def _match_email(self, event):
        if not self.mail_step_id and not self.mail_template_id:
            return True
        steps = self.mail_step_id or self.env["salesjet.flow.step"].sudo().search(
            [("mail_template_id", "=", self.mail_template_id.id), ("action_type", "=", "email")])
        return (event.data or {}).get("mailing_id") in steps.mailing_id.ids

    _match_email_open = _match_email
    _match_email_click = _match_email
    _match_email_reply = _match_email
    _match_email_bounce = _match_email

    def _match_facebook_lead(self, event):
        return not self.facebook_form_id or (event.data or {}).get("facebook_form_id") == self.facebook_form_id.id

    def _match_list_subscribe(self, event):
        return not self.mailing_list_id or (event.data or {}).get("list_id") == self.mailing_list_id.id

    # ------------------------------------------------------------------
    # Website: what a page asks the visitor's browser to do
    # ------------------------------------------------------------------

    @api.model
    @tools.ormcache("kind", "company_id", "self.env.lang")
    def _cached_page_rows(self, kind, company_id):
        """(page path, funnel paths or None, pop-up or None) of the active triggers of ``kind`` (a page
        kind) of the company, pop-up texts in the current language; cached, cleared with triggers and funnels."""
        rows = []
        for trigger_id, *_rest in self._cached_triggers(kind, company_id):
            trigger = self.sudo().browse(trigger_id)
            popup = None
            if trigger.popup_enabled:
                popup = {
                    "title": trigger.popup_title or "", "text": trigger.popup_text or "",
                    "button_label": trigger.popup_button_label or "", "button_url": trigger.popup_button_url or "",
                }
            funnel_paths = tuple(trigger.funnel_id.page_ids.mapped("path")) if trigger.funnel_id else None
            rows.append((trigger.page_path or "", funnel_paths, popup))
        return tuple(rows)

    @api.model
    def _page_rows_matching(self, kind, company_id, path):
        """The cached rows of ``kind`` whose page (or funnel) is ``path``."""
        path = normalize_path(path)
        return [
            row for row in self._cached_page_rows(kind, company_id)
            if (any(path_matches(p, path) for p in row[1]) if row[1] is not None else path_matches(row[0], path))
        ]

    @api.model
    def _page_leave_config(self, company_id, path):
        """What the exit-intent script does on ``path``: send a "page left" beacon, show a pop-up.

        :return: ``{"beacon": True, "popup": dict or None}``, or None when no active flow watches the page
        """
        rows = self._page_rows_matching("page_leave", company_id, path)
        if not rows:
            return None
        return {"beacon": True, "popup": next((popup for *_row, popup in rows if popup), None)}

    # ---- Form data ----
    form_mapping_ids = fields.One2many(
        "salesjet.form.mapping", "trigger_id", string="Form data", copy=True,
        help="Which contact field each field of the form fills, when the event is processed.",
    )

    # ---- Event sources ----
    @api.model
    @tools.ormcache("kind")
    def _listening_company_ids(self, kind):
        """Companies with an active, running flow listening to events of ``kind`` (cached, cleared with triggers)."""
        types = [t for t, event_kind in self._event_kinds().items() if event_kind == kind]
        triggers = self.sudo().search([("trigger_type", "in", types), ("flow_id.active", "=", True),
                                       ("flow_id.state", "=", "running")])
        return frozenset(triggers.company_id.ids)

    @api.model
    def _page_leave_config_for_request(self, website):
        """The exit-intent settings of the page being rendered (see ``_page_leave_config``)."""
        if website.company_id.id not in self._listening_company_ids("page_leave"):
            return None
        return self._page_leave_config(website.company_id.id, request_page_path())

    # ---- Versions and safe edits ----
    def write(self, vals):
        res = super().write(vals)
        for trigger in self:
            trigger.flow_id._note_change(_("Trigger %s changed.", trigger.display_name))
        return res

    def unlink(self):
        for trigger in self.exists():
            trigger.flow_id._note_change(_("Trigger removed: %s.", trigger.display_name))
        return super().unlink()

    # ---- Leads ----
    # Lead triggers: events posted by crm.lead's create and write (models/crm_lead.py).
    lead_domain = fields.Char(
        string="Leads", default="[]",
        help="Only leads matching this filter start the flow (e.g. a sales team, a source, a tag); checked when "
             "the lead event happens. Empty: every lead, whatever created it (a website form, an import, a user).",
    )
    lead_stage_ids = fields.Many2many(
        "crm.stage", "salesjet_flow_trigger_crm_stage_rel", "trigger_id", "stage_id", string="Stages",
        ondelete="restrict",
        help="The flow starts when a lead reaches one of these stages (created in it or moved to it).",
    )
    lead_team_id = fields.Many2one(
        "crm.team", string="Sales team", ondelete="restrict", check_company=True,
        help="Only leads of this sales team (once assigned); empty: any team.",
    )

    @api.constrains("trigger_type", "lead_domain", "lead_stage_ids")
    def _check_lead_settings(self):
        for trigger in self.filtered(lambda t: t.trigger_type in LEAD_TRIGGER_TYPES):
            if trigger.trigger_type == "lead_stage" and not trigger.lead_stage_ids:
                raise ValidationError(_("Trigger of flow “%s”: choose the stages a lead reaches to start the flow.",
                                        trigger.flow_id.name))
            try:
                # a Flows administrator may have no CRM rights: the filter's validity is what is checked
                self.env["crm.lead"].sudo().search_count(trigger._get_lead_domain(), limit=1)
            except Exception as e:
                raise ValidationError(_("The lead filter of trigger “%(trigger)s” is not valid: %(error)s",
                                        trigger=trigger.name, error=e)) from e

    def _get_lead_domain(self):
        self.ensure_one()
        return list(safe_eval(self.lead_domain or "[]", {"uid": self.env.uid}))

    def _match_lead(self, event):
        """Whether the event's lead passes this trigger's lead filter (read when the event is processed)."""
        domain = self._get_lead_domain()
        if not domain:
            return True
        return bool(event.lead_id.with_context(active_test=False).sudo().filtered_domain(domain))

    _match_lead_created = _match_lead
    _match_lead_won = _match_lead
    _match_lead_lost = _match_lead

    def _match_lead_stage(self, event):
        return (event.data or {}).get("stage_id") in self.lead_stage_ids.ids and self._match_lead(event)

    def _match_lead_assigned(self, event):
        team_ok = not self.lead_team_id or (event.data or {}).get("team_id") == self.lead_team_id.id
        return team_ok and self._match_lead(event)
