from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import html2plaintext
from odoo.tools.misc import hmac as hmac_sign

from ..tools.placeholders import inline_to_qweb
from ..tools.preview import preview_rows

ANSWER_SCOPE = "salesjet-chain-answer"

ANSWER_ROUTE = "/salesjet/chain/answer/"


def answer_payload(enrollment_id, message_id, button_id):
    return f"{enrollment_id}.{message_id}.{button_id}"


class SalesjetFlowStepChain(models.AbstractModel):
    """Message chains: a step that starts a chain, and the generated steps that send its messages."""
    _name = "salesjet.flow.step.chain"
    _description = "Flow step: message chain"

    chain_flow_id = fields.Many2one(
        "salesjet.flow", string="Message chain", domain=[("kind", "=", "chain")], ondelete="restrict",
        check_company=True,
        help="The chain the contact starts, with this run's lead and event data. "
             "A chain runs at most once per contact: a contact who had it already is left out.")
    chain_message_id = fields.Many2one(
        "salesjet.chain.message", string="Chain message", ondelete="cascade", index="btree_not_null",
        check_company=True,
        help="The message this generated step sends.")

    def _settings_fields(self):
        return super()._settings_fields() + ["chain_flow_id", "chain_message_id"]

    def _check_action_chain_start(self):
        if not self.chain_flow_id:
            raise ValidationError(_("Step “%s”: choose the message chain to start.", self.display_name))
        if self.chain_flow_id.kind != "chain":
            raise ValidationError(_("Step “%(step)s”: “%(flow)s” is not a message chain; choose a flow of kind "
                                    "“Message chain”.", step=self.display_name, flow=self.chain_flow_id.name))

    def _check_action_chain_message(self):
        if not self.chain_message_id:
            raise ValidationError(_("Step “%s”: chain message steps are made by the chain's messages; "
                                    "add a message to the chain instead.", self.display_name))

    # ------------------------------------------------------------------
    # Start a chain
    # ------------------------------------------------------------------

    def _action_chain_start(self, jobs):
        """Enrol the contacts in the chain (once per contact, the chain's policy), keeping lead and event data."""
        chain = self.chain_flow_id.sudo()
        if not chain.active:
            jobs._mark_skipped(_("The message chain %s is archived.", chain.name))
            return
        if chain.state != "running":
            jobs._mark_skipped(_("The message chain %s is not running: start it.", chain.name))
            return
        started = self.env["salesjet.flow.enrollment"]
        for _key, group in jobs.grouped(self._render_context_key).items():
            enrollment = group[:1].enrollment_id
            started |= chain._enroll(group.partner_id.ids, event=enrollment.event_id,
                                     lead=enrollment.lead_id, data=enrollment.data)
        started_partners = set(started.partner_id.ids)
        jobs.filtered(lambda j: j.partner_id.id in started_partners)._set_result(_("Started chain %s.", chain.name))
        jobs.filtered(lambda j: j.partner_id.id not in started_partners)._set_result(
            _("Not started: the contact already had chain %s.", chain.name))

    # ------------------------------------------------------------------
    # Send a chain message
    # ------------------------------------------------------------------

    @api.model
    def _chain_answer_token(self, enrollment_id, message_id, button_id):
        """Signed token of a button link: the ids it answers, and an HMAC with the database secret."""
        payload = answer_payload(enrollment_id, message_id, button_id)
        return f"{payload}.{hmac_sign(self.env(su=True), ANSWER_SCOPE, payload)[:32]}"

    def _chain_button_urls(self, jobs, message):
        """{(job id, button id): absolute answer URL} for every button of ``message``."""
        base = self.get_base_url()
        return {
            (job.id, button.id): base + ANSWER_ROUTE + self._chain_answer_token(job.enrollment_id.id, message.id,
                                                                               button.id)
            for job in jobs for button in message.button_ids
        }

    def _action_chain_message(self, jobs):
        """Send this step's chain message to each contact, with its own signed button links."""
        message = self.chain_message_id
        if not message:
            raise ValidationError(_("Step “%s” has no chain message.", self.display_name))
        if message.channel == "sms":
            self._chain_send_sms(jobs, message)
        else:
            self._chain_send_email(jobs, message)

    def _chain_render(self, jobs, message, with_subject):
        """Render the message for the batch, per language: {job id: (subject, html body)}."""
        rendered = {}
        for lang, lang_jobs in self._jobs_per_lang(jobs).items():
            localized = message.with_context(lang=lang)
            bodies = self._render_for_jobs(inline_to_qweb(localized.body), lang_jobs, engine="qweb", lang=lang,
                                           owner=message)
            subjects = (self._render_for_jobs(localized.subject or "", lang_jobs, lang=lang, owner=message)
                        if with_subject else {})
            labels = {button.id: button.with_context(lang=lang).label for button in message.button_ids}
            for job in lang_jobs:
                rendered[job.id] = (subjects.get(job.id, ""), bodies[job.id], labels)
        return rendered

    def _chain_send_email(self, jobs, message):
        jobs = self._skip_unreachable_by_email(jobs)
        if not jobs:
            return
        rendered = self._chain_render(jobs, message, with_subject=True)
        urls = self._chain_button_urls(jobs, message)
        company = self.flow_id.company_id
        email_from = company.email_formatted or self.env.user.email_formatted
        vals_list = []
        for job in jobs:
            subject, body, labels = rendered[job.id]
            buttons = Markup("").join(
                Markup('<a href="%s" style="display:inline-block;margin:4px 8px 4px 0;padding:8px 16px;'
                       'border-radius:4px;background:#875A7B;color:#fff;text-decoration:none">%s</a>')
                % (urls[job.id, button.id], labels[button.id])
                for button in message.button_ids
            )
            if buttons:
                body = Markup("%s<p>%s</p>") % (Markup(body), buttons)
            vals_list.append({
                "subject": subject,
                "body_html": body,
                "email_from": email_from,
                "auto_delete": False,
                "model": "res.partner",
                "res_id": job.partner_id.id,
                "recipient_ids": [(4, job.partner_id.id)],
                "message_type": "email",
                "is_notification": True,
            })
        mails = self.env["mail.mail"].sudo().create(vals_list)
        self._chain_store_results(jobs, "mail.mail", mails.ids,
                                  [self.env._("Email queued to %s", job.partner_id.email_normalized) for job in jobs])

    def _chain_send_sms(self, jobs, message):
        archived = jobs.filtered(lambda j: not j.partner_id.active)
        archived._mark_skipped(_("Contact archived."))
        jobs -= archived
        numbers = self._sms_numbers(jobs)
        missing = jobs.filtered(lambda j: not numbers[j.id][1])
        for job in missing:
            job._mark_skipped(_("Invalid phone number: %s", numbers[job.id][0]) if numbers[job.id][0]
                              else _("No phone number."))
        jobs -= missing
        jobs = self._skip_blacklisted_numbers(jobs, numbers)
        if not jobs:
            return
        rendered = self._chain_render(jobs, message, with_subject=False)
        urls = self._chain_button_urls(jobs, message)
        short = {}
        if urls:
            keys = list(urls)
            trackers = self.env["link.tracker"].sudo().search_or_create([{"url": urls[key]} for key in keys])
            short = {key: tracker.short_url for key, tracker in zip(keys, trackers, strict=True)}
        vals_list = []
        for job in jobs:
            _subject, body, labels = rendered[job.id]
            lines = [html2plaintext(body).strip()]
            lines += [f"{labels[button.id]}: {short[job.id, button.id]}" for button in message.button_ids]
            vals_list.append({"number": numbers[job.id][1], "body": "\n".join(lines),
                              "partner_id": job.partner_id.id, "state": "outgoing"})
        sms = self.env["sms.sms"].sudo().create(vals_list)
        # self.env._: a list comprehension's frame has no ``self`` for _() to find the language in
        self._chain_store_results(jobs, "sms.sms", sms.ids,
                                  [self.env._("SMS queued to %s", numbers[job.id][1]) for job in jobs])
        self.env.ref("sms.ir_cron_sms_scheduler_action")._trigger()

    def _chain_store_results(self, jobs, res_model, res_ids, results):
        for job, res_id, result in zip(jobs, res_ids, results, strict=True):
            job._set_result(result, self.env[res_model].browse(res_id))

    def _preview_chain_start(self, partner, data):
        return preview_rows([(_("Starts message chain"), self.chain_flow_id.name)])

    def _preview_chain_message(self, partner, data):
        message = self.chain_message_id.with_context(lang=partner.lang or None)
        if not message:
            return Markup("<p>%s</p>") % self.summary
        body = self._render_preview(inline_to_qweb(message.body), partner, data, engine="qweb", owner=message)
        pairs = [(_("Channel"), message.channel)]
        if message.channel != "sms":
            pairs.append((_("Subject"), self._render_preview(message.subject or "", partner, data, owner=message)))
        pairs += [(_("Body"), Markup(body)),
                  (_("Buttons"), ", ".join(message.button_ids.mapped("label")))]
        return preview_rows(pairs)
