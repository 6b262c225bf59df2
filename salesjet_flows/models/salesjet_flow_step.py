import logging

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# Step (action) types. Adding a type means one selection entry here (or a
# ``selection_add`` in another module), one ``_action_<type>(jobs)`` executor
# and, when it has settings, one ``_check_action_<type>()`` validator (its fields
# added to ``_settings_fields``) plus its fields in the step form.
ACTION_TYPES = [
    ("add_tag", "Add tag"),
    ("remove_tag", "Remove tag"),
]

TIMINGS = [
    ("immediate", "Immediately"),
    ("delay", "After a delay"),
    ("date", "At a date and time"),
]

UNITS = [
    ("minutes", "Minutes"),
    ("hours", "Hours"),
    ("days", "Days"),
    ("weeks", "Weeks"),
]


def delta(value, unit):
    return relativedelta(**{unit: value or 0})


class SalesjetFlowStep(models.Model):
    _name = "salesjet.flow.step"
    _check_company_auto = True
    _inherit = ["salesjet.translation.check.mixin"]  # email/SMS/note/webhook/call texts hold placeholders
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

    # Timing
    timing = fields.Selection(TIMINGS, string="When", required=True, default="immediate")
    delay_value = fields.Integer(string="Delay", default=1)
    delay_unit = fields.Selection(UNITS, string="Delay unit", default="days")
    delay_from = fields.Selection(
        [("previous", "the previous step"), ("start", "the start of the run")],
        string="Counted from", default="previous",
    )
    run_at = fields.Datetime(
        string="Run at", help="Date and time of this step. Contacts who reach it later run it as soon as they reach it.",
    )

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
    ]

    @api.depends("name", "action_type", "tag_ids", "timing", "delay_value", "delay_unit", "delay_from", "run_at",
                 "condition_ids", "repeat", "repeat_interval", "repeat_unit", "repeat_max")
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

    def _describe_timing(self):
        """When this step runs, as words for the summary (timing types extend it)."""
        units = dict(self._fields["delay_unit"]._description_selection(self.env))
        if self.timing == "delay":
            origin = _("the start") if self.delay_from == "start" else _("the previous step")
            return _("%(value)s %(unit)s after %(origin)s", value=self.delay_value,
                     unit=units.get(self.delay_unit, "").lower(), origin=origin)
        if self.timing == "date":
            return _("at %s", fields.Datetime.to_string(self.run_at) if self.run_at else "?")
        return _("immediately")

    @api.depends("name", "action_type", "tag_ids")
    def _compute_display_name(self):
        actions = dict(self._fields["action_type"]._description_selection(self.env))
        for step in self:
            label = step.name or actions.get(step.action_type, "")
            if not step.name and step.action_type in step._tag_action_types() and step.tag_ids:
                label += " " + ", ".join(step.tag_ids.mapped("name"))
            step.display_name = label

    def _tag_action_types(self):
        """The action types that add or remove the step's ``tag_ids`` (their title shows the tags)."""
        return ("add_tag", "remove_tag")

    def _compute_job_counts(self):
        data = {
            (step.id, state): count
            for step, state, count in self.env["salesjet.flow.job"]._read_group(
                [("step_id", "in", self.ids)], ["step_id", "state"], ["__count"],
            )
        }
        for step in self:
            step.pending_job_count = data.get((step.id, "pending"), 0)
            step.done_job_count = data.get((step.id, "done"), 0)
            step.skipped_job_count = data.get((step.id, "skipped"), 0)
            step.failed_job_count = data.get((step.id, "failed"), 0)

    # ------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------

    def _settings_fields(self):
        """The fields whose change re-checks a step's settings in ``_check_settings``: the common ones here,
        each action type adds the fields its ``_check_action_<type>()`` reads (one dispatcher for every type)."""
        return ["action_type", "tag_ids", "timing", "run_at", "delay_value", "repeat", "repeat_interval"]

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

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()  # salesjet.flow._engine_info
        return super().create(vals_list)

    def write(self, vals):
        if {"sequence", "active", "flow_id", "branch_id", *self._timing_fields()} & set(vals):
            self.env.registry.clear_cache()  # salesjet.flow._engine_info
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()

    @api.model
    def _timing_fields(self):
        """The fields ``_compute_scheduled_date`` reads: fetched alone where speed matters."""
        return ["timing", "delay_value", "delay_unit", "delay_from", "run_at"]

    def _due_at_once(self):
        """Whether this step is due the moment a contact reaches it, whoever the contact is
        (no delay, date or send window): enrolling then computes no date."""
        self.ensure_one()
        return self.timing == "immediate"

    def _compute_scheduled_date(self, now, date_start):
        """When this step runs for a contact who reaches it at ``now`` and started the run at ``date_start``,
        before anything that depends on the contact (relative dates, send window)."""
        self.ensure_one()
        if self.timing == "delay":
            origin = date_start if self.delay_from == "start" else now
            return max(origin + delta(self.delay_value, self.delay_unit), now)
        if self.timing == "date" and self.run_at:
            return max(self.run_at, now)
        return now

    def _compute_scheduled_dates(self, now, targets):
        """When this step runs for each of many contacts who reach it at ``now``, set-based.

        :param targets: tuples (partner_id, company_id, date_start, enrollment_id)
        :return: one naive UTC datetime per target, in order
        """
        self.ensure_one()
        if self.timing == "delay" and self.delay_from == "start":
            return [self._compute_scheduled_date(now, target[2]) for target in targets]
        return [self._compute_scheduled_date(now, now)] * len(targets)

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

    def _batch_apply_split(self, jobs, batch):
        """Batch stage 6: defined by split steps (salesjet_flow_split.py), which end their test when it is over
        before sending ``jobs`` down a branch."""

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
        expired = jobs.browse([job.id for job, limit in zip(jobs, limits) if limit <= now])
        expired._mark_skipped(_("Conditions still not met after waiting %s days: step skipped.", self.wait_max_days))
        waiting = [(job, limit) for job, limit in zip(jobs, limits) if limit > now]
        if not waiting:
            return
        changes = self.condition_ids._next_changes(
            now, [job.partner_id.id for job, _limit in waiting], [job.company_id.id for job, _limit in waiting])
        daily = now + relativedelta(days=1)
        dates = [min(change or daily, daily, limit) for (_job, limit), change in zip(waiting, changes)]
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
            jobs.partner_id.ids, self.tag_ids.ids,
        ))
        self._invalidate_partner_tags(jobs.partner_id)
        jobs._set_result(_("Tags added: %s", ", ".join(self.tag_ids.mapped("name"))))

    def _action_remove_tag(self, jobs):
        self.env.flush_all()
        self.env.cr.execute(SQL(
            "DELETE FROM res_partner_res_partner_category_rel WHERE partner_id = ANY(%s) AND category_id = ANY(%s)",
            jobs.partner_id.ids, self.tag_ids.ids,
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
