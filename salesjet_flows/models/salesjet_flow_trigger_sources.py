from odoo import _, api, fields, models, tools
from odoo.exceptions import ValidationError

from .salesjet_event_sources import SOURCE_KINDS, normalize_path, path_matches

PAGE_TYPES = ("website_form", "page_visit", "page_leave")
EMAIL_TYPES = ("email_open", "email_click", "email_reply", "email_bounce")


class SalesjetFlowTrigger(models.Model):
    _inherit = "salesjet.flow.trigger"

    trigger_type = fields.Selection(
        selection_add=[*SOURCE_KINDS, ("funnel_registered", "Registered in a funnel")],
        ondelete={**{key: "cascade" for key, _label in SOURCE_KINDS}, "funnel_registered": "cascade"},
    )
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

    @api.depends("trigger_type", "event_code", "page_path", "funnel_id", "download_id", "mail_step_id", "mail_template_id", "facebook_form_id",
                 "mailing_list_id")
    def _compute_name(self):
        super()._compute_name()
        for trigger in self:
            detail = (trigger.funnel_id.name or trigger.page_path or trigger.download_id.name
                      or trigger.mail_step_id.display_name or trigger.mail_template_id.name
                      or trigger.facebook_form_id.name or trigger.mailing_list_id.name)
            if detail and trigger.trigger_type != "api":
                trigger.name = f"{trigger.name}: {detail}"

    @api.model
    def _event_kinds(self):
        # a registration is a website form sent from one of the funnel's pages
        return {**super()._event_kinds(), **{key: key for key, _label in SOURCE_KINDS},
                "funnel_registered": "website_form"}

    @api.constrains("trigger_type", "page_path", "funnel_id", "popup_enabled", "popup_title", "popup_text", "popup_button_url")
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
                if url and not (url.startswith(("https://", "http://")) or (url.startswith("/") and not url.startswith("//"))):
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
