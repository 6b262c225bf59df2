from ast import literal_eval

from dateutil.relativedelta import relativedelta

from odoo import Command, _, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import plaintext2html

from odoo.addons.crm.models.crm_stage import AVAILABLE_PRIORITIES

from ..tools.preview import preview_rows


class SalesjetFlowStepLead(models.AbstractModel):
    """Actions on the run's lead (``salesjet.flow.enrollment.lead_id``): assign, qualify and move it.

    Runs without a lead, or whose lead was deleted or is archived (lost), skip these steps with the reason.
    Set-based: the batch's leads are written with one ``write`` per distinct value set (one per salesperson
    for a round robin, one per stage for a won step...), whatever the number of leads; Odoo's own methods
    (``action_set_lost``, ``action_set_won``, ``_convert_opportunity_data``, ``activity_schedule``) do the
    writes, so that their side effects (probabilities, lost/won statistics, dates) hold.
    """
    _name = "salesjet.flow.step.lead"
    _description = "Flow step: lead actions"

    lead_assign_to = fields.Selection(
        [("user", "A salesperson"), ("team", "A sales team, in turn among its members")],
        string="Assign to", default="user",
        help="A sales team: the team is set on the lead and its salesperson is the member whose share of "
             "leads of the last 30 days, against their capacity, is the lowest (as Odoo's lead assignment "
             "weighs members); members who skip auto assignment, have no capacity or whose assignment "
             "domain does not match the lead are passed over.",
    )
    lead_user_id = fields.Many2one(
        "res.users", string="Salesperson", domain=[("share", "=", False)],
        help="The salesperson set on the run's lead.",
    )
    lead_team_id = fields.Many2one(
        "crm.team", string="Sales team", check_company=True,
        help="The sales team set on the run's lead; its members receive the leads in turn.",
    )
    lead_stage_id = fields.Many2one("crm.stage", string="Stage", help="The stage the run's lead moves to.")
    lead_tag_ids = fields.Many2many(
        "crm.tag", "salesjet_flow_step_crm_tag_rel", "step_id", "tag_id", string="Lead tags",
        help="Tags to add to or remove from the run's lead.",
    )
    lead_lost_reason_id = fields.Many2one(
        "crm.lost.reason", string="Lost reason", help="The reason recorded on the lead marked lost.",
    )
    lead_priority = fields.Selection(AVAILABLE_PRIORITIES, string="Lead priority", default="1")
    lead_activity_type_id = fields.Many2one("mail.activity.type", string="Lead activity")
    lead_activity_summary = fields.Char(string="Activity summary")
    lead_activity_note = fields.Text(string="Activity note")
    lead_activity_days = fields.Integer(
        string="Activity due in (days)", default=1,
        help="For the lead's salesperson; a lead without one: its sales team's leader, else the flow's "
             "responsible.",
    )

    _sql_constraints = [
        ("lead_activity_days_positive", "CHECK(lead_activity_days IS NULL OR lead_activity_days >= 0)",
         "An activity cannot be due before it is scheduled."),
    ]

    def _settings_fields(self):
        return super()._settings_fields() + [
            "lead_assign_to", "lead_user_id", "lead_team_id", "lead_stage_id", "lead_tag_ids",
            "lead_priority", "lead_activity_type_id",
        ]

    # ------------------------------------------------------------------
    # Settings
    # ------------------------------------------------------------------

    def _check_action_lead_assign(self):
        if self.lead_assign_to == "team" and not self.lead_team_id:
            raise ValidationError(_("Step “%s”: choose the sales team whose members receive the leads.",
                                    self.display_name))
        if self.lead_assign_to != "team" and not self.lead_user_id:
            raise ValidationError(_("Step “%s”: choose the salesperson to assign.", self.display_name))

    def _check_action_lead_stage(self):
        if not self.lead_stage_id:
            raise ValidationError(_("Step “%s”: choose the stage.", self.display_name))

    def _check_action_lead_tag_add(self):
        if not self.lead_tag_ids:
            raise ValidationError(_("Step “%s”: choose the lead tags.", self.display_name))

    _check_action_lead_tag_remove = _check_action_lead_tag_add

    def _check_action_lead_priority(self):
        if not self.lead_priority:
            raise ValidationError(_("Step “%s”: choose the priority.", self.display_name))

    def _check_action_lead_activity(self):
        if not self.lead_activity_type_id:
            raise ValidationError(_("Step “%s”: choose the activity type.", self.display_name))

    def _display_details_lead_assign(self):
        return (self.lead_team_id.display_name if self.lead_assign_to == "team"
                else self.lead_user_id.display_name) or ""

    def _display_details_lead_stage(self):
        return self.lead_stage_id.name or ""

    def _display_details_lead_tag_add(self):
        return ", ".join(self.lead_tag_ids.mapped("name"))

    _display_details_lead_tag_remove = _display_details_lead_tag_add

    def _display_details_lead_lost(self):
        return self.lead_lost_reason_id.name or ""

    def _display_details_lead_priority(self):
        return dict(self._fields["lead_priority"]._description_selection(self.env)).get(self.lead_priority, "")

    def _display_details_lead_activity(self):
        return self.lead_activity_summary or self.lead_activity_type_id.name or ""

    # ------------------------------------------------------------------
    # Execution
    # ------------------------------------------------------------------

    def _lead_jobs(self, jobs):
        """Skip the jobs whose run has no lead (none, or deleted) or an archived one; return the others and
        their leads: superuser, as the engine acts on contacts; stage look-ups cached for the batch (see
        ``crm.lead._stage_find``); and, as Odoo's automatic lead assignment does
        (``crm.team._assign_and_convert_leads``), without an "assigned to you" email per lead: the salesperson
        still follows the lead."""
        without = jobs.filtered(lambda j: not j.enrollment_id.lead_id)
        without._mark_skipped(_("The run has no lead."))
        archived = (jobs - without).filtered(lambda j: not j.enrollment_id.lead_id.active)
        archived._mark_skipped(_("The run's lead is archived or lost: step skipped."))
        jobs -= without | archived
        leads = jobs.enrollment_id.lead_id.sudo().with_context(salesjet_stage_find_cache={},
                                                               mail_auto_subscribe_no_notify=True)
        return jobs, leads

    def _lead_results(self, jobs, message_by_lead):
        """Set each job's result from ``{lead: message}``, one outcome call per distinct message."""
        by_message = {}
        for job in jobs:
            by_message.setdefault(message_by_lead[job.enrollment_id.lead_id.id], []).append(job.id)
        for message, job_ids in by_message.items():
            jobs.browse(job_ids)._set_result(message)

    def _action_lead_assign(self, jobs):
        """Assign the leads to the salesperson, or to the team and in turn to its members (one write each)."""
        jobs, leads = self._lead_jobs(jobs)
        if not leads:
            return
        if self.lead_assign_to != "team":
            seller = self.lead_user_id
            # the team Odoo's ``_compute_team_id`` would give each lead, found once per (team, type) and written
            # with the salesperson: computed lead by lead, it was a query per lead
            groups = {}
            for lead in leads:
                groups.setdefault((lead.team_id, lead.type), []).append(lead.id)
            for (team, lead_type), lead_ids in groups.items():
                if not (team and seller in team.member_ids | team.user_id):
                    domain = [("use_leads", "=", True)] if lead_type == "lead" else [("use_opportunities", "=", True)]
                    team = self.env["crm.team"]._get_default_team_id(user_id=seller.id, domain=domain)
                leads.browse(lead_ids).write({"user_id": seller.id, "team_id": team.id})
            jobs._set_result(_("Lead assigned to %s.", seller.name))
            return
        team = self.lead_team_id.sudo()
        sellers = self._round_robin(team, leads)
        by_seller = {}
        for lead in leads:
            by_seller.setdefault(sellers.get(lead.id), []).append(lead.id)
        messages = {}
        for seller, lead_ids in by_seller.items():
            group = leads.browse(lead_ids)
            group.write({"team_id": team.id, "user_id": seller.id} if seller else {"team_id": team.id})
            message = (_("Lead assigned to %(user)s of %(team)s.", user=seller.name, team=team.name) if seller else
                       _("Lead assigned to %s: no member of the team can take it (capacity, opt-out or "
                         "assignment domain).", team.name))
            messages.update(dict.fromkeys(lead_ids, message))
        self._lead_results(jobs, messages)

    def _round_robin(self, team, leads):
        """{lead id: res.users} for ``leads`` among ``team``'s members, in turn weighted by capacity.

        As Odoo's ``crm.team._assign_and_convert_leads``: members who skip auto assignment or have no capacity
        (``assignment_max``) are passed over, and a member receives only leads matching their
        ``assignment_domain``. The turn is remembered by the leads themselves: each lead goes to the member
        whose count of leads of the last 30 days (Odoo's ``lead_month_count``, counting this batch's) against
        their capacity is the lowest, the earlier member first on a tie. Members of equal capacity thus take
        turns, and one of twice the capacity receives twice as many leads. Two queries for the whole batch.
        """
        members = team.crm_team_member_ids.filtered(
            lambda m: not m.assignment_optout and m.assignment_max > 0 and m.user_id.active)
        if not members:
            return {}
        members.invalidate_recordset(["lead_month_count"])  # not stored: a cache of an earlier batch is stale
        loads = {member: member.lead_month_count for member in members}
        matching = {member: set(leads.filtered_domain(literal_eval(member.assignment_domain or "[]")).ids)
                    for member in members}
        order = {member: index for index, member in enumerate(members)}
        result = {}
        for lead in leads:
            candidates = [member for member in members if lead.id in matching[member]]
            if not candidates:
                continue
            member = min(candidates, key=lambda m: (loads[m] / m.assignment_max, order[m]))
            loads[member] += 1
            result[lead.id] = member.user_id
        return result

    def _action_lead_stage(self, jobs):
        jobs, leads = self._lead_jobs(jobs)
        leads.filtered(lambda lead: lead.stage_id != self.lead_stage_id).write({"stage_id": self.lead_stage_id.id})
        jobs._set_result(_("Lead moved to stage %s.", self.lead_stage_id.name))

    def _action_lead_tag_add(self, jobs):
        jobs, leads = self._lead_jobs(jobs)
        leads.write({"tag_ids": [Command.link(tag.id) for tag in self.lead_tag_ids]})
        jobs._set_result(_("Lead tags added: %s", ", ".join(self.lead_tag_ids.mapped("name"))))

    def _action_lead_tag_remove(self, jobs):
        jobs, leads = self._lead_jobs(jobs)
        leads.write({"tag_ids": [Command.unlink(tag.id) for tag in self.lead_tag_ids]})
        jobs._set_result(_("Lead tags removed: %s", ", ".join(self.lead_tag_ids.mapped("name"))))

    def _action_lead_lost(self, jobs):
        """Odoo's ``action_set_lost``: the leads are archived (probability 0) with the reason."""
        jobs, leads = self._lead_jobs(jobs)
        if not leads:
            return
        reason = self.lead_lost_reason_id
        leads.action_set_lost(**({"lost_reason_id": reason.id} if reason else {}))
        jobs._set_result(_("Lead marked lost: %s.", reason.name) if reason else _("Lead marked lost."))

    def _action_lead_won(self, jobs):
        """Odoo's ``action_set_won``: each lead moves to the won stage of its pipeline (one write per stage)."""
        jobs, leads = self._lead_jobs(jobs)
        if not leads:
            return
        leads.action_set_won()
        self._lead_results(jobs, {lead.id: _("Lead marked won (stage %s).", lead.stage_id.name) for lead in leads})

    def _action_lead_priority(self, jobs):
        jobs, leads = self._lead_jobs(jobs)
        leads.filtered(lambda lead: lead.priority != self.lead_priority).write({"priority": self.lead_priority})
        jobs._set_result(_("Lead priority set to %s.", self._display_details_lead_priority()))

    def _lead_activity_user(self, lead):
        """Who does a lead's activity: its salesperson, else its team's leader, else the flow's responsible."""
        return lead.user_id or lead.team_id.user_id or self.flow_id.user_id

    def _action_lead_activity(self, jobs):
        """Schedule the activity on each lead for its salesperson: one ``activity_schedule`` per person.

        Odoo creates the activities of a call in one batch and subscribes each person to their leads once. It
        does not email each person for each activity (``mail_activity_quick_update``, as when planning from
        the chatter): a batch would send a salesperson one email per lead; the activities show in their
        activity menu.
        """
        jobs, leads = self._lead_jobs(jobs)
        if not leads:
            return
        by_person = {}
        for lead in leads:
            by_person.setdefault(self._lead_activity_user(lead), []).append(lead.id)
        deadline = fields.Date.context_today(self) + relativedelta(days=self.lead_activity_days)
        messages = {}
        for person, lead_ids in by_person.items():
            values = {"user_id": person.id} if person else {}
            leads.browse(lead_ids).with_context(mail_activity_quick_update=True).activity_schedule(
                activity_type_id=self.lead_activity_type_id.id, date_deadline=deadline,
                summary=self.lead_activity_summary or "",
                note=plaintext2html(self.lead_activity_note) if self.lead_activity_note else "", **values)
            messages.update(dict.fromkeys(lead_ids, _(
                "Activity %(type)s scheduled for %(user)s.", type=self.lead_activity_type_id.name,
                user=(person or self.env.user).name)))
        self._lead_results(jobs, messages)

    def _action_lead_convert(self, jobs):
        """Convert leads to opportunities as Odoo's ``convert_opportunity`` does (keeping their contact,
        salesperson and team): its values per lead, written once per distinct value set."""
        jobs, leads = self._lead_jobs(jobs)
        if not leads:
            return
        converted = leads.filtered(lambda lead: lead.type == "lead" and lead.probability != 100)
        groups = {}
        for lead in converted:
            values = lead._convert_opportunity_data(lead.partner_id)
            groups.setdefault(tuple(sorted(values.items())), []).append(lead.id)
        for values, lead_ids in groups.items():
            leads.browse(lead_ids).write(dict(values))
        self._lead_results(jobs, {lead.id: _("Converted to an opportunity.") if lead in converted else
                                  _("Already an opportunity (or won): nothing to convert.") for lead in leads})

    # ------------------------------------------------------------------
    # Test runs
    # ------------------------------------------------------------------

    def _preview_lead(self, label, value):
        return preview_rows([(label, value), (_("On"), _("the run's lead (runs without one skip this step)"))])

    def _preview_lead_assign(self, partner, data):
        if self.lead_assign_to == "team":
            return self._preview_lead(_("Assign to the team"), _("%s, in turn among its members",
                                                                 self.lead_team_id.name))
        return self._preview_lead(_("Assign to"), self.lead_user_id.name)

    def _preview_lead_stage(self, partner, data):
        return self._preview_lead(_("Move to stage"), self.lead_stage_id.name)

    def _preview_lead_tag_add(self, partner, data):
        return self._preview_lead(_("Lead tags added"), self._display_details_lead_tag_add())

    def _preview_lead_tag_remove(self, partner, data):
        return self._preview_lead(_("Lead tags removed"), self._display_details_lead_tag_add())

    def _preview_lead_lost(self, partner, data):
        return self._preview_lead(_("Mark lost"), self.lead_lost_reason_id.name or _("no reason"))

    def _preview_lead_won(self, partner, data):
        return self._preview_lead(_("Mark won"), _("the won stage of its pipeline"))

    def _preview_lead_priority(self, partner, data):
        return self._preview_lead(_("Set the priority"), self._display_details_lead_priority())

    def _preview_lead_activity(self, partner, data):
        return self._preview_lead(_("Schedule"), _(
            "%(type)s “%(summary)s”, due in %(days)s days, for the lead's salesperson",
            type=self.lead_activity_type_id.name, summary=self.lead_activity_summary or "",
            days=self.lead_activity_days))

    def _preview_lead_convert(self, partner, data):
        return self._preview_lead(_("Convert"), _("a lead to an opportunity"))
