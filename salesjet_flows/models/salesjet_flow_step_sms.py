import re

from odoo import _, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL
from odoo.tools.mail import TEXT_URL_REGEX

from ..tools.arrays import array_literal
from ..tools.phone import to_e164
from ..tools.preview import preview_rows
from .website_visitor import LINK_PARAM, partner_link_proof

NUMBER_SOURCES = [
    ("mobile", "Mobile"),
    ("phone", "Phone"),
    ("event", "A value of the event"),
]


class SalesjetFlowStepSms(models.AbstractModel):
    _name = "salesjet.flow.step.sms"
    _description = "Flow step: SMS"

    sms_template_id = fields.Many2one(
        "sms.template", string="SMS template", domain=[("model", "=", "res.partner")], ondelete="restrict",
        help="An SMS template on Contacts; or leave it empty and write the text below.",
    )
    sms_body = fields.Text(
        string="SMS text", translate=True,
        help="Placeholders show a visible default where data is missing, as SalesJet does: "
             "Hi {{ object.name ||| #Contact | Name# }}",
    )
    sms_number_source = fields.Selection(
        NUMBER_SOURCES, string="Number", default="mobile",
        help="Mobile or phone of the contact (the other one is used when this one is empty), "
             "or a value of the event that started the run.",
    )
    sms_number_key = fields.Char(string="Event key", help="Key of the event's data holding the number, e.g. phone.")

    def _settings_fields(self):
        return super()._settings_fields() + ["sms_template_id", "sms_body", "sms_number_source", "sms_number_key"]

    def _check_action_sms(self):
        if not self.sms_template_id and not (self.sms_body or "").strip():
            raise ValidationError(_("Step “%s”: choose an SMS template or write the text.", self.display_name))
        if self.sms_number_source == "event" and not (self.sms_number_key or "").strip():
            raise ValidationError(_("Step “%s”: say which value of the event holds the number.", self.display_name))
        self._check_renders(self._sms_source(), _("SMS text"))
        self._check_template_placeholders(self.sms_template_id, [("body", "inline_template")], _("SMS template"))

    def _sms_source(self):
        return self.sms_template_id.body if self.sms_template_id else (self.sms_body or "")

    def _contact_number(self, partner, data=None, source="mobile"):
        """The number this step texts or calls for ``partner``, as ``(raw, E.164 or None)``.

        The one place that chooses it, for sending, calling and previews: ``source`` "mobile" or "phone" takes
        that field of the contact and falls back on the other; "event" takes the run's ``data`` value at
        ``sms_number_key``. A number without a country prefix is read in the contact's country, else the
        flow's company's.
        """
        if source == "event":
            raw = str((data or {}).get(self.sms_number_key) or "")
        elif source == "phone":
            raw = partner.phone or partner.mobile
        else:
            raw = partner.mobile or partner.phone
        return raw, to_e164(raw, partner.country_id.code or self.flow_id.company_id.country_id.code)

    def _sms_numbers(self, jobs):
        """{job id: (raw, E.164 number or None)} from the configured source and the contact's country."""
        return {job.id: self._contact_number(job.partner_id, job.enrollment_id.data, self.sms_number_source)
                for job in jobs}

    def _sms_track_links(self, bodies):
        """Shorten the links of the batch's texts ({job id: text}) so their clicks count on this step.

        Each distinct URL gets one ``link.tracker`` on the step's tracking mailing,
        for the whole batch (not one lookup per contact).
        """
        urls = set(re.findall(TEXT_URL_REGEX, "\n".join(bodies.values())))
        if not urls:
            return bodies
        if not self.mailing_id:
            self._sync_tracking_mailing()
        ordered = sorted(urls)
        shortened = self.env["mail.render.mixin"]._shorten_links_text(
            "\n".join(ordered), {"mass_mailing_id": self.mailing_id.id}).split("\n")
        mapping = dict(zip(ordered, shortened, strict=False))
        # longest first, so that a URL which is the start of another one does not cut it
        pattern = re.compile("|".join(re.escape(url) for url in sorted(urls, key=len, reverse=True))
                             + r"(?![\w@:%.+&~#=/-])")
        return {job_id: pattern.sub(lambda m: mapping[m.group(0)], body) for job_id, body in bodies.items()}

    def _sms_sign_links(self, bodies, jobs):
        """Add to each tracked link (``<base>/r/<code>``) of a contact's SMS the signed proof of the contact
        (``?sj=<id>.<signature>``, about 25 characters): a click links the browser's website visitor to it."""
        base = self.get_base_url().rstrip("/")
        pattern = re.compile(re.escape(base) + r"/r/[A-Za-z0-9]+(?![\w/?#=&.-])")
        partners = {job.id: job.partner_id.id for job in jobs}
        signed = {}
        for job_id, body in bodies.items():
            proof = partner_link_proof(self.env, partners[job_id]) if job_id in partners else None
            signed[job_id] = (pattern.sub(lambda m, proof=proof: f"{m.group(0)}?{LINK_PARAM}={proof}", body)
                              if proof else body)
        return signed

    def _skip_blacklisted_numbers(self, jobs, numbers):
        """Skip the jobs whose number ({job id: (raw, E.164)}) is on the phone blacklist; return the others."""
        if not jobs:
            return jobs
        self.env["phone.blacklist"].flush_model()
        self.env.cr.execute(SQL("SELECT number FROM phone_blacklist WHERE active AND number = ANY(%s::varchar[])",
                                array_literal({numbers[j.id][1] for j in jobs})))
        blacklisted = {row[0] for row in self.env.cr.fetchall()}
        refused = jobs.filtered(lambda j: numbers[j.id][1] in blacklisted)
        refused._mark_skipped(_("Phone number blacklisted: the contact opted out of SMS."))
        return jobs - refused

    def _sms_bodies(self, jobs, track=True):
        """{job id: text} of this step's SMS for ``jobs``, rendered for the whole batch per language; with
        ``track``, its links shortened on the step's mailing and signed for each contact (not for a test send)."""
        bodies = {}
        for lang, lang_jobs in self._jobs_per_lang(jobs).items():
            source = (self.sms_template_id.with_context(lang=lang).body if self.sms_template_id
                      else self.with_context(lang=lang).sms_body)
            bodies.update(self._render_for_jobs(source or "", lang_jobs, lang=lang,
                                                owner=self.sms_template_id or self))
        if track:
            bodies = self._sms_track_links(bodies)
            bodies = self._sms_sign_links(bodies, jobs)
        return bodies

    def _action_sms(self, jobs):
        """Render the text for the batch and queue one ``sms.sms`` per contact through Odoo's gateway."""
        archived = jobs.filtered(lambda j: not j.partner_id.active)
        archived._mark_skipped(_("Contact archived."))
        jobs -= archived
        numbers = self._sms_numbers(jobs)
        missing = jobs.filtered(lambda j: not numbers[j.id][0])
        missing._mark_skipped(_("No phone number."))
        invalid = jobs.filtered(lambda j: numbers[j.id][0] and not numbers[j.id][1])
        for job in invalid:
            job._mark_skipped(_("Invalid phone number: %s", numbers[job.id][0]))
        jobs -= missing | invalid
        jobs = self._skip_blacklisted_numbers(jobs, numbers)
        if not jobs:
            return
        bodies = self._sms_bodies(jobs)
        sms = self.env["sms.sms"].sudo().create([{
            "number": numbers[job.id][1], "body": bodies[job.id], "partner_id": job.partner_id.id,
            "state": "outgoing",
        } for job in jobs])
        self.env["salesjet.flow.job"]._update_by_ids(
            jobs.ids, SQL("res_model = 'sms.sms', res_id = v.sms_id, result = %s || v.number", _("SMS queued to ")),
            values=[("sms_id", "int", sms.ids), ("number", "text", [numbers[job.id][1] for job in jobs])],
        )
        jobs.invalidate_recordset(["res_model", "res_id", "result"])
        # the SMS queue cron sends them; wake it now rather than at its next run
        self.env.ref("sms.ir_cron_sms_scheduler_action")._trigger()

    def _preview_sms(self, partner, data):
        raw, number = self._contact_number(partner, data, self.sms_number_source)
        source = (self.sms_template_id.with_context(lang=partner.lang or None).body if self.sms_template_id
                  else self.with_context(lang=partner.lang or None).sms_body)
        if number and self.env["phone.blacklist"].sudo().search_count([("number", "=", number)], limit=1):
            number = _("%s is blacklisted (opted out of SMS): the step would be skipped", number)
        return preview_rows([
            (_("To"), number or (_("invalid number %s: the step would be skipped", raw) if raw
                                 else _("no phone number: the step would be skipped"))),
            (_("Text"), self._render_preview(source or "", partner, data, owner=self.sms_template_id or self)),
        ])
