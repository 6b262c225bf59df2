from dateutil.relativedelta import relativedelta

from odoo import _, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL, email_normalize, plaintext2html

from ..tools.planner import state_in
from ..tools.preview import preview_rows


class SalesjetFlowStepContact(models.AbstractModel):
    """Actions on the contact record itself: notes, employee messages, lists, follow-up flows."""
    _name = "salesjet.flow.step.contact"
    _description = "Flow step: contact actions"

    # note / message an employee
    note_body = fields.Text(
        string="Text", translate=True,
        help="Placeholders allowed: {{ object.name }}, {{ lead.name ||| no lead }}, {{ event.get('key') }}.",
    )
    notify_user_id = fields.Many2one("res.users", string="Employee", domain=[("share", "=", False)])
    notify_mode = fields.Selection(
        [("message", "A notification in Odoo"), ("activity", "An activity to do")],
        string="As", default="message",
    )
    notify_activity_type_id = fields.Many2one("mail.activity.type", string="Activity type")
    notify_deadline_days = fields.Integer(string="Due in (days)", default=1)
    # mailing lists
    mailing_list_id = fields.Many2one("mailing.list", string="Mailing list")
    # follow-up flows
    target_flow_id = fields.Many2one(
        "salesjet.flow", string="Follow-up flow", domain="[('id', '!=', flow_id)]",
        check_company=True,
        help="Start: the contact enters this flow, with the run's lead and event data.\n"
             "Stop: the contact's running runs in this flow stop and their waiting steps are cancelled.",
    )

    def _settings_fields(self):
        return super()._settings_fields() + [
            "note_body", "notify_user_id", "notify_mode", "notify_activity_type_id", "mailing_list_id",
            "target_flow_id",
        ]

    def _check_action_note(self):
        if not (self.note_body or "").strip():
            raise ValidationError(_("Step “%s”: write the note's text.", self.display_name))
        self._check_renders(self.note_body, _("note"))

    def _check_action_notify_user(self):
        if not self.notify_user_id:
            raise ValidationError(_("Step “%s”: choose the employee to message.", self.display_name))
        if not (self.note_body or "").strip():
            raise ValidationError(_("Step “%s”: write the message for the employee.", self.display_name))
        self._check_renders(self.note_body, _("message"))

    def _check_action_list_add(self):
        if not self.mailing_list_id:
            raise ValidationError(_("Step “%s”: choose the mailing list.", self.display_name))

    _check_action_list_remove = _check_action_list_add

    def _check_action_flow_start(self):
        if not self.target_flow_id:
            raise ValidationError(_("Step “%s”: choose the follow-up flow.", self.display_name))
        if self.target_flow_id == self.flow_id:
            raise ValidationError(_("Step “%s”: a flow cannot start or stop itself; choose another flow.",
                                    self.display_name))

    _check_action_flow_stop = _check_action_flow_start

    # ------------------------------------------------------------------
    # Notes and employee messages
    # ------------------------------------------------------------------

    def _action_note(self, jobs):
        """Log the rendered note on each contact's chatter, and on the run's lead when it has one."""
        texts = self._render_for_jobs(self.note_body, jobs)
        bodies = {job.partner_id.id: plaintext2html(texts[job.id]) for job in jobs}
        messages = jobs.partner_id._message_log_batch(bodies=bodies)
        with_lead = jobs.filtered(lambda j: j.enrollment_id.lead_id)
        if with_lead:
            with_lead.enrollment_id.lead_id._message_log_batch(
                bodies={job.enrollment_id.lead_id.id: plaintext2html(texts[job.id]) for job in with_lead})
        by_partner = {message.res_id: message for message in messages}
        for job in jobs:
            job._set_result(_("Note logged."), by_partner.get(job.partner_id.id))

    def _action_notify_user(self, jobs):
        """Tell the chosen employee about each contact: an inbox notification or an activity."""
        texts = self._render_for_jobs(self.note_body, jobs)
        user = self.notify_user_id
        if self.notify_mode == "activity":
            activity_type = self.notify_activity_type_id or self.env.ref("mail.mail_activity_data_todo")
            deadline = fields.Date.context_today(self) + relativedelta(days=self.notify_deadline_days)
            activities = self.env["mail.activity"].sudo().create([{
                "res_model_id": self.env["ir.model"]._get_id("res.partner"),
                "res_id": job.partner_id.id,
                "activity_type_id": activity_type.id,
                "summary": self.name or _("Flow %s", self.flow_id.name),
                "note": plaintext2html(texts[job.id]),
                "user_id": user.id,
                "date_deadline": deadline,
            } for job in jobs])
            for job, activity in zip(jobs, activities, strict=True):
                job._set_result(_("Activity planned for %s.", user.name), activity)
            return
        # one message per contact, notifying the employee's inbox: there is no batch API
        # for notified messages, and these steps concern few contacts at a time
        for job in jobs:
            message = job.partner_id.sudo().message_post(
                body=plaintext2html(texts[job.id]), partner_ids=user.partner_id.ids,
                message_type="comment", subtype_xmlid="mail.mt_note",
            )
            job._set_result(_("%s notified.", user.name), message)

    # ------------------------------------------------------------------
    # Mailing lists
    # ------------------------------------------------------------------

    def _list_contacts(self, jobs, create):
        """{job id: mailing.contact} found by normalised email, created in one batch if asked."""
        emails = {job.id: email_normalize(job.partner_id.email or "") for job in jobs}
        wanted = {email for email in emails.values() if email}
        Contact = self.env["mailing.contact"].sudo()
        existing = {}
        if wanted:
            for contact in Contact.search([("email_normalized", "in", list(wanted))], order="id"):
                existing.setdefault(contact.email_normalized, contact)
        if create:
            missing = {}
            for job in jobs:
                email = emails[job.id]
                if email and email not in existing and email not in missing:
                    missing[email] = job.partner_id
            created = Contact.create([{"name": partner.name, "email": partner.email,
                                       "company_name": partner.commercial_company_name or False}
                                      for partner in missing.values()])
            existing.update(zip(missing, created, strict=True))
        return {job.id: existing.get(emails[job.id]) for job in jobs}

    def _action_list_add(self, jobs):
        """Subscribe the contacts; never re-subscribe someone who opted out of this list."""
        no_email = jobs.filtered(lambda j: not email_normalize(j.partner_id.email or ""))
        no_email._mark_skipped(_("No valid email address to subscribe."))
        jobs -= no_email
        if not jobs:
            return
        contacts = self._list_contacts(jobs, create=True)
        mailing_list = self.mailing_list_id
        subscriptions = self.env["mailing.subscription"].sudo().search([
            ("list_id", "=", mailing_list.id),
            ("contact_id", "in", list({contact.id for contact in contacts.values()})),
        ])
        by_contact = {sub.contact_id.id: sub for sub in subscriptions}
        opted_out = jobs.filtered(lambda j: by_contact.get(contacts[j.id].id) and by_contact[contacts[j.id].id].opt_out)
        opted_out._mark_skipped(_("The contact opted out of %s.", mailing_list.name))
        already = jobs.filtered(lambda j: j not in opted_out and contacts[j.id].id in by_contact)
        already._set_result(_("Already subscribed to %s.", mailing_list.name))
        new = jobs - opted_out - already
        new_contact_ids = list(dict.fromkeys(contacts[job.id].id for job in new))
        self.env["mailing.subscription"].sudo().create([
            {"list_id": mailing_list.id, "contact_id": contact_id} for contact_id in new_contact_ids])
        new._set_result(_("Subscribed to %s.", mailing_list.name))

    def _action_list_remove(self, jobs):
        """Opt the contacts out of the list, as an unsubscribe link does."""
        contacts = self._list_contacts(jobs, create=False)
        subscriptions = self.env["mailing.subscription"].sudo().search([
            ("list_id", "=", self.mailing_list_id.id),
            ("contact_id", "in", [contact.id for contact in contacts.values() if contact]),
            ("opt_out", "=", False),
        ])
        subscriptions.write({"opt_out": True, "opt_out_datetime": fields.Datetime.now()})
        subscribed = {sub.contact_id.id for sub in subscriptions}
        jobs.filtered(lambda j: contacts[j.id] and contacts[j.id].id in subscribed)._set_result(
            _("Unsubscribed from %s.", self.mailing_list_id.name))
        jobs.filtered(lambda j: not contacts[j.id] or contacts[j.id].id not in subscribed)._set_result(
            _("Was not subscribed to %s.", self.mailing_list_id.name))

    # ------------------------------------------------------------------
    # Follow-up flows
    # ------------------------------------------------------------------

    def _action_flow_start(self, jobs):
        """Enrol the contacts in the follow-up flow, carrying each run's lead and event data."""
        target = self.target_flow_id.sudo()
        if not target.active:
            jobs._mark_skipped(_("The follow-up flow %s is archived.", target.name))
            return
        if target.state != "running":
            jobs._mark_skipped(_("The follow-up flow %s is not running: start it.", target.name))
            return
        started = self.env["salesjet.flow.enrollment"]
        for (_lead_id, _data), group in jobs.grouped(self._render_context_key).items():
            enrollment = group[:1].enrollment_id
            started |= target._enroll(group.partner_id.ids, event=enrollment.event_id,
                                      lead=enrollment.lead_id, data=enrollment.data)
        started_partners = set(started.partner_id.ids)
        jobs.filtered(lambda j: j.partner_id.id in started_partners)._set_result(
            _("Started %s.", target.name))
        jobs.filtered(lambda j: j.partner_id.id not in started_partners)._set_result(
            _("Not started in %s: its re-entry policy refused the contact.", target.name))

    def _action_flow_stop(self, jobs):
        """Stop the contacts' running runs in the chosen flow and cancel their waiting jobs."""
        target = self.target_flow_id
        self.env.flush_all()
        self.env.cr.execute(SQL(
            """
            SELECT id FROM salesjet_flow_enrollment
             WHERE flow_id = %s AND partner_id = ANY(%s) AND %s
            """,
            target.id, jobs.partner_id.ids, state_in(SQL("state"), "running"),
        ))
        enrollments = self.env["salesjet.flow.enrollment"].browse([row[0] for row in self.env.cr.fetchall()])
        # A waiting job another worker is running right now stays locked; its run is
        # stopped all the same, and the scheduler cancels jobs of stopped runs.
        self.env.cr.execute(SQL(
            """
            UPDATE salesjet_flow_job SET state = 'cancelled', date_done = %(now)s, result = %(why)s
             WHERE id IN (SELECT id FROM salesjet_flow_job
                           WHERE enrollment_id = ANY(%(ids)s) AND %(pending)s
                             FOR UPDATE SKIP LOCKED)
            """,
            now=fields.Datetime.now(), why=_("Run stopped by flow %s.", self.flow_id.name), ids=enrollments.ids,
            pending=state_in(SQL("state"), "pending"),
        ))
        self.env["salesjet.flow.job"].invalidate_model(["state", "date_done", "result"])
        enrollments._finish("stopped")
        stopped = set(enrollments.partner_id.ids)
        jobs.filtered(lambda j: j.partner_id.id in stopped)._set_result(_("Stopped %s.", target.name))
        jobs.filtered(lambda j: j.partner_id.id not in stopped)._set_result(
            _("Nothing to stop: not running in %s.", target.name))

    def _preview_note(self, partner, data):
        note = plaintext2html(self._render_preview(self.note_body, partner, data))
        return preview_rows([(_("Note on the contact"), note)])

    def _preview_notify_user(self, partner, data):
        how = _("an activity") if self.notify_mode == "activity" else _("a notification")
        return preview_rows([
            (_("Tell"), f"{self.notify_user_id.name} ({how})"),
            (_("Text"), plaintext2html(self._render_preview(self.note_body, partner, data))),
        ])

    def _preview_list_add(self, partner, data):
        return preview_rows([(_("Added to mailing list"), self.mailing_list_id.name)])

    def _preview_list_remove(self, partner, data):
        return preview_rows([(_("Removed from mailing list"), self.mailing_list_id.name)])

    def _preview_flow_start(self, partner, data):
        return preview_rows([(_("Starts flow"), self.target_flow_id.name)])

    def _preview_flow_stop(self, partner, data):
        return preview_rows([(_("Stops flow"), self.target_flow_id.name)])
