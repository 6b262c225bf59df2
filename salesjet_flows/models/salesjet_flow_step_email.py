from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, email_normalize

from ..tools.arrays import array_literal
from ..tools.placeholders import guard_placeholders, inline_to_qweb
from ..tools.preview import preview_rows

# the fields of a mail.template an email step renders, and their engine
TEMPLATE_TEXTS = [("subject", "inline_template"), ("body_html", "qweb"), ("email_from", "inline_template")]


class SalesjetFlowStepEmail(models.AbstractModel):
    _name = "salesjet.flow.step.email"
    _description = "Flow step: email"

    email_source = fields.Selection(
        [("template", "An existing template"), ("custom", "Written here")],
        string="Email", default="custom",
        help="Use one of your email templates, or write the subject and body here "
             "(they are saved as a template of their own).",
    )
    mail_template_id = fields.Many2one(
        "mail.template", string="Email template", ondelete="restrict",
        domain=[("model", "=", "res.partner")],
        help="A template on Contacts. Placeholders: {{ object.name }} (the contact), {{ lead.name }} "
             "(the run's lead), {{ event.get('key') ||| default }} (the event's data).",
    )
    email_subject = fields.Char(
        string="Subject", translate=True,
        help="Placeholders allowed, with a default for missing values: Hello {{ object.name ||| there }}",
    )
    # the body sent: the designer's copy with its styles inlined for mail clients (as mailing.mailing's
    # body_html); sanitized as Odoo's outgoing mail templates are (scripts and event handlers removed,
    # Outlook's conditional comments and the designer's <t t-out> placeholders kept)
    email_body = fields.Html(
        string="Body", translate=True, sanitize="email_outgoing",
        help="Placeholders allowed: {{ object.name ||| friend }}. Links are tracked.",
    )
    # what Odoo's email designer edits (as mailing.mailing's body_arch): themes, building blocks, classes
    email_body_arch = fields.Html(
        string="Body design", translate=True, sanitize="email_outgoing", sanitize_output_method="html",
        help="The email as the designer shows it. Written without the designer, the body replaces it.",
    )
    # the email designer (mass_mailing_html) offers the saved mailing designs of its recipients' model
    mailing_model_id = fields.Many2one(
        "ir.model", string="Recipients model", compute="_compute_mailing_model_id",
        help="Contacts: the model of the email's recipients, for the designer's saved designs.",
    )
    email_to_mode = fields.Selection(
        [("contact", "The contact"), ("fixed", "A fixed address")],
        string="Send to", default="contact",
        help="A fixed address sends the mail about the contact to someone else, e.g. to notify staff.",
    )
    email_to_fixed = fields.Char(string="Address", help="One email address, e.g. sales@yourcompany.com")
    mail_server_id = fields.Many2one(
        "ir.mail_server", string="SMTP connection",
        help="The outgoing mail server this step sends with; empty: Odoo's default choice.",
    )
    mailing_id = fields.Many2one(
        "mailing.mailing", string="Tracking mailing", readonly=True, copy=False, ondelete="set null",
        help="Technical mailing whose traces record the opens and clicks of this step's emails.",
    )

    def _settings_fields(self):
        return super()._settings_fields() + [
            "email_source", "mail_template_id", "email_subject", "email_body", "email_to_mode", "email_to_fixed",
        ]

    def _compute_mailing_model_id(self):
        self.mailing_model_id = self.env["ir.model"]._get("res.partner")

    @staticmethod
    def _email_design_vals(vals):
        """A body written without the designer (code, API, import) becomes the design too, so that the
        designer never shows an older email than the one sent."""
        if "email_body" in vals and "email_body_arch" not in vals:
            vals = dict(vals, email_body_arch=vals["email_body"])
        return vals

    def _check_action_email(self):
        if self.email_source == "template" and not self.mail_template_id:
            raise ValidationError(_("Step “%s”: choose the email template to send.", self.display_name))
        if self.email_source == "custom" and not (self.email_subject or "").strip():
            raise ValidationError(_("Step “%s”: write the email's subject.", self.display_name))
        if self.email_to_mode == "fixed" and not email_normalize(self.email_to_fixed or ""):
            raise ValidationError(_("Step “%(step)s”: “%(address)s” is not a valid email address.",
                                    step=self.display_name, address=self.email_to_fixed or ""))
        if self.email_source == "custom":
            self._check_renders(self.email_subject, _("subject"))
            self._check_renders(inline_to_qweb(self.email_body), _("body"), engine="qweb")
        else:
            self._check_template_placeholders(self.mail_template_id, TEMPLATE_TEXTS, _("email template"))

    @api.model_create_multi
    def create(self, vals_list):
        steps = super().create([self._email_design_vals(vals) for vals in vals_list])
        steps.filtered(lambda s: s.action_type == "email")._sync_email_template()
        return steps

    def write(self, vals):
        res = super().write(self._email_design_vals(vals))
        if {"action_type", "email_source", "email_subject", "email_body", "mail_server_id", "name"} & set(vals):
            self.filtered(lambda s: s.action_type == "email")._sync_email_template()
        return res

    # not an override (no super to return): it only calls super().write
    def _sync_email_template(self):  # pylint: disable=missing-return
        """Keep the step's own template and its tracking mailing in line with the step."""
        model_id = self.env["ir.model"]._get_id("res.partner")
        for step in self:
            if step.email_source == "custom":
                vals = {
                    "name": _("Flow %(flow)s: %(step)s", flow=step.flow_id.name, step=step.name or _("email")),
                    "model_id": model_id,
                    "subject": step.email_subject,
                    "body_html": inline_to_qweb(step.email_body),
                    "mail_server_id": step.mail_server_id.id,
                    "auto_delete": True,
                }
                own = step.mail_template_id if step.mail_template_id.salesjet_step_id == step else False
                if own:
                    own.write(vals)
                else:
                    template = self.env["mail.template"].create(dict(vals, salesjet_step_id=step.id))
                    super(SalesjetFlowStepEmail, step).write({"mail_template_id": template.id})
            step._sync_tracking_mailing()

    # not an override (no super to return): it only calls super().write
    def _sync_tracking_mailing(self):  # pylint: disable=missing-return
        """Give the step a technical mailing (sending nothing itself) whose traces and link
        trackers record the opens and clicks of the messages the step sends."""
        self.ensure_one()
        if not self.mailing_id:
            mailing = self.env["mailing.mailing"].sudo().create({
                "email_from": self._tracking_mailing_sender(),
                "subject": self.mail_template_id.subject or self.display_name,
                "body_html": self.mail_template_id.body_html,
                "mailing_model_id": self.env["ir.model"]._get_id("res.partner"),
                "mailing_domain": "[(0, '=', 1)]",  # sends nothing by itself
                "state": "done",
                "sent_date": fields.Datetime.now(),
                "keep_archives": True,
            })
            super().write({"mailing_id": mailing.id})
        self.mailing_id.sudo().write({"subject": _("Flow %(flow)s: %(step)s", flow=self.flow_id.name,
                                                   step=self.display_name)})

    def _tracking_mailing_sender(self):
        """The tracking mailing's sender (a mailing requires one): the user's address, else the company's."""
        company = self.flow_id.company_id or self.env.company
        sender = self.env.user.email_formatted or company.email_formatted
        if not sender:
            raise UserError(_("Step “%(step)s”: an email step needs a sender address. Set an email address on "
                              "your user preferences or on the company %(company)s.",
                              step=self.display_name, company=company.name))
        return sender

    # ------------------------------------------------------------------
    # Execution
    # ------------------------------------------------------------------

    def _skip_unreachable_by_email(self, jobs):
        """Skip jobs whose contact cannot get a marketing email; return the others."""
        archived = jobs.filtered(lambda j: not j.partner_id.active)
        archived._mark_skipped(_("Contact archived."))
        jobs -= archived
        no_email = jobs.filtered(lambda j: not j.partner_id.email_normalized)
        no_email.filtered(lambda j: not j.partner_id.email)._mark_skipped(_("No email address."))
        no_email.filtered(lambda j: j.partner_id.email)._mark_skipped(_("Invalid email address."))
        jobs -= no_email
        if jobs:
            self.env["mail.blacklist"].flush_model()
            self.env.cr.execute(SQL(
                "SELECT email FROM mail_blacklist WHERE active AND email = ANY(%s::varchar[])",
                array_literal(set(jobs.partner_id.mapped("email_normalized"))),
            ))
            blacklisted = {row[0] for row in self.env.cr.fetchall()}
            refused = jobs.filtered(lambda j: j.partner_id.email_normalized in blacklisted)
            refused._mark_skipped(_("Email address blacklisted: the contact opted out of emails."))
            jobs -= refused
        return jobs

    def _email_from(self):
        template = self.mail_template_id
        if template.email_from:
            guard_placeholders(self.env, template.email_from, template)
            return template._render_field("email_from", [self.env.user.partner_id.id])[self.env.user.partner_id.id]
        company = self.flow_id.company_id
        return company.email_formatted or self.env.user.email_formatted

    def _action_email(self, jobs):
        """Render the template for the whole batch and queue one tracked mail per contact."""
        to_contact = self.email_to_mode == "contact"
        if to_contact:
            jobs = self._skip_unreachable_by_email(jobs)
        if not jobs:
            return
        vals_list, ordered_jobs = self._email_values(jobs)
        mails = self.env["mail.mail"].sudo().create(vals_list)
        self.env["salesjet.flow.job"]._update_by_ids(
            [job.id for job in ordered_jobs],
            SQL("res_model = 'mail.mail', res_id = v.mail_id, mailing_trace_id = v.trace_id, result = %s",
                _("Email queued to %s", self.email_to_fixed) if not to_contact else _("Email queued.")),
            values=[("mail_id", "int", mails.ids),
                    ("trace_id", "int", [mail.mailing_trace_ids[:1].id or None for mail in mails])],
        )
        jobs.invalidate_recordset(["res_model", "res_id", "mailing_trace_id", "result"])

    def _email_values(self, jobs, test_to=None):
        """The ``mail.mail`` values of this step's email for ``jobs``, rendered for the whole batch per language:
        ``(vals_list, jobs in the same order)``.

        With ``test_to`` (a test send), each mail goes to that address only, untracked (no trace, no short
        links), its subject marked as a test; otherwise to the contact, tracked on the step's mailing, or to the
        step's fixed address.
        """
        to_contact = self.email_to_mode == "contact" and not test_to
        template = self.mail_template_id
        if not template:
            raise ValidationError(_("Step “%s” has no email template.", self.display_name))
        mailing = self.mailing_id
        email_from = self._email_from()
        server = self.mail_server_id or template.mail_server_id
        vals_list, ordered_jobs = [], []
        # What mail.message.create would compute mail by mail (a reply-to search per mail was 40 % of this step's
        # time, see docs/performance.md), computed once for the batch by the same methods: every mail here is a
        # message on its contact (model res.partner, res_id, type email), so Odoo's ``_get_reply_to`` and
        # ``_get_record_name`` read exactly these values.
        partners = jobs.partner_id.sudo()
        reply_tos = partners._notify_get_reply_to(default=email_from)
        record_names = {partner.id: partner.display_name for partner in partners}
        for lang, lang_jobs in self._jobs_per_lang(jobs).items():
            localized = template.with_context(lang=lang)
            body_source = localized.body_html or ""
            if to_contact and mailing:
                # shorten the links once in the source, as mass mailing does, so every
                # mail of the batch shares the same trackers
                body_source = self.env["mail.render.mixin"]._shorten_links(
                    body_source, {"mass_mailing_id": mailing.id}, blacklist=["/unsubscribe_from_list", "/view"])
            subjects = self._render_for_jobs(localized.subject or "", lang_jobs, lang=lang, owner=template)
            bodies = self._render_for_jobs(body_source, lang_jobs, engine="qweb", lang=lang,
                                           owner=template)
            for job in lang_jobs:
                partner = job.partner_id
                vals = {
                    "subject": subjects[job.id],
                    "body_html": bodies[job.id],
                    "email_from": email_from,
                    "mail_server_id": server.id,
                    "auto_delete": template.auto_delete,
                    "model": "res.partner",
                    "res_id": partner.id,
                    "message_type": "email",
                    "is_notification": True,
                    "reply_to": reply_tos[partner.id],
                    "record_name": record_names[partner.id],
                }
                if to_contact:
                    vals["recipient_ids"] = [(4, partner.id)]
                    if mailing:
                        vals["mailing_id"] = mailing.id
                        vals["mailing_trace_ids"] = [(0, 0, {
                            "trace_type": "mail", "model": "res.partner", "res_id": partner.id,
                            "email": partner.email_normalized, "mass_mailing_id": mailing.id,
                        })]
                elif test_to:
                    vals.update(subject=_("[Test] %s", vals["subject"]), email_to=test_to, auto_delete=False)
                else:
                    vals["email_to"] = self.email_to_fixed
                vals_list.append(vals)
                ordered_jobs.append(job)
        return vals_list, ordered_jobs

    def action_send_test(self):
        """Open the wizard that sends this step's message to a test address."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Send a test"),
            "res_model": "salesjet.step.test",
            "view_mode": "form",
            "target": "new",
            "context": {"default_step_id": self.id},
        }

    def _preview_email(self, partner, data):
        step = self.with_context(lang=partner.lang or None)
        template = step.mail_template_id.with_context(lang=partner.lang or None)
        owner = self
        if self.email_source == "template" or not self.email_subject:
            subject_src, body_src, owner = template.subject or "", template.body_html or "", template
        else:
            subject_src, body_src = step.email_subject or "", inline_to_qweb(step.email_body)
        to = self.email_to_fixed if self.email_to_mode == "fixed" else partner.email
        return preview_rows([
            (_("To"), to or _("(no email address: the step would be skipped)")),
            (_("Subject"), self._render_preview(subject_src, partner, data, owner=owner)),
            (_("Body"), Markup(self._render_preview(body_src, partner, data, engine="qweb", owner=owner))),
        ])
