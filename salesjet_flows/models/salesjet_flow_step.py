"""Step timing beyond delays: relative to a date of the contact or of the event,
and send windows (allowed hours and week days in the contact's time zone).

Everything here is set-based: a batch of contacts costs one query for their
time zones (and one for their dates), and each distinct (time zone, moment)
is computed once.
"""
import logging

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL

from ..tools.arrays import array_literal
from ..tools.caps import CAP_CHANNELS
from ..tools.planner import state_in
from ..tools.preview import preview_rows
from ..tools.timing import (
    UNITS,
    WEEKDAY_FIELDS,
)
from .salesjet_flow_version import ENGINE_FIELDS

_logger = logging.getLogger(__name__)

# Step (action) types. Adding a type means one selection entry here (or a
# ``selection_add`` in another module), one ``_action_<type>(jobs)`` executor
# and, when it has settings, one ``_check_action_<type>()`` validator (its fields
# added to ``_settings_fields``) plus its fields in the step form.
ACTION_TYPES = [
    ("add_tag", "Add tag"),
    ("remove_tag", "Remove tag"),
    ("email", "Send email"),
    ("sms", "Send SMS"),
    ("note", "Create a note"),
    ("notify_user", "Message an employee"),
    ("list_add", "Add to mailing list"),
    ("list_remove", "Remove from mailing list"),
    ("flow_start", "Start follow-up"),
    ("flow_stop", "Stop follow-up"),
    ("call", "Phone call"),
    ("webhook", "Call a webhook"),
    ("segment_add", "Add to segment"),
    ("segment_remove", "Remove from segment"),
    ("chain_start", "Start a message chain"),
    ("chain_message", "Chain message"),
    ("product_grant", "Add product"),
    ("product_revoke", "Remove product access"),
    ("offer_create", "Create special offer"),
    ("offer_remove", "Remove special offer"),
    ("split", "A/B split"),
    ("server_action", "Run a server action"),
    ("lead_assign", "Assign the lead"),
    ("lead_stage", "Set the lead's stage"),
    ("lead_tag_add", "Add lead tags"),
    ("lead_tag_remove", "Remove lead tags"),
    ("lead_lost", "Mark the lead lost"),
    ("lead_won", "Mark the lead won"),
    ("lead_priority", "Set the lead's priority"),
    ("lead_activity", "Schedule an activity on the lead"),
    ("lead_convert", "Convert the lead to an opportunity"),
]




# Font Awesome icon of each action type in the diagram; other types get a cog.
ACTION_ICONS = {
    "add_tag": "fa-tag", "remove_tag": "fa-tag", "email": "fa-envelope", "sms": "fa-mobile",
    "note": "fa-sticky-note", "notify_user": "fa-user", "list_add": "fa-list", "list_remove": "fa-list",
    "flow_start": "fa-play-circle", "flow_stop": "fa-stop-circle", "call": "fa-phone", "webhook": "fa-plug",
    "segment_add": "fa-users", "segment_remove": "fa-users", "chain_start": "fa-comments",
    "chain_message": "fa-comment", "product_grant": "fa-unlock", "product_revoke": "fa-lock",
    "offer_create": "fa-gift", "offer_remove": "fa-gift", "split": "fa-code-fork",
    "server_action": "fa-cogs",
    "lead_assign": "fa-user-plus", "lead_stage": "fa-flag", "lead_tag_add": "fa-tags", "lead_tag_remove": "fa-tags",
    "lead_lost": "fa-thumbs-down", "lead_won": "fa-trophy", "lead_priority": "fa-star",
    "lead_activity": "fa-clock-o", "lead_convert": "fa-exchange",
}

SKIP_REASONS_SHOWN = 5


