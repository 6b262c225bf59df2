from markupsafe import Markup, escape

from odoo import _, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..tools.http import deliver
from ..tools.preview import preview_rows


class SalesjetFlowStepCall(models.AbstractModel):
    _name = "salesjet.flow.step.call"
    _description = "Flow step: phone call"

    call_template_id = fields.Many2one(
        "salesjet.call.template", string="Call template", ondelete="restrict",
        check_company=True,
        domain="['|', ('company_id', '=', False), ('company_id', '=', company_id)]",
        help="The script of the call. The contact's mobile (else phone) is called; the provider is chosen in "
             "the Flows settings: a telephony API, or an activity for the contact's salesperson.",
    )

    def _settings_fields(self):
        return super()._settings_fields() + ["call_template_id"]

    def _check_action_call(self):
        if not self.call_template_id:
            raise ValidationError(_("Step “%s”: choose the call template.", self.display_name))
        for line in self.call_template_id._say_lines():
            self._check_renders(line.text, _("call script"))

    # ------------------------------------------------------------------
    # Execution
    # ------------------------------------------------------------------

    def _call_numbers(self, jobs):
        """Skip the jobs whose contact cannot be called; return {job id: E.164 number} for the others."""
        archived = jobs.filtered(lambda j: not j.partner_id.active)
        archived._mark_skipped(_("Contact archived."))
        jobs -= archived
        raw, numbers = {}, {}
        for job in jobs:
            raw[job.id], numbers[job.id] = self._contact_number(job.partner_id)
        missing = jobs.filtered(lambda j: not raw[j.id])
        missing._mark_skipped(_("No phone number."))
        invalid = jobs.filtered(lambda j: raw[j.id] and not numbers[j.id])
        for job in invalid:
            job._mark_skipped(_("Invalid phone number: %s", raw[job.id]))
        jobs -= missing | invalid
        if jobs:
            self.env["phone.blacklist"].flush_model()
            self.env.cr.execute(SQL("SELECT number FROM phone_blacklist WHERE active AND number = ANY(%s)",
                                    list({numbers[j.id] for j in jobs})))
            blacklisted = {row[0] for row in self.env.cr.fetchall()}
            refused = jobs.filtered(lambda j: numbers[j.id] in blacklisted)
            refused._mark_skipped(_("Phone number blacklisted: the contact opted out."))
            jobs -= refused
        return {job.id: numbers[job.id] for job in jobs}

    def _render_call_texts(self, jobs):
        """{job id: {script line id: text}} of the "say" lines, rendered for the whole batch per language."""
        texts = {job.id: {} for job in jobs}
        for lang, lang_jobs in self._jobs_per_lang(jobs).items():
            for line in self.call_template_id._say_lines().with_context(lang=lang):
                for job_id, text in self._render_for_jobs(line.text or "", lang_jobs, lang=lang,
                                                          owner=line).items():
                    texts[job_id][line.id] = text
        return texts

    def _action_call(self, jobs):
        """Call each contact with the template's script, through the provider chosen in the settings."""
        template = self.call_template_id
        if not template.line_ids:
            raise UserError(_("Call template “%s” has no script lines.", template.name))
        numbers = self._call_numbers(jobs)
        jobs = jobs.filtered(lambda j: j.id in numbers)
        if not jobs:
            return
        texts = self._render_call_texts(jobs)
        calls = [{"job": job, "number": numbers[job.id], "texts": texts[job.id]} for job in jobs]
        provider = self.env["salesjet.call.provider"]._current()
        getattr(self, f"_place_calls_{provider}")(calls)

    def _call_assignees(self, jobs):
        """{job id: user}: the contact's salesperson, else the flow's responsible, else its creator."""
        flow = self.flow_id
        fallback = flow.user_id or flow.create_uid
        return {job.id: job.partner_id.user_id or fallback for job in jobs}

    def _place_calls_activity(self, calls):
        """No telephony: plan a "Call" activity with the script for each contact's salesperson."""
        template = self.call_template_id
        jobs = self.env["salesjet.flow.job"].browse([call["job"].id for call in calls])
        assignees = self._call_assignees(jobs)
        activity_type = self.env.ref("mail.mail_activity_data_call")
        # quick update: no assignment email per activity, a batch may hold hundreds of them
        activities = self.env["mail.activity"].sudo().with_context(mail_activity_quick_update=True).create([{
            "res_model_id": self.env["ir.model"]._get_id("res.partner"),
            "res_id": call["job"].partner_id.id,
            "activity_type_id": activity_type.id,
            "summary": self.name or template.name,
            "note": template._script_html(call["texts"], call["number"]),
            "user_id": assignees[call["job"].id].id,
            "date_deadline": fields.Date.context_today(self),
        } for call in calls])
        for call, activity in zip(calls, activities, strict=True):
            call["job"]._set_result(_("Call to %(number)s planned for %(user)s.", number=call["number"],
                                      user=activity.user_id.name), activity)

    def _place_calls_twilio(self, calls):
        """One request per call to the Twilio-compatible API; each failure stays on its own job."""
        template = self.call_template_id
        Provider = self.env["salesjet.call.provider"]
        settings = Provider._twilio_settings()
        from_number = template._normalise(template.from_number or "")
        if not from_number:
            raise UserError(_("Call template “%s”: set the number to call from, a number of your telephony account.",
                              template.name))
        by_job = {call["job"].id: call for call in calls}
        jobs = self.env["salesjet.flow.job"].browse(list(by_job))
        twiml = {job_id: template._twiml(call["texts"]) for job_id, call in by_job.items()}
        with Provider._twilio_session() as session:
            placed = deliver(jobs, lambda job: Provider._twilio_call(
                session, settings, by_job[job.id]["number"], from_number, twiml[job.id], template.record))
        for job, (sid, status, _http, _excerpt) in placed:
            job._set_result(_("Call to %(number)s placed: %(sid)s (%(status)s).",
                              number=by_job[job.id]["number"], sid=sid, status=status))
        jobs._write_http_answers({job.id: (http, excerpt) for job, (_sid, _status, http, excerpt) in placed})

    def _preview_call(self, partner, data):
        number = self._contact_number(partner)[1]
        lines = [self._render_preview(line.text or "", partner, data, owner=line)
                 for line in self.call_template_id._say_lines().with_context(lang=partner.lang or None)]
        provider = self.env["salesjet.call.provider"]._current()
        return preview_rows([
            (_("Call"), number or _("no valid phone number: the step would be skipped")),
            (_("Through"), provider),
            (_("Script"), Markup("<br/>").join(escape(line) for line in lines)),
        ])