class SalesjetFlowStep(models.Model):
    _name = "salesjet.flow.step"
    _inherit = [
        "salesjet.translation.check.mixin",  # email/SMS/note/webhook/call texts hold placeholders
        "salesjet.flow.step.render",
        "salesjet.flow.step.email",
        "salesjet.flow.step.sms",
        "salesjet.flow.step.contact",
        "salesjet.flow.step.call",
        "salesjet.flow.step.webhook",
        "salesjet.flow.step.segment",
        "salesjet.flow.step.chain",
        "salesjet.flow.step.product",
        "salesjet.flow.step.placeholder",
        "salesjet.flow.step.preview",
        "salesjet.flow.step.split",
        "salesjet.flow.step.timing",
        "salesjet.flow.step.server_action",
        "salesjet.flow.step.lead",
        "salesjet.flow.step.canvas",
        "salesjet.flow.step.action",  # last: the base of the hooks that the type families above extend
    ]
    _check_company_auto = True
    _description = "Flow Step"
    _order = "flow_id, sequence, id"

    flow_id = fields.Many2one("salesjet.flow", string="Flow", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="flow_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    name = fields.Char(
        string="Title", translate=True,
        help="A short title shown in the flow; left empty, it is made from the action.",
    )
    active = fields.Boolean(default=True, help="An archived step is passed over by new and running contacts.")
    action_type = fields.Selection(ACTION_TYPES, string="Action", required=True, default="add_tag")

    # Settings of the tag actions
    tag_ids = fields.Many2many("res.partner.category", string="Tags", help="Tags to add to or remove from the contact.")

    # Conditions
    condition_ids = fields.One2many("salesjet.flow.condition", "step_id", string="Conditions", copy=True)
    on_condition_fail = fields.Selection(
        [("skip", "Skip this step and go on"), ("stop", "Stop the run"), ("wait", "Wait until they hold")],
        string="If conditions fail", required=True, default="skip",
        help="Wait until they hold: the contact waits at this step and is checked again when a current date or "
             "time condition can start to hold, and at least daily; after the waiting limit the step is skipped.",
    )
    wait_max_days = fields.Integer(
        string="Wait at most (days)", default=7,
        help="How long a contact may wait for the conditions, counted from the moment the step first came due "
             "for it; then the step is skipped.",
    )

    # Repeat
    repeat = fields.Boolean(
        help="Run this step again while its conditions still hold, e.g. resend until the email is opened.",
    )
    repeat_interval = fields.Integer(string="Every", default=1)
    repeat_unit = fields.Selection(UNITS, string="Repeat unit", default="days")
    repeat_max = fields.Integer(string="At most", default=3, help="How many times the step may run again.")

    summary = fields.Char(compute="_compute_summary", help="What this step does and when.")
    job_ids = fields.One2many("salesjet.flow.job", "step_id", string="Jobs")
    pending_job_count = fields.Integer(string="Waiting", compute="_compute_job_counts")
    done_job_count = fields.Integer(string="Done", compute="_compute_job_counts")
    skipped_job_count = fields.Integer(string="Skipped", compute="_compute_job_counts")
    failed_job_count = fields.Integer(string="Failed", compute="_compute_job_counts")

    _sql_constraints = [
        ("delay_positive", "CHECK(delay_value >= 0)", "A delay cannot be negative."),
        ("repeat_positive", "CHECK(repeat_interval >= 0 AND repeat_max >= 0)",
         "Repeat interval and count cannot be negative."),
        ("wait_positive", "CHECK(wait_max_days >= 0)", "A waiting limit cannot be negative."),
        ("relative_value_positive", "CHECK(relative_value IS NULL OR relative_value >= 0)",
         "An offset cannot be negative: choose “before” instead."),
    ]

    @api.depends("name", "action_type", "tag_ids", "timing", "delay_value", "delay_unit", "delay_from", "run_at",
                 "condition_ids", "repeat", "repeat_interval", "repeat_unit", "repeat_max",
                 "relative_source", "relative_field_id", "relative_key", "relative_value", "relative_unit",
                 "relative_direction", "relative_yearly", "window_active", "window_hour_from", "window_hour_to",
                 *WEEKDAY_FIELDS)
    def _compute_summary(self):
        actions = dict(self._fields["action_type"]._description_selection(self.env))
        units = dict(self._fields["delay_unit"]._description_selection(self.env))
        for step in self:
            what = step.name or actions.get(step.action_type, "")
            if step.action_type in step._tag_action_types() and step.tag_ids and not step.name:
                what += " " + ", ".join(step.tag_ids.mapped("name"))
            text = f"{what}, {step._describe_timing()}"
            if step.condition_ids:
                text += _(", if %s", step.condition_ids._describe())
            if step.repeat:
                text += _(", again every %(value)s %(unit)s up to %(max)s times", value=step.repeat_interval,
                          unit=units.get(step.repeat_unit, "").lower(), max=step.repeat_max)
            step.summary = text

    @api.depends("name", "action_type", "tag_ids", "access_product_ids", "offer_product_ids")
    def _compute_display_name(self):
        actions = dict(self._fields["action_type"]._description_selection(self.env))
        tag_types = self._tag_action_types()
        for step in self:
            label = step.name or actions.get(step.action_type, "")
            if not step.name:
                # an untitled step names what it acts on: its tags, or ``_display_details_<action type>``
                details = getattr(step, f"_display_details_{step.action_type}", None)
                detail = ", ".join(step.tag_ids.mapped("name")) if step.action_type in tag_types else (
                    details() if details else "")
                label = " ".join(filter(None, [label, detail]))
            step.display_name = label

    def _compute_job_counts(self):
        # kept set-wise by the job table's triggers (salesjet.flow.step.stat), not counted from the jobs
        data = self.env["salesjet.flow.step.stat"]._totals(step_ids=self.ids)
        for step in self:
            counts = data.get(step.id, {})
            step.pending_job_count = counts.get("pending", 0)
            step.done_job_count = counts.get("done", 0)
            step.skipped_job_count = counts.get("skipped", 0)
            step.failed_job_count = counts.get("failed", 0)

    # ------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------

    @api.constrains(lambda self: self._settings_fields())
    def _check_settings(self):
        for step in self:
            if step.timing == "date" and not step.run_at:
                raise ValidationError(_("Step “%s” runs at a date: set that date and time.", step.display_name))
            if step.repeat and step.repeat_interval < 1:
                raise ValidationError(_("Step “%s” repeats: set how often, at least every 1 unit.", step.display_name))
            checker = getattr(step, f"_check_action_{step.action_type}", None)
            if checker:
                checker()

    def _check_action_add_tag(self):
        if not self.tag_ids:
            raise ValidationError(_("Step “%s”: choose the tags to add.", self.display_name))

    def _check_action_remove_tag(self):
        if not self.tag_ids:
            raise ValidationError(_("Step “%s”: choose the tags to remove.", self.display_name))

    # ------------------------------------------------------------------
    # Engine
    # ------------------------------------------------------------------

    def _next_step(self, branch=None):
        """The step that follows this one for a run, or an empty recordset.

        Steps of a split's branch (``branch_id``) form a chain of their own: after
        a split step a run goes on with the first step of its ``branch``; after a
        branch's last step, with the main-chain step that follows the split.
        Without splits this is the next active step by sequence, as before.
        """
        self.ensure_one()
        if branch:
            first = self.flow_id.step_ids.filtered(lambda s: s.active and s.branch_id == branch)[:1]
            return first or self._next_step()
        steps = self.flow_id.step_ids.filtered(lambda s: s.active and s.branch_id == self.branch_id)
        following = steps.filtered(lambda s: (s.sequence, s.id) > (self.sequence, self.id))
        if not following and self.branch_id:
            return self.branch_id.split_step_id._next_step()
        return following[:1]

    def _batch_apply_conditions(self, jobs, batch):
        """Batch stage 5 (see ``salesjet.flow.job._execute``): this step's conditions filter ``jobs`` (all of
        this step, their runs running) in one query; the jobs that fail them are skipped, stop their run or wait.

        :return: the jobs that go on to the step's action
        """
        self.ensure_one()
        # a relative step whose date is missing when it comes due is skipped (repeats keep their own dates)
        if self.timing == "relative" and jobs:
            first = jobs.filtered(lambda j: not j.repeat_index)
            values = self._relative_dates([job.partner_id.id for job in first],
                                          [job.enrollment_id.id for job in first]) if first else []
            missing = first.browse([job.id for job, value in zip(first, values, strict=True) if value is None])
            if missing:
                if self.relative_source == "event":
                    reason = _("No date under “%s” in the event data: step skipped.", self.relative_key)
                else:
                    reason = _("The contact has no %s: step skipped.", self.relative_field_id.field_description
                               or _("date"))
                missing._mark_skipped(reason)
                jobs -= missing
        if not jobs:
            return jobs
        partners = jobs.partner_id
        if self.condition_ids:
            # conditions on the run's data read the runs of this batch
            conditions = self.condition_ids.with_context(salesjet_enrollment_ids=jobs.enrollment_id.ids)
            passing_ids = set(conditions._filter(partners).ids)
            failing = jobs.filtered(lambda j: j.partner_id.id not in passing_ids)
            if failing:
                repeats = failing.filtered("repeat_index")
                repeats._mark_skipped(_("Repeat ended: the conditions no longer hold."))
                first_runs = failing - repeats
                if self.on_condition_fail == "stop":
                    first_runs._mark_skipped(_("Conditions not met: run stopped."), stop=True)
                elif self.on_condition_fail == "wait":
                    self._wait_for_conditions(first_runs)
                else:
                    first_runs._mark_skipped(_("Conditions not met."))
            jobs -= failing
        return jobs

    def _batch_execute(self, jobs, batch):
        """Batch stage 7: run this step's action for ``jobs``.

        The action runs once for the whole batch inside a savepoint; if it raises, each job is run alone in
        its own savepoint so one bad contact fails only its own job.
        """
        if not jobs:
            return
        executor = getattr(self, f"_action_{self.action_type}")
        try:
            with self.env.cr.savepoint():
                executor(jobs)
        except Exception:  # noqa: BLE001 - isolate the failing job below
            if len(jobs) == 1:
                jobs._mark_error()
                return
            _logger.info("Step %s failed for a batch of %s jobs; running them one by one.", self.id, len(jobs))
            jobs._forget_outcomes()
            for job in jobs:
                try:
                    with self.env.cr.savepoint():
                        executor(job)
                except Exception:  # noqa: BLE001
                    job._mark_error()

    def _wait_for_conditions(self, jobs):
        """Keep ``jobs`` (whose conditions fail) waiting at this step, or skip those that waited long enough.

        Each job is checked again at the first moment one of the step's conditions can change for its contact
        (a current date or current time window opening or closing), at the latest a day later and never after
        its waiting limit, counted from the moment it first came due (``date_waiting``). Waiting is not an
        attempt. Set-based: the condition lines compute the moments for the whole batch.
        """
        if not jobs:
            return
        now = fields.Datetime.now()
        limits = [(job.date_waiting or now) + relativedelta(days=self.wait_max_days) for job in jobs]
        expired = jobs.browse([job.id for job, limit in zip(jobs, limits, strict=True) if limit <= now])
        expired._mark_skipped(_("Conditions still not met after waiting %s days: step skipped.", self.wait_max_days))
        waiting = [(job, limit) for job, limit in zip(jobs, limits, strict=True) if limit > now]
        if not waiting:
            return
        changes = self.condition_ids._next_changes(
            now, [job.partner_id.id for job, _limit in waiting], [job.company_id.id for job, _limit in waiting])
        daily = now + relativedelta(days=1)
        dates = [min(change or daily, daily, limit) for (_job, limit), change in zip(waiting, changes, strict=True)]
        jobs.browse([job.id for job, _limit in waiting])._mark_waiting(dates, now)

    def _action_add_tag(self, jobs):
        # One statement for the whole batch: the ORM write of a many2many on
        # hundreds of contacts was the largest cost of this step (see bench/).
        # No stored field of res.partner depends on its tags.
        self.env.flush_all()
        self.env.cr.execute(SQL(
            """
            INSERT INTO res_partner_res_partner_category_rel (partner_id, category_id)
            SELECT p, t FROM unnest(%s::int[]) AS p, unnest(%s::int[]) AS t
            ON CONFLICT DO NOTHING
            """,
            array_literal(jobs.partner_id.ids), array_literal(self.tag_ids.ids),
        ))
        self._invalidate_partner_tags(jobs.partner_id)
        jobs._set_result(_("Tags added: %s", ", ".join(self.tag_ids.mapped("name"))))

    def _action_remove_tag(self, jobs):
        self.env.flush_all()
        self.env.cr.execute(SQL(
            "DELETE FROM res_partner_res_partner_category_rel"
            " WHERE partner_id = ANY(%s::int[]) AND category_id = ANY(%s::int[])",
            array_literal(jobs.partner_id.ids), array_literal(self.tag_ids.ids),
        ))
        self._invalidate_partner_tags(jobs.partner_id)
        jobs._set_result(_("Tags removed: %s", ", ".join(self.tag_ids.mapped("name"))))

    def _invalidate_partner_tags(self, partners):
        partners.invalidate_recordset(["category_id"])
        self.tag_ids.invalidate_recordset(["partner_ids"])

    # ------------------------------------------------------------------
    # UI
    # ------------------------------------------------------------------

    def action_view_jobs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("salesjet_flows.salesjet_flow_job_action")
        action["domain"] = [("step_id", "=", self.id)]
        action["context"] = {}
        return action

    # ---- Diagram ----
    def _diagram_node(self, actions, counts):
        """One step as the diagram shows it."""
        action = actions.get(self.action_type, "")
        conditions = self.condition_ids
        return {
            "id": self.id if isinstance(self.id, int) else 0,
            "title": self.display_name or action,
            "action": action,
            "icon": self._diagram_icon(),
            "summary": self.summary or "",
            "when": self._diagram_when(),
            "conditions": conditions._describe() if conditions else "",  # shows the OR groups
            "stop_on_fail": bool(conditions) and self.on_condition_fail == "stop",
            "repeat": _("every %(value)s %(unit)s, at most %(max)s times", value=self.repeat_interval,
                        unit=dict(self._fields["repeat_unit"]._description_selection(self.env)).get(
                            self.repeat_unit, "").lower(),
                        max=self.repeat_max) if self.repeat else "",
            "active": self.active,
            "counts": {state: counts.get(state, 0) for state in ("pending", "done", "skipped", "failed")},
            # what the canvas builds with: the type, its picker family, the step's place
            "action_type": self.action_type,
            "family": self._action_family(),
            "sequence": self.sequence,
            "branch_id": self.branch_id.id or False,
        }

    def _diagram_message_stats(self):
        """Sent, opened and clicked of these message steps (emails and SMS) with their rates, by step id,
        as the canvas shows them; an SMS has no opens (None)."""
        messages = self.filtered(lambda s: s.action_type in ("email", "sms") and isinstance(s.id, int))
        messages = messages.with_prefetch()  # compute the figures of these steps only
        return {step.id: {
            "sent": step.stat_sent,
            "opened": step.stat_opened if step.action_type == "email" else None,
            "clicked": step.stat_clicked,
            "opened_rate": round(step.stat_opened_ratio, 1) if step.action_type == "email" else None,
            "clicked_rate": round(step.stat_clicked_ratio, 1),
        } for step in messages}

    def _diagram_icon(self):
        """The Font Awesome icon of this step's action in the diagram; bridges add their action types'."""
        return ACTION_ICONS.get(self.action_type, "fa-cog")

    # ---- Statistics ----
    # Email statistics, read from the traces of the step's tracking mailing; for SMS, sent and clicked.
    stat_sent = fields.Integer(string="Sent", compute="_compute_email_statistics")
    stat_opened = fields.Integer(string="Opened", compute="_compute_email_statistics")
    stat_clicked = fields.Integer(string="Clicked", compute="_compute_email_statistics")
    stat_replied = fields.Integer(string="Replied", compute="_compute_email_statistics")
    stat_bounced = fields.Integer(string="Bounced", compute="_compute_email_statistics")
    stat_opened_ratio = fields.Float(string="Opened (%)", compute="_compute_email_statistics", digits=(5, 1))
    stat_clicked_ratio = fields.Float(string="Clicked (%)", compute="_compute_email_statistics", digits=(5, 1))
    skip_reasons = fields.Text(
        string="Why contacts were skipped", compute="_compute_skip_reasons",
        help="The most frequent reasons of this step's skipped jobs, with their counts.",
    )

    def _compute_email_statistics(self):
        # Sent, clicked, replied and bounced are the step's tracking mailing's own figures (mass_mailing computes
        # them for all the mailings at once, from the same traces). Opened is ours: a click proves an open,
        # where the mailing counts only the traces whose status is open or reply.
        mailings = self.mailing_id.sudo()  # figures of the step's own mailing, for users without mass mailing
        opened = {}
        if mailings.ids:
            opened = {mailing.id: count for mailing, count in self.env["mailing.trace"].sudo()._read_group(
                [("mass_mailing_id", "in", mailings.ids), "|", "|", ("trace_status", "in", ("open", "reply")),
                 ("open_datetime", "!=", False), ("links_click_datetime", "!=", False)],
                ["mass_mailing_id"], ["__count"])}
        stats = {mailing.id: (mailing.sent, opened.get(mailing.id, 0), mailing.clicked, mailing.replied,
                              mailing.bounced) for mailing in mailings}
        sms_steps = self.filtered(lambda s: s.action_type == "sms" and s.mailing_id)
        sms_clicks = {}
        if sms_steps:
            # an SMS has no trace: its links are shortened on the step's mailing, and each
            # click of one of them is a link.tracker.click (distinct visitors by IP)
            self.env["link.tracker.click"].flush_model()
            self.env.cr.execute(SQL(
                """
                SELECT t.mass_mailing_id, count(DISTINCT coalesce(c.ip, c.id::text))
                  FROM link_tracker_click c JOIN link_tracker t ON t.id = c.link_id
                 WHERE t.mass_mailing_id = ANY(%s)
                 GROUP BY t.mass_mailing_id
                """, sms_steps.mailing_id.ids))
            sms_clicks = dict(self.env.cr.fetchall())
        for step in self:
            sent, opened, clicked, replied, bounced = stats.get(step.mailing_id.id, (0, 0, 0, 0, 0))
            if step in sms_steps:
                # an SMS counts as sent once it is queued to the gateway (its job is done)
                sent, clicked = step.done_job_count, sms_clicks.get(step.mailing_id.id, 0)
            step.stat_sent, step.stat_opened, step.stat_clicked = sent, opened, clicked
            step.stat_replied, step.stat_bounced = replied, bounced
            step.stat_opened_ratio = 100.0 * opened / sent if sent else 0.0
            step.stat_clicked_ratio = 100.0 * clicked / sent if sent else 0.0

    def _compute_skip_reasons(self):
        # counted by reason by the job table's triggers: jobs deleted by the retention cron stay counted
        reasons = self.env["salesjet.flow.step.stat"]._skip_reasons([s for s in self.ids if isinstance(s, int)])
        for step in self:
            rows = reasons.get(step.id, [])
            lines = [f"{count} × {reason or _('no reason given')}" for reason, count in rows[:SKIP_REASONS_SHOWN]]
            if len(rows) > SKIP_REASONS_SHOWN:
                lines.append(_("%s other reasons", len(rows) - SKIP_REASONS_SHOWN))
            step.skip_reasons = "\n".join(lines)

    # ---- Contacts matching now ----
    # How many contacts meet a step's conditions right now, and a button to see them.
    match_count = fields.Integer(
        string="Match now", compute="_compute_match_count",
        help="Active contacts of the flow's company who meet this step's conditions at this moment "
             "(all of them when the step has no condition). Time conditions use the current date and time.",
    )

    def _match_domain(self):
        """Domain on res.partner: the contacts who meet this step's conditions now."""
        self.ensure_one()
        return expression.AND([
            self.condition_ids._get_domain(),
            [("company_id", "in", [False, self.company_id.id or self.env.company.id])],
        ])

    def _compute_match_count(self):
        Partner = self.env["res.partner"]
        for step in self:
            # unsaved condition lines may be half filled: count with the saved ones
            saved = step._origin
            step.match_count = Partner.search_count(saved._match_domain()) if saved else 0

    def action_view_matching_contacts(self):
        """Open the contacts who meet this step's conditions now (evaluated when the list loads)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Contacts meeting “%s”", self.display_name),
            "res_model": "res.partner",
            "view_mode": "list,form",
            "views": [(False, "list"), (False, "form")],
            "domain": [("salesjet_match_step_id", "=", self.id)],
            "context": {"create": False},
        }

    # ---- Goal ----
    converted_count = fields.Integer(
        string="Converted", compute="_compute_converted_count",
        help="Runs that went through this step (done) and then reached the flow's goal.",
    )

    def _compute_converted_count(self):
        # counted when a run converts by the runs' trigger (salesjet.flow.step.stat)
        totals = self.env["salesjet.flow.step.stat"]._totals(step_ids=self.ids)
        for step in self:
            step.converted_count = totals.get(step.id, {}).get("converted", 0)

    # ---- Frequency caps ----
    transactional = fields.Boolean(
        help="A transactional message (an order confirmation, a password reset) is exempt from frequency "
             "caps and does not count against them.")

    def _cap_channel(self):
        """The channel whose frequency cap this step's messages count against, or None."""
        if self.action_type == "chain_message":
            return CAP_CHANNELS.get(self.chain_message_id.channel)
        return CAP_CHANNELS.get(self.action_type)

    # ---- Versions and safe edits ----
    waiting_info = fields.Char(compute="_compute_waiting_info")

    @api.depends("pending_job_count")
    def _compute_waiting_info(self):
        for step in self:
            count = step.pending_job_count if isinstance(step.id, int) else 0
            step.waiting_info = _("%s contacts wait on this step.", count) if count else False

    # -- versions ---------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()  # salesjet.flow._engine_info
        steps = super().create(vals_list)
        for step in steps:
            step.flow_id._note_change(_("Step added: %s.", step.display_name))
        return steps

    def write(self, vals):
        if {"sequence", "active", "flow_id", "branch_id", *self._timing_fields()} & set(vals):
            self.env.registry.clear_cache()  # salesjet.flow._engine_info
        if vals.get("active") is False and not self.env.context.get("salesjet_step_removal"):
            self.check_access("write")  # who may not change the step hears that first
            waiting = self.filtered(lambda s: s.active and s.pending_job_count)
            if waiting:
                raise UserError(_(
                    "%(count)s contacts wait on step “%(step)s”: use “Remove step” on the step to choose whether "
                    "they go on to the next step or their runs are cancelled.",
                    count=waiting[0].pending_job_count, step=waiting[0].display_name))
        # A moved step (sequence or branch) keeps its waiting contacts; after it they follow the new order.
        res = super().write(vals)
        changed = [self._fields[name].string for name in vals if name in self._fields and name not in ENGINE_FIELDS]
        if changed:
            for step in self:
                step.flow_id._note_change(_("Step %(step)s changed: %(fields)s.", step=step.display_name,
                                            fields=", ".join(changed)))
        return res

    def unlink(self):
        self.env.registry.clear_cache()
        self.exists().check_access("unlink")  # who may not delete the step hears that first
        # a split's branches, and the steps in them, go with it (cascade in SQL): their waiting contacts first
        inner = self.exists().filtered(lambda s: s.action_type == "split").branch_ids.step_ids - self
        waiting_inside = inner.filtered("pending_job_count")
        if waiting_inside:
            raise UserError(_(
                "%(count)s contacts wait on the steps of this split's branches (e.g. “%(step)s”): remove those "
                "steps first with “Remove step”, or move them to the main chain.",
                count=sum(waiting_inside.mapped("pending_job_count")), step=waiting_inside[0].display_name))
        for step in self.exists():  # a chain message's step may already be gone with its message
            if step.pending_job_count and not self.env.context.get("salesjet_step_removal"):
                raise UserError(_(
                    "%(count)s contacts wait on step “%(step)s”: use “Remove step” on the step to choose whether "
                    "they go on to the next step or their runs are cancelled.",
                    count=step.pending_job_count, step=step.display_name))
            step.flow_id._note_change(_("Step removed: %s.", step.display_name))
        return super().unlink()

    # -- reschedule waiting contacts ----------------------------------------

    def _reschedule_waiting(self):
        """Recompute the date of every waiting job of these steps with the step's current timing.

        "From the previous step" counts from when the run's previous job ended (its latest done or
        skipped job before this one), else from the start of the run; "from the start" from the run's
        start; other timings from now. Moments already past become now; the send window applies.
        Set-based: a few queries per step, whatever the number of waiting contacts.

        :return: number of rescheduled jobs
        """
        now = fields.Datetime.now()
        self.env.flush_all()
        total = 0
        for step in self:
            self.env.cr.execute(SQL(
                """
                SELECT j.id, j.partner_id, j.company_id, e.date_start, j.enrollment_id,
                       (SELECT max(p.date_done) FROM salesjet_flow_job p
                         WHERE p.enrollment_id = j.enrollment_id AND p.id <> j.id
                           AND p.state IN ('done', 'skipped'))
                  FROM salesjet_flow_job j
                  JOIN salesjet_flow_enrollment e ON e.id = j.enrollment_id
                 WHERE j.step_id = %s AND j.state = 'pending' AND j.repeat_index = 0
                 ORDER BY j.id
                """,
                step.id,
            ))
            rows = self.env.cr.fetchall()
            if not rows:
                continue
            if step.timing == "delay":
                dates = [max(step._compute_scheduled_date(previous or start, start), now)
                         for _id, _p, _c, start, _e, previous in rows]
                dates = step._apply_send_window(dates, [r[1] for r in rows], [r[2] for r in rows])
            else:
                dates = step._compute_scheduled_dates(now, [(r[1], r[2], r[3], r[4]) for r in rows])
            self.env["salesjet.flow.job"]._update_by_ids(
                [r[0] for r in rows], SQL("scheduled_date = v.d"), values=[("d", "timestamp", dates)],
                where=state_in(SQL("j.state"), "pending"))
            total += len(rows)
            self.env["salesjet.flow.job"]._trigger_scheduler(min(dates))
            step.flow_id._note_change(_("%(count)s waiting contacts of step %(step)s rescheduled with its new timing.",
                                        count=len(rows), step=step.display_name))
        self.env["salesjet.flow.job"].invalidate_model(["scheduled_date"])
        self.env["salesjet.flow"]._invalidate_engine_cache()
        return total

    def action_reschedule_waiting(self):
        """Reschedule the contacts waiting on these steps with their current timing (button)."""
        # the jobs are rewritten with SQL, which skips access rights and record rules
        self.check_access("write")
        count = self._reschedule_waiting()
        return {"type": "ir.actions.client", "tag": "display_notification", "params": {
            "type": "success", "message": _("%s waiting contacts rescheduled with the new timing.", count),
            "next": {"type": "ir.actions.act_window_close"}}}

    def _remove_with_waiting(self, mode, archive):
        """Archive or delete these steps; their waiting contacts go on to the next step (scheduled
        by that step's timing from now) with ``mode='next'``, or their runs are cancelled (``'cancel'``).

        :return: number of waiting jobs handled
        """
        now = fields.Datetime.now()
        Job = self.env["salesjet.flow.job"]
        total = 0
        for step in self:
            waiting = Job.search([("step_id", "=", step.id), ("state", "=", "pending")])
            total += len(waiting)
            next_step = step._next_step() if mode == "next" else None
            # the next step is looked up before the step leaves the chain; skip other removed steps
            while next_step and next_step in self:
                next_step = next_step._next_step()
            if waiting:
                if mode == "next" and next_step:
                    result = _("Step removed: moved on to %s.", next_step.display_name)
                elif mode == "next":
                    result = _("Step removed: it was the last step, the run is completed.")
                else:
                    result = _("Step removed: run cancelled.")
                self.env.cr.execute(SQL(
                    "UPDATE salesjet_flow_job SET state = 'cancelled', date_done = %s, result = %s WHERE id = ANY(%s)",
                    now, result, waiting.ids))
                waiting.invalidate_recordset(["state", "date_done", "result"])
                enrollments = waiting.enrollment_id
                if mode == "next" and next_step:
                    rows = [(j.enrollment_id.id, j.flow_id.id, j.partner_id.id, j.company_id.id,
                             j.enrollment_id.date_start) for j in waiting]
                    dates = next_step._compute_scheduled_dates(now, [(r[2], r[3], r[4], r[0]) for r in rows])
                    Job._create_pending([(r[0], r[1], next_step.id, r[2], r[3], date, 0)
                                         for r, date in zip(rows, dates, strict=True)])
                elif mode == "next":
                    enrollments._finish("done", now)
                else:
                    enrollments._finish("stopped", now)
        self.env["salesjet.flow"]._invalidate_engine_cache()
        removal = self.with_context(salesjet_step_removal=True)
        if archive:
            removal.write({"active": False})
        else:
            # jobs of a deleted step go with it (cascade): the log of its done jobs too
            removal.unlink()
        return total

    def action_open_remove_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window", "name": _("Remove step %s", self.display_name),
            "res_model": "salesjet.flow.step.remove", "view_mode": "form", "target": "new",
            "context": {"default_step_id": self.id},
        }

    # ---- Flow kinds ----
    suggested_condition_type = fields.Char(related="flow_id.suggested_condition_type")

    def _preview_add_tag(self, partner, data):
        return preview_rows([(_("Tags added"), ", ".join(self.tag_ids.mapped("name")))])

    def _preview_remove_tag(self, partner, data):
        return preview_rows([(_("Tags removed"), ", ".join(self.tag_ids.mapped("name")))])
