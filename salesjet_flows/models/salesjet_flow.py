"""What a flow's kind changes: the trigger and condition types its forms offer first.

A new trigger of a flow starts with the kind's usual trigger type, a new condition of one of its steps
with the kind's usual condition type, and the Triggers tab names the kind's usual triggers. Any type can
still be chosen. Bridge modules add their kinds' types by extending ``_kind_suggestions``.
"""
import json
import secrets
from datetime import timedelta

from psycopg2.extensions import TRANSACTION_STATUS_INERROR

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools.query import Query

from ..tools.arrays import array_literal
from ..tools.caps import CAP_CHANNELS, CAP_POLICIES
from ..tools.goal import parse_goal
from ..tools.placeholders import checking_stored_texts
from ..tools.planner import IN_ORDER, jit_off, planner_off, state_in, unindexed
from .salesjet_flow_job import GOAL_BATCH_SIZE, LOCK_QUEUE_SHARED, insert_pending
from .salesjet_flow_step_split import _rebuild_splits, _split_layout
from .salesjet_flow_step_stat import COUNTED_STATES
from .salesjet_flow_version import ENGINE_FIELDS, VERSION_DATA_KEY

FLOW_KINDS = [
    ("manual", "Manual"),
    ("page", "Page"),
    ("funnel", "Funnel"),
    ("training", "Training"),
    ("facebook", "Facebook lead form"),
    ("loyalty", "Loyalty scenario"),
    ("chain", "Message chain"),
]

REENTRY_POLICIES = [
    ("once", "Once per contact"),
    ("no_active", "Only when no run is active"),
    ("always", "Every time"),
]

# Value of salesjet_flow_enrollment.reentry_key per policy. A partial unique
# index on (flow_id, partner_id, reentry_key) makes the database itself refuse
# a second enrolment, even when two events of one contact arrive at once.
REENTRY_KEYS = {"once": "once", "no_active": "active", "always": None}


def reentry_allows(policy, flow_id, partner_id):
    """SQL: whether a flow's re-entry ``policy`` lets the contact ``partner_id`` start a run of ``flow_id`` (SQL
    expressions of the statement). "once": no run ever; "no_active": none running; else any time. The unique
    index on (flow, contact, reentry_key) closes the race between two transactions."""
    return SQL(
        """CASE %(policy)s
           WHEN 'once' THEN NOT EXISTS (
               SELECT 1 FROM salesjet_flow_enrollment e WHERE e.flow_id = %(flow)s AND e.partner_id = %(partner)s)
           WHEN 'no_active' THEN NOT EXISTS (
               SELECT 1 FROM salesjet_flow_enrollment e
                WHERE e.flow_id = %(flow)s AND e.partner_id = %(partner)s AND e.state = 'running')
           ELSE TRUE END""",
        policy=policy, flow=flow_id, partner=partner_id)

LAUNCH_BATCH_SIZE = 10000

# contacts a launch reads at a time, in the order of their ids, to find those of its segment (see _segment_window)
LAUNCH_WINDOW = 10000
# windows one batch of a launch reads at most: a sparse segment's batch stays bounded
LAUNCH_WINDOWS_PER_BATCH = 20

# days drawn by the statistics tab's chart of each step
STATISTICS_DAYS = 30

# A flow's life: only a running flow enrols contacts (events, triggers, launches, follow-up and chain steps).
FLOW_STATES = [
    ("draft", "Draft"),
    ("running", "Running"),
    ("stopped", "Stopped"),
]


# the fields that show runs and jobs, which the engine writes with SQL (see _invalidate_engine_cache)
ENGINE_CACHED_FIELDS = (
    ("salesjet.flow", ["enrollment_ids", "enrollment_count", "running_count", "done_count",
                       "job_count", "pending_job_count", "failed_job_count"]),
    ("salesjet.flow.step", ["job_ids", "pending_job_count", "done_job_count", "skipped_job_count",
                            "failed_job_count"]),
    ("salesjet.flow.enrollment", ["job_ids", "current_step_id", "next_date"]),
    ("salesjet.event", ["enrollment_ids", "enrollment_count"]),
)


class SalesjetFlow(models.Model):
    _name = "salesjet.flow"
    _description = "Marketing Flow"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True, tracking=True)
    sequence = fields.Integer(default=10)
    kind = fields.Selection(
        FLOW_KINDS, required=True, default="manual", tracking=True,
        help="Decides what the forms offer first: a new trigger and a new step condition start with the kind's "
             "usual type (Page: page visits and forms; Funnel: the funnel's pages and “Visited the funnel”; "
             "Training: course triggers and conditions; Facebook lead form: Facebook leads; Loyalty scenario: "
             "purchases; Message chain: landing page sign-ups). Any type can still be chosen.",
    )
    description = fields.Html(translate=True)
    active = fields.Boolean(default=True, tracking=True)
    state = fields.Selection(
        FLOW_STATES, string="Status", required=True, default="draft", copy=False, tracking=True, index=True,
        group_expand=True,
        help="Draft: being written; test runs only, no event, trigger or launch enrols anyone.\n"
             "Running: triggers and launches enrol contacts and their steps run.\n"
             "Stopped: no new runs; the waiting steps were cancelled. Set it back to draft to edit it.",
    )
    color = fields.Integer()
    company_id = fields.Many2one(
        "res.company", string="Company", required=True, index=True,
        default=lambda self: self.env.company,
    )
    user_id = fields.Many2one(
        "res.users", string="Responsible", default=lambda self: self.env.user, tracking=True,
    )
    reentry_policy = fields.Selection(
        REENTRY_POLICIES, string="Re-entry", required=True, default="once", tracking=True,
        help="Once per contact: a contact runs through this flow at most once, ever.\n"
             "Only when no run is active: a contact may run again once the previous run ended.\n"
             "Every time: every matching event starts a new run.\n"
             "A segment launch never enrols a contact who is already running in the flow.",
    )
    trigger_ids = fields.One2many("salesjet.flow.trigger", "flow_id", string="Triggers", copy=True)
    step_ids = fields.One2many("salesjet.flow.step", "flow_id", string="Steps", copy=True)
    enrollment_ids = fields.One2many("salesjet.flow.enrollment", "flow_id", string="All runs")

    step_count = fields.Integer(compute="_compute_step_count")
    enrollment_count = fields.Integer(string="Runs", compute="_compute_counters")
    running_count = fields.Integer(string="Running", compute="_compute_counters")
    done_count = fields.Integer(string="Completed", compute="_compute_counters")
    job_count = fields.Integer(string="Jobs", compute="_compute_job_counters")
    pending_job_count = fields.Integer(string="Waiting jobs", compute="_compute_job_counters")
    failed_job_count = fields.Integer(string="Failed jobs", compute="_compute_job_counters")
    has_segment_trigger = fields.Boolean(compute="_compute_has_segment_trigger")

    @api.depends("step_ids")
    def _compute_step_count(self):
        for flow in self:
            flow.step_count = len(flow.step_ids)

    def _compute_counters(self):
        data = {
            (flow.id, state): count
            for flow, state, count in self.env["salesjet.flow.enrollment"]._read_group(
                [("flow_id", "in", self.ids)], ["flow_id", "state"], ["__count"],
            )
        }
        for flow in self:
            counts = {state: data.get((flow.id, state), 0) for state in ("running", "done", "stopped", "failed")}
            flow.enrollment_count = sum(counts.values())
            flow.running_count = counts["running"]
            flow.done_count = counts["done"]

    def _compute_job_counters(self):
        # kept set-wise by the job table's triggers (salesjet.flow.step.stat), not counted from the jobs
        totals = self.env["salesjet.flow.step.stat"]._totals(flow_ids=self.ids, by="flow_id")
        for flow in self:
            counts = totals.get(flow.id) or dict.fromkeys(COUNTED_STATES, 0)
            flow.job_count = sum(counts[state] for state in COUNTED_STATES)
            flow.pending_job_count = counts["pending"]
            flow.failed_job_count = counts["failed"]

    @api.depends("trigger_ids.trigger_type")
    def _compute_has_segment_trigger(self):
        for flow in self:
            flow.has_segment_trigger = "segment" in flow.trigger_ids.mapped("trigger_type")

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            vals.setdefault("webhook_secret", secrets.token_hex(32))
            self._enable_goal_with_domain(vals)
        self.env.registry.clear_cache()  # the trigger cache follows active flows
        flows = super().create(vals_list)
        for flow in flows:
            flow._note_change(_("Flow created."))
        return flows

    def write(self, vals):
        self._enable_goal_with_domain(vals)
        if {"active", "state", "company_id", "reentry_policy"} & set(vals):
            self.env.registry.clear_cache()  # triggers and _engine_info
        restored = self.filtered(lambda f: not f.active) if vals.get("active") else self.browse()
        res = super().write(vals)
        changed = self._version_fields(vals)
        if changed:
            self._note_change(_("Flow changed: %s.", ", ".join(changed)))
        if restored:
            # an archived flow was held like a paused one: restoring it resumes it
            self.env["salesjet.flow.job"]._trigger_scheduler(fields.Datetime.now())
        return res

    def copy(self, default=None):
        """A copy gets copies of the chain messages (which generate its own steps) and the same A/B splits."""
        layouts = [_split_layout(flow) for flow in self]
        new_flows = super(SalesjetFlow, self.with_context(salesjet_split_rebuild=True)).copy(default)
        for old, new in zip(self, new_flows, strict=True):
            if old.chain_message_ids:
                new.step_ids.filtered("chain_message_id").unlink()
                for message in old.chain_message_ids:
                    message.copy({"flow_id": new.id})
        for new, (splits, members) in zip(new_flows, layouts, strict=True):
            _rebuild_splits(new.with_context(salesjet_split_rebuild=False), splits, members)
        return new_flows.with_context(salesjet_split_rebuild=False)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()

    def copy_data(self, default=None):
        vals_list = super().copy_data(default=default)
        return [dict(vals, name=_("%s (copy)", flow.name)) for flow, vals in zip(self, vals_list, strict=True)]

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_open_launch_wizard(self):
        self.ensure_one()
        triggers = self.trigger_ids.filtered(lambda t: t.trigger_type == "segment")
        if not triggers:
            raise UserError(_("Add a “Manual launch for a segment” trigger to this flow before launching it."))
        return {
            "type": "ir.actions.act_window",
            "name": _("Launch %s", self.name),
            "res_model": "salesjet.flow.launch",
            "view_mode": "form",
            "target": "new",
            "context": {"default_flow_id": self.id, "default_trigger_id": triggers[:1].id},
        }

    # ---- Lifecycle: draft, running, stopped ----

    def _start_problems(self):
        """Every reason this flow cannot start, as sentences (empty: it can start).

        Re-runs each step's own checks (settings, texts rendered for a sample contact, a split's branches) and
        collects their messages instead of stopping at the first; a text's code that a Settings administrator
        saved (approved) passes, whoever starts the flow. A flow needs a trigger, except a message
        chain or a flow that another flow's “Start a follow-up flow” step starts: those are entered by steps.
        """
        self.ensure_one()
        problems = []
        steps = self.with_context(active_test=False).step_ids.filtered("active")
        if not self.trigger_ids and self.kind != "chain":
            followed = self.env["salesjet.flow.step"].sudo().search_count(
                [("action_type", "=", "flow_start"), ("target_flow_id", "=", self.id)], limit=1)
            if not followed:
                problems.append(_("It has no trigger: add one (e.g. “Manual launch for a segment” to launch it "
                                  "for a segment, or an API event)."))
        if not steps and not self.chain_message_ids:
            problems.append(_("It has no step: add at least one."))
        # texts are judged as the scheduler will render them, not as if the one who starts had written them
        with checking_stored_texts():
            for step in steps:
                for check in (step._check_settings, step._check_timing_settings, step._check_split_branches):
                    try:
                        check()
                    except (UserError, ValidationError) as e:
                        problems.append(e.args[0])
        return list(dict.fromkeys(problems))

    def _check_lifecycle_rights(self):
        if not self.env.su and not self.env.user.has_group("salesjet_flows.group_salesjet_manager"):
            raise AccessError(_("Only Flows administrators can start or stop a flow."))
        self.check_access("write")

    def action_start(self):
        """Check these flows, then let them enrol contacts. Lists every problem of every flow in one error."""
        self._check_lifecycle_rights()
        problems = []
        for flow in self:
            if flow.state == "running":
                continue
            problems += [_("%(flow)s: %(problem)s", flow=flow.name, problem=problem)
                         for problem in flow._start_problems()]
        if problems:
            raise UserError(_("The flow cannot start yet. Fix these first:\n%s",
                              "\n".join(f"• {problem}" for problem in problems)))
        self.filtered(lambda f: f.state != "running").write({"state": "running"})
        return True

    def action_open_stop_wizard(self):
        """Ask for confirmation, saying how many waiting steps stopping cancels (see salesjet.flow.stop)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Stop %s", self.name),
            "res_model": "salesjet.flow.stop",
            "view_mode": "form",
            "target": "new",
            "context": {"default_flow_id": self.id},
        }

    def action_stop(self):
        """Stop these flows: no new runs; their running runs end as stopped and their waiting jobs are
        cancelled, set-based (a job another worker holds right now is skipped: the scheduler cancels jobs of
        stopped runs). Returns the number of cancelled jobs."""
        self._check_lifecycle_rights()
        flows = self.filtered(lambda f: f.state == "running")
        if not flows:
            return 0
        flows.write({"state": "stopped"})
        self.env.flush_all()
        now = fields.Datetime.now()
        self.env.cr.execute(SQL(
            """
            UPDATE salesjet_flow_job SET state = 'cancelled', date_done = %(now)s, result = %(why)s
             WHERE id IN (SELECT id FROM salesjet_flow_job
                           WHERE flow_id = ANY(%(ids)s) AND state = 'pending'
                             FOR UPDATE SKIP LOCKED)
            """,
            now=now, why=_("Flow stopped by %s.", self.env.user.name), ids=flows.ids,
        ))
        cancelled = self.env.cr.rowcount
        self.env["salesjet.flow.job"].invalidate_model(["state", "date_done", "result"])
        self.env["salesjet.flow.enrollment"].sudo().search(
            [("flow_id", "in", flows.ids), ("state", "=", "running")])._finish("stopped", now)
        for flow in flows:
            flow.message_post(body=_("Stopped by %s: no new runs, waiting steps cancelled.", self.env.user.name))
        return cancelled

    def action_set_draft(self):
        """A stopped flow goes back to draft, to be edited and started again."""
        self._check_lifecycle_rights()
        self.filtered(lambda f: f.state == "stopped").write({"state": "draft"})
        return True

    def action_view_enrollments(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("salesjet_flows.salesjet_flow_enrollment_action")
        action["domain"] = [("flow_id", "=", self.id)]
        action["context"] = {"default_flow_id": self.id, "search_default_filter_running": 1}
        return action

    def action_view_jobs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("salesjet_flows.salesjet_flow_job_action")
        action["domain"] = [("flow_id", "=", self.id)]
        action["context"] = {"search_default_group_step": 1}
        return action

    def action_view_failed_jobs(self):
        action = self.action_view_jobs()
        action["context"] = {"search_default_filter_failed": 1}
        return action

    # ------------------------------------------------------------------
    # Engine: enrolment

    @api.model
    def _invalidate_engine_cache(self, flush=True):
        """Runs and jobs are written with SQL: drop the cached lists and counters that show them.

        :param flush: write pending changes of those fields first; False when everything was flushed before the
            SQL and nothing changed since (an event's hot path, where usually none of them is cached: a model
            with none of them in the cache is then left alone)
        """
        cache = self.env.cache
        for model_name, fnames in ENGINE_CACHED_FIELDS:
            model = self.env[model_name]
            if flush or any(cache.contains_field(model._fields[fname]) for fname in fnames):
                model.invalidate_model(fnames, flush=flush)

    # ------------------------------------------------------------------

    def _first_step(self):
        self.ensure_one()
        step = self.env["salesjet.flow.step"].browse(self._engine_info(self.id)[3])
        step.fetch(step._timing_fields())
        return step

    @api.model
    @tools.ormcache("flow_id")
    def _engine_info(self, flow_id):
        """What enrolling in a flow needs, cached (events come often, flows change rarely):
        (listens, company id, re-entry policy, first step id, whether that step is due at once), where
        listens means active and running: a draft or stopped flow enrols nobody, whatever the path.

        Cleared when a flow's state, company or policy changes and when steps change (see write).
        """
        flow = self.sudo().with_context(active_test=False).browse(flow_id)
        flow.fetch(["active", "state", "company_id", "reentry_policy"])
        # steps of a split's branches are not on the main chain (see salesjet_flow_step_split.py)
        step = self.env["salesjet.flow.step"].sudo().search(
            [("flow_id", "=", flow_id), ("branch_id", "=", False)], order="sequence, id", limit=1)
        return (flow.active and flow.state == "running", flow.company_id.id, flow.reentry_policy, step.id,
                bool(step) and step._due_at_once())

    def _launch_segment(self, trigger):
        """Enrol every contact matched by ``trigger``'s segment, batch by batch.

        Contacts are read by id ranges and inserted with one statement per
        batch. Contacts who already have a running enrolment in this flow are
        left alone, so launching twice (or again after a crash) is harmless.

        :return: number of new enrolments
        """
        self.ensure_one()
        last_id, total = 0, 0
        while True:
            _matched, enrolled, last_id, exhausted = self._launch_segment_batch(trigger, last_id, LAUNCH_BATCH_SIZE)
            total += enrolled
            if exhausted:
                break
        if total:
            self._post_launched(total, trigger)
        return total

    def _post_launched(self, count, trigger):
        """Say in the flow's chatter that a launch for ``trigger``'s segment enrolled ``count`` contacts (in the
        request, or in the background: salesjet.segment.launch)."""
        self.message_post(body=_("Launched for %(count)s contacts (segment “%(trigger)s”).",
                                 count=count, trigger=trigger.display_name))

    def _launch_segment_batch(self, trigger, after_id, limit):
        """Enrol the next contacts of ``trigger``'s segment whose id is above ``after_id``, at most ``limit`` (their
        runs and first jobs set-based, see ``_enroll``; contacts running in the flow are left alone).

        The contacts are read window by window (``_segment_window``), up to ``LAUNCH_WINDOWS_PER_BATCH`` windows:
        a batch of a sparse segment may end with fewer contacts than ``limit`` and the segment not exhausted.

        :return: (contacts of the segment read, contacts enrolled, id of the last contact read, else ``after_id``,
            whether no contact is left after it)
        """
        self.ensure_one()
        partner_ids, last_id, exhausted = [], after_id, False
        for _window in range(LAUNCH_WINDOWS_PER_BATCH):
            matched, window_end, exhausted = self._segment_window(trigger, last_id, LAUNCH_WINDOW)
            wanted = limit - len(partner_ids)
            if len(matched) > wanted:
                # the next batch goes on after the last contact taken, inside this window
                partner_ids += matched[:wanted]
                last_id, exhausted = partner_ids[-1], False
                break
            partner_ids += matched
            last_id = window_end or last_id
            if exhausted or len(partner_ids) == limit:
                break
        enrolled = self._enroll(partner_ids, trigger=trigger, skip_running=True) if partner_ids else []
        return len(partner_ids), len(enrolled), last_id, exhausted

    def _segment_window(self, trigger, after_id, size):
        """The contacts of ``trigger``'s segment among the next ``size`` contacts whose id is above ``after_id``.

        The segment's filter is applied to that window, never searched through its own indexes: a page of
        ``id > last ORDER BY id LIMIT`` over the whole filter let PostgreSQL read it through the filter's index
        when its statistics lagged (a segment imported and launched at once: the filter looked like it matched
        one contact), reading every remaining match for each page, and a launch grew with the square of its
        segment (602 ms a page at 500,000 contacts instead of 6 ms). A window is read through the contacts' key
        whatever the statistics say, and costs the same for any filter.

        :return: (ids of the matching contacts in ascending order, id of the window's last contact or None,
            whether the window held the last contacts)
        """
        Partner = self.env["res.partner"].with_company(self.company_id)
        Partner.browse().check_access("read")
        table = SQL.identifier(Partner._table)
        window = SQL("(SELECT * FROM %s WHERE id > %s ORDER BY id LIMIT %s)", table, after_id, size)
        # the launch runs as superuser: keep to the contacts the flow's company may see
        domain = trigger._get_partner_domain() + [("company_id", "in", [False, self.company_id.id])]
        if Partner._active_name and not any(item[0] == Partner._active_name for item in domain):
            domain = [(Partner._active_name, "=", True)] + domain
        # the window stands for the contacts' table in the query: the filter can only test its rows (a
        # subquery with a LIMIT keeps its conditions out)
        query = expression.expression(domain, Partner, query=Query(self.env, Partner._table, window)).query
        Partner._apply_ir_rules(query, "read")
        query.order = SQL.identifier(Partner._table, "id")
        # read through the contacts' key whatever the statistics say: contacts imported and launched at once
        # looked few, and each window was the whole table read and sorted (planner_off)
        with planner_off(self.env.cr, *IN_ORDER):
            window_end, count = self.env.execute_query(SQL(
                "SELECT max(id), count(*) FROM (SELECT id FROM %s WHERE id > %s ORDER BY id LIMIT %s) w",
                table, after_id, size))[0]
            matched = list(query) if count else []
        if not count:
            return [], None, True
        return matched, window_end, count < size

    def _enroll(self, partner_ids, trigger=None, event=None, lead=None, data=None, skip_running=False):
        """Enrol contacts in this flow, set-based, and schedule each run's first step.

        The re-entry policy is enforced in the statement itself (and by the
        partial unique index on ``reentry_key`` when two transactions race).

        :param list partner_ids: ids of ``res.partner``
        :param skip_running: also skip contacts who have a running enrolment
        :return: the new ``salesjet.flow.enrollment`` records
        """
        self.ensure_one()
        listens, company_id, policy, first_step_id, due_at_once = self._engine_info(self.id)
        if not partner_ids or not listens:
            return self.env["salesjet.flow.enrollment"]
        self.env.flush_all()
        now = fields.Datetime.now()
        # Each contact's runs are looked up through the contacts' key, one contact at a time (the OFFSET keeps
        # the subquery from becoming a join): a launch writes its runs in one transaction, which the statistics
        # never see, so the flow's runs looked few and each batch read all of them through the flow's (or the
        # state's) index, in a hash join, and a launch grew with the square of its segment (at 600,000 runs
        # already written: 509 ms a batch of 10,000).
        exclusions = []
        if policy == "once":
            exclusions.append(SQL(
                "SELECT 1 FROM salesjet_flow_enrollment e WHERE e.partner_id = p.id AND %s = %s OFFSET 0",
                unindexed(SQL("e.flow_id")), self.id))
        elif policy == "no_active" or skip_running:
            exclusions.append(SQL(
                "SELECT 1 FROM salesjet_flow_enrollment e WHERE e.partner_id = p.id AND %s = %s AND %s OFFSET 0",
                unindexed(SQL("e.flow_id")), self.id, state_in(SQL("e.state"), "running")))
        where = SQL(" AND ").join([SQL("NOT EXISTS (%s)", excl) for excl in exclusions]) if exclusions else SQL("TRUE")
        # the lookups' cost, overestimated for a batch, would have PostgreSQL compile the statement (jit_off)
        checked_batch = bool(exclusions) and len(partner_ids) > 1
        key = REENTRY_KEYS[policy]
        insert_runs = SQL(
            """
            INSERT INTO salesjet_flow_enrollment
                (flow_id, partner_id, company_id, trigger_id, event_id, lead_id, data, state,
                 reentry_key, date_start, create_uid, create_date, write_uid, write_date)
            SELECT %(flow)s, p.id, %(company)s, %(trigger)s, %(event)s, %(lead)s, %(data)s, 'running',
                   %(key)s, %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM unnest(%(partners)s::int[]) AS p(id)
             WHERE %(where)s
            %(conflict)s
            RETURNING id, partner_id
            """,
            flow=self.id, company=company_id, trigger=trigger.id if trigger else None,
            event=event.id if event else None, lead=lead.id if lead else None,
            data=self.env["salesjet.flow.enrollment"]._fields["data"].convert_to_column(data, None) if data else None,
            key=key, now=now, uid=self.env.uid, partners=array_literal(partner_ids), where=where,
            # a run without re-entry key cannot conflict (the unique index is partial): no speculative
            # insertion, which costs a WAL record and an index probe per run
            conflict=SQL("ON CONFLICT (flow_id, partner_id, reentry_key) WHERE reentry_key IS NOT NULL DO NOTHING")
            if key else SQL(),
        )
        Job = self.env["salesjet.flow.job"]
        if first_step_id and due_at_once:
            # the runs and their first jobs in one statement: the runs' ids do not go to Python and back
            cron_id, check = Job._scheduler_check(now)
            with jit_off(self.env.cr, when=checked_batch):
                self.env.cr.execute(SQL(
                    # the scheduler's lock first, in a statement of its own (scheduler_check)
                    "%s WITH runs AS (%s), jobs AS (%s) SELECT r.id, COALESCE((%s), FALSE) FROM runs r",
                    SQL(f"{LOCK_QUEUE_SHARED};") if check else SQL(),
                    insert_runs,
                    insert_pending(SQL(
                        "SELECT r.id, %s::int, %s::int, r.partner_id, %s::int, %s::timestamp, 0 FROM runs r",
                        self.id, first_step_id, company_id, now), now),
                    check or SQL("SELECT FALSE"),
                ))
                rows = self.env.cr.fetchall()
            self._invalidate_engine_cache()
            if rows and rows[0][1]:
                self.env["ir.cron"].browse(cron_id)._trigger(at=now)
            return self.env["salesjet.flow.enrollment"].browse([row[0] for row in rows])
        with jit_off(self.env.cr, when=checked_batch):
            self.env.cr.execute(insert_runs)
            rows = self.env.cr.fetchall()
        enrollments = self.env["salesjet.flow.enrollment"].browse([row[0] for row in rows])
        if not first_step_id:
            self._hold_flows([self.id])
            self._invalidate_engine_cache()
            enrollments._finish("done", now)
            return enrollments
        dates = self._first_step()._compute_scheduled_dates(
            now, [(partner_id, company_id, now, enrollment_id) for enrollment_id, partner_id in rows])
        Job._create_pending([
            (enrollment_id, self.id, first_step_id, partner_id, company_id, date, 0)
            for (enrollment_id, partner_id), date in zip(rows, dates, strict=True)
        ])  # also drops the cached lists and counters of runs and jobs (_invalidate_engine_cache)
        return enrollments

    @api.model
    def _enroll_events(self, entries, savepoint=None):
        """``_enroll`` for events, many at once and in any flows (an event's hot path and the inbound API's
        batches): one statement enrols each entry's contact in its flow with its trigger, event, lead and
        data, and one more schedules every first step (``_create_pending``).

        Each flow's re-entry policy holds across the entries as across separate events: the statement's
        exclusions see the runs already stored, and the partial unique index on ``reentry_key``
        (``ON CONFLICT DO NOTHING``) keeps a second run of one contact in the same statement out.
        Flows that do not listen (draft, stopped, archived) enrol nobody.

        :param list entries: tuples ``(flow_id, partner_id, trigger_id, event_id, lead_id, data)``
        :param str savepoint: open a savepoint of this name in the same round trip, before the runs'
            statement (see ``salesjet.event._dispatch_direct``)
        :return: ``(enrollment id, event id)`` pairs of the new runs
        """
        infos = {flow_id: self._engine_info(flow_id) for flow_id in {entry[0] for entry in entries}}
        entries = [entry for entry in entries if infos[entry[0]][0]]
        if not entries:
            return []
        self.env.flush_all()
        now = fields.Datetime.now()
        columns = list(zip(*entries, strict=True))
        policies = [infos[flow_id][2] for flow_id in columns[0]]
        query = SQL(
            """
            %(savepoint)s
            INSERT INTO salesjet_flow_enrollment
                (flow_id, partner_id, company_id, trigger_id, event_id, lead_id, data, state,
                 reentry_key, date_start, create_uid, create_date, write_uid, write_date)
            SELECT t.f, t.p, t.c, t.tr, t.ev, t.ld, t.dt, 'running', t.k, %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM unnest(%(f)s::int[], %(p)s::int[], %(c)s::int[], %(tr)s::int[], %(ev)s::int[], %(ld)s::int[],
                          %(dt)s::jsonb[], %(pol)s::varchar[], %(k)s::varchar[])
                   WITH ORDINALITY AS t(f, p, c, tr, ev, ld, dt, pol, k, n)
             WHERE %(allowed)s
             ORDER BY t.n
            ON CONFLICT (flow_id, partner_id, reentry_key) WHERE reentry_key IS NOT NULL DO NOTHING
            RETURNING id, flow_id, partner_id, event_id
            """,
            savepoint=SQL("SAVEPOINT %s;", SQL.identifier(savepoint)) if savepoint else SQL(),
            allowed=reentry_allows(SQL("t.pol"), SQL("t.f"), SQL("t.p")),
            now=now, uid=self.env.uid, f=array_literal(columns[0]), p=array_literal(columns[1]),
            c=array_literal([infos[flow_id][1] for flow_id in columns[0]]),
            tr=array_literal([trigger_id or None for trigger_id in columns[2]]),
            ev=array_literal([event_id or None for event_id in columns[3]]),
            ld=array_literal([lead_id or None for lead_id in columns[4]]),
            dt=array_literal([json.dumps(data) if data else None for data in columns[5]]),
            pol=array_literal(policies), k=array_literal([REENTRY_KEYS[policy] for policy in policies]),
        )
        if not savepoint:
            self.env.cr.execute(query)
            return self._schedule_event_runs(infos, self.env.cr.fetchall(), now)
        try:
            self.env.cr.execute(query)
        except Exception:
            # sent and failed: the savepoint, opened first in the same round trip, exists
            if self.env.cr.connection.get_transaction_status() == TRANSACTION_STATUS_INERROR:
                self._rollback_to(savepoint)
            raise
        try:
            return self._schedule_event_runs(infos, self.env.cr.fetchall(), now)
        except Exception:
            self._rollback_to(savepoint)
            raise

    @api.model
    def _hold_flows(self, flow_ids):
        """Hold flows that runs were just inserted in without a first job (a flow without steps) as the runs' key
        would (HeldRunKey): a flow deleted since this transaction's cache read it fails the enrolment, and one
        being deleted waits for it (``FOR KEY SHARE``, until the transaction ends)."""
        flow_ids = sorted(set(flow_ids))
        self.env.cr.execute(SQL("SELECT id FROM salesjet_flow WHERE id = ANY(%s) FOR KEY SHARE",
                                array_literal(flow_ids)))
        if len(self.env.cr.fetchall()) != len(flow_ids):
            raise ValidationError(_("This flow was deleted while contacts were being enrolled in it."))

    @api.model
    def _rollback_to(self, savepoint):
        """Undo what was done since ``savepoint`` (as Odoo's savepoint does: the transaction's cache too)."""
        self.env.cr.clear()
        self.env.cr.execute(SQL("ROLLBACK TO SAVEPOINT %s", SQL.identifier(savepoint)))

    @api.model
    def _schedule_event_runs(self, infos, rows, now):
        """The first jobs of the runs ``_enroll_events`` inserted (``rows``: id, flow, partner, event), in one
        statement; runs of flows without steps end at once."""
        by_flow = {}
        for row in rows:
            by_flow.setdefault(row[1], []).append(row)
        jobs, finished = [], []
        for flow_id, flow_rows in by_flow.items():
            _listens, company_id, _policy, first_step_id, due_at_once = infos[flow_id]
            if not first_step_id:
                finished += [row[0] for row in flow_rows]
                continue
            if due_at_once:
                dates = [now] * len(flow_rows)
            else:
                dates = self.browse(flow_id)._first_step()._compute_scheduled_dates(
                    now, [(partner_id, company_id, now, run_id) for run_id, _f, partner_id, _e in flow_rows])
            jobs += [(enrollment_id, flow_id, first_step_id, partner_id, company_id, date, 0)
                     for (enrollment_id, _f, partner_id, _e), date in zip(flow_rows, dates, strict=True)]
        if finished:
            self._hold_flows([flow_id for flow_id in by_flow if not infos[flow_id][3]])
            self._invalidate_engine_cache()
            self.env["salesjet.flow.enrollment"].browse(finished)._finish("done", now)
        # also drops the cached lists and counters of runs and jobs (_invalidate_engine_cache)
        self.env["salesjet.flow.job"]._create_pending(jobs)
        return [(enrollment_id, event_id) for enrollment_id, _flow_id, _partner_id, event_id in rows]

    # ---- Export and import ----
    def action_export_json(self):
        """Download these flows as a JSON file another database can import."""
        if not self:
            raise UserError(_("Select the flows to export."))
        payload = self.env["salesjet.flow.transfer"].export_flows(self)
        name = self.name if len(self) == 1 else _("%s flows", len(self))
        attachment = self.env["ir.attachment"].create({
            "name": f"{name}.salesjet.json",
            "raw": json.dumps(payload, indent=2, ensure_ascii=False).encode(),
            "mimetype": "application/json",
            "res_model": self._name,
            "res_id": self[:1].id,
        })
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "download",
        }

    # ---- Diagram ----
    diagram_data = fields.Json(
        string="Diagram", compute="_compute_diagram_data",
        help="What the flow diagram draws: the triggers, then each step with its timing, conditions, "
             "repeat and live counts.",
    )

    @api.depends("trigger_ids", "trigger_ids.name", "step_ids", "step_ids.summary", "step_ids.active",
                 "step_ids.sequence", "step_ids.condition_ids", "step_ids.branch_id", "step_ids.branch_id.name")
    def _compute_diagram_data(self):
        counts = self._diagram_counts()
        actions = dict(self.env["salesjet.flow.step"]._fields["action_type"]._description_selection(self.env))
        stats = self.step_ids._diagram_message_stats()
        editable = self.env["salesjet.flow.step"].has_access("create")
        for flow in self:
            # unsaved steps after the saved ones of their sequence, as they will be once saved (ids grow):
            # the diagram opens a new step after saving by its rank among the new ones
            steps = flow.step_ids.sorted(lambda s: (s.sequence, not s.id, s.id or 0))
            nodes = []
            for step in steps:
                node = step._diagram_node(actions, counts.get(step.id, {}))
                if step.id in stats:
                    node["stats"] = stats[step.id]
                nodes.append(node)
            flow.diagram_data = {
                "triggers": [{"id": t.id or 0, "name": t.name or ""} for t in flow.trigger_ids],
                "steps": nodes,
                # the canvas offers its "+", drag and remove to who may change the flow
                "editable": editable,
            }
        self._diagram_place_branches()

    def _diagram_counts(self):
        """The job counts of every step of these flows, as the diagram shows them:
        ``{step id: {"pending": n, "done": n, "skipped": n, "failed": n, ...}}`` (a state without
        jobs may be missing). One query for all the steps: the counts are kept set-wise by the job table's
        triggers (salesjet.flow.step.stat), not counted from the jobs."""
        flow_ids = [flow_id for flow_id in self.ids if isinstance(flow_id, int)]
        if not flow_ids:
            return {}
        return self.env["salesjet.flow.step.stat"]._state_counts(flow_ids=flow_ids)

    # ---- Statistics ----
    stat_sent = fields.Integer(string="Emails sent", compute="_compute_flow_statistics")
    stat_opened_ratio = fields.Float(string="Opened (%)", compute="_compute_flow_statistics", digits=(5, 1))
    stat_clicked_ratio = fields.Float(string="Clicked (%)", compute="_compute_flow_statistics", digits=(5, 1))

    @api.depends("step_ids")
    def _compute_flow_statistics(self):
        for flow in self:
            steps = flow.step_ids.filtered("mailing_id")
            sent = sum(steps.mapped("stat_sent"))
            flow.stat_sent = sent
            flow.stat_opened_ratio = 100.0 * sum(steps.mapped("stat_opened")) / sent if sent else 0.0
            flow.stat_clicked_ratio = 100.0 * sum(steps.mapped("stat_clicked")) / sent if sent else 0.0

    statistics_data = fields.Json(
        string="Statistics charts", compute="_compute_statistics_data",
        help="What the statistics tab draws: the runs that reached each step (the funnel) and each step's jobs "
             "of the last 30 days, per UTC day, read from the step counters.",
    )

    def _compute_statistics_data(self):
        """One query on the counters for the totals of every step, one for their last 30 days."""
        Stat = self.env["salesjet.flow.step.stat"]
        last = fields.Datetime.now().date()
        days = [last - timedelta(days=offset) for offset in range(STATISTICS_DAYS - 1, -1, -1)]
        steps = self.step_ids.filtered("id")
        totals = Stat._totals(step_ids=steps.ids)
        daily = Stat._daily(steps.ids, days[0], last)
        kinds = ("entered", "done", "skipped", "failed")
        for flow in self:
            rows = []
            for step in flow.step_ids.filtered("id").sorted(lambda s: (s.sequence, s.id)):
                counts = totals.get(step.id, {})
                per_day = daily.get(step.id, {})
                rows.append({
                    "id": step.id, "name": step.display_name, "entered": counts.get("entered", 0),
                    "pending": counts.get("pending", 0),
                    "daily": {kind: [per_day.get(day, {}).get(kind, 0) for day in days] for kind in kinds},
                })
            flow.statistics_data = {
                "days": [fields.Date.to_string(day) for day in days],
                "runs": flow.enrollment_count,
                "steps": rows,
            }

    # ---- Webhooks ----
    webhook_secret = fields.Char(
        string="Webhook signing secret", copy=False, groups="salesjet_flows.group_salesjet_manager",
        help="Webhook steps of this flow sign each request with it: the X-SalesJet-Signature header is "
             "sha256=<hex HMAC-SHA256 of the body with this secret>. Give it to the receivers; regenerate it "
             "if it leaked.",
    )

    def action_regenerate_webhook_secret(self):
        """Replace the signing secret; receivers must get the new one."""
        self.check_access("write")
        for flow in self:
            flow.sudo().webhook_secret = secrets.token_hex(32)
            flow.message_post(body=_("Webhook signing secret regenerated by %s.", self.env.user.name))
        return True

    def _webhook_signing_secret(self):
        """The flow's secret, created on first use for flows that existed before webhooks."""
        self.ensure_one()
        flow = self.sudo()
        if not flow.webhook_secret:
            flow.webhook_secret = secrets.token_hex(32)
        return flow.webhook_secret

    # ---- Message chains ----
    # A flow of kind "message chain" holds messages; each one generates the step that sends it.
    chain_message_ids = fields.One2many("salesjet.chain.message", "flow_id", string="Chain messages", copy=False)
    chain_answer_count = fields.Integer(string="Answers", compute="_compute_chain_answer_count")

    def _compute_chain_answer_count(self):
        data = dict(self.env["salesjet.chain.answer"]._read_group(
            [("flow_id", "in", self.ids)], ["flow_id"], ["__count"]))
        for flow in self:
            flow.chain_answer_count = data.get(flow, 0)

    @api.constrains("kind", "reentry_policy")
    def _check_chain_reentry(self):
        for flow in self:
            if flow.kind == "chain" and flow.reentry_policy != "once":
                raise ValidationError(_("Message chain “%s” runs at most once per client: set its re-entry to "
                                        "“Once per contact”.", flow.name))

    def action_view_chain_answers(self):
        self.ensure_one()
        return self.env["salesjet.chain.answer"]._action_open([("flow_id", "=", self.id)])

    # ---- Goal ----
    # A flow's goal: contacts who reach it end their run as converted.
    goal_enabled = fields.Boolean(
        string="Track a goal",
        help="Runs of contacts who reach the goal end as converted; the Statistics tab counts them.",
    )
    goal_domain = fields.Char(
        string="Goal", default="[]",
        help="The contacts who reach this flow's goal, e.g. “has tag Customer” or “Sales orders is set”. "
             "When a running contact meets it, the run ends as converted and its waiting steps are cancelled. "
             "Checked before every batch of steps and by the goal scheduled action. Empty: no goal.",
    )
    converted_count = fields.Integer(string="Conversions", compute="_compute_conversions")
    conversion_rate = fields.Float(string="Conversion rate (%)", compute="_compute_conversions", digits=(5, 1))

    @api.constrains("goal_domain")
    def _check_goal_domain(self):
        for flow in self:
            try:
                self._probe_goal(flow.goal_domain if flow.goal_enabled else None)
            except (ValueError, SyntaxError, TypeError, KeyError) as e:
                raise ValidationError(_("Flow “%(flow)s”: the goal is not a valid filter on contacts (%(error)s).",
                                        flow=flow.name, error=e)) from e

    @api.model
    def _probe_goal(self, text):
        """Raise the error that the goal ``text`` (a flow's or a split's) would raise when evaluated."""
        self.env["res.partner"].search_count(parse_goal(text), limit=1)

    @api.model
    def _goal_reached_by(self, goal, partner_ids):
        """The ids of ``partner_ids`` that meet ``goal`` (a domain on contacts; None: no goal), archived contacts
        included, with one query: how a goal is evaluated on given contacts (a split's branches, the test run)."""
        if goal is None or not partner_ids:
            return set()
        return set(self.env["res.partner"].with_context(active_test=False)._search(
            expression.AND([goal, [("id", "in", list(partner_ids))]])))

    def _goal_domain(self):
        """The goal as a domain on res.partner, or None when the flow has no goal."""
        self.ensure_one()
        if not self.goal_enabled:
            return None
        return parse_goal(self.goal_domain) or None

    @api.model
    def _enable_goal_with_domain(self, vals):
        # giving a goal (from code, an import or a template) turns it on, unless said otherwise
        if vals.get("goal_domain") not in (None, False, "", "[]") and "goal_enabled" not in vals:
            vals["goal_enabled"] = True

    def _compute_conversions(self):
        data = {
            flow.id: count for flow, count in self.env["salesjet.flow.enrollment"]._read_group(
                [("flow_id", "in", self.ids), ("converted", "=", True)], ["flow_id"], ["__count"])
        }
        for flow in self:
            flow.converted_count = data.get(flow.id, 0)
            flow.conversion_rate = (100.0 * flow.converted_count / flow.enrollment_count
                                    if flow.enrollment_count else 0.0)

    def _convert_reached(self, enrollments=None, now=None, limit=None):
        """End as converted the running runs of this flow (or of ``enrollments``) whose contact meets the goal.

        One query finds them, whatever their number. Returns the converted runs.
        """
        self.ensure_one()
        Enrollment = self.env["salesjet.flow.enrollment"]
        goal = self._goal_domain()
        if not goal:
            return Enrollment
        domain = [("flow_id", "=", self.id), ("state", "=", "running"),
                  ("partner_id", "any", expression.AND([goal, [("active", "in", (True, False))]]))]
        if enrollments is not None:
            domain.append(("id", "in", enrollments.ids))
        reached = Enrollment.search(domain, limit=limit, order="id")
        reached._convert(now)
        return reached

    @api.model
    def _cron_check_goals(self):
        """Scheduled action: convert the running runs whose contact reached its flow's goal (one query per flow),
        for one call's time budget."""
        flows = self.search([("goal_enabled", "=", True), ("goal_domain", "not in", (False, "", "[]"))])
        more = [False]

        def run_batch(limit):
            converted = 0
            for flow in flows:
                converted += len(flow._convert_reached(limit=limit - converted))
                if converted >= limit:
                    break
            more[0] = converted >= limit
            return converted

        return self.env["salesjet.cron"]._run_batches(run_batch, lambda: int(more[0]), GOAL_BATCH_SIZE,
                                                      key="salesjet.flow.goal")

    # ---- A/B splits ----
    def _diagram_place_branches(self):
        """Draw each branch's steps right after their split, their title prefixed with the branch; each
        split's node lists its branches (id, name, share, winner) for the canvas' columns."""
        for flow in self:
            steps = flow.step_ids
            splits = {step.id: step for step in steps if step.action_type == "split" and isinstance(step.id, int)}
            nodes = flow.diagram_data["steps"]  # (a copy: the field is assigned again below)
            for node in nodes:
                split = splits.get(node["id"])
                if split:
                    node["branches"] = [{
                        "id": branch.id, "name": branch.name or "", "percentage": branch.percentage,
                        "winner": split.split_winner_id == branch,
                    } for branch in split.branch_ids.sorted(lambda b: (b.sequence, b.id))
                        if isinstance(branch.id, int)]
            if not any(steps.mapped("branch_id")):
                if splits:
                    flow.diagram_data = dict(flow.diagram_data, steps=nodes)
                continue
            by_id = {step.id if isinstance(step.id, int) else 0: step for step in steps}
            main, branched = [], {}
            for node in nodes:
                branch = by_id[node["id"]].branch_id if node["id"] in by_id else False
                if branch:
                    node["branch"] = branch.name
                    node["card_title"] = node["title"]
                    node["title"] = _("Branch %(branch)s › %(title)s", branch=branch.name, title=node["title"])
                    branched.setdefault(branch.split_step_id.id, []).append(node)
                else:
                    main.append(node)
            ordered = []
            for node in main:
                ordered.append(node)
                ordered += branched.pop(node["id"], [])
            ordered += [node for group in branched.values() for node in group]
            flow.diagram_data = dict(flow.diagram_data, steps=ordered)

    # ---- Frequency caps ----
    cap_policy = fields.Selection(
        CAP_POLICIES, string="Frequency caps", required=True, default="company",
        help="Which caps limit the messages of this flow. Messages are counted across all flows in any case.")
    # the same caps as the company's (res.company salesjet_cap_*), for a flow with its own
    cap_email_day = fields.Integer(
        string="Emails per day", default=0,
        help="At most this many emails per contact in the last 24 hours, all flows together; 0: no cap.")
    cap_email_week = fields.Integer(
        string="Emails per week", default=0,
        help="At most this many emails per contact in the last 7 days, all flows together; 0: no cap.")
    cap_sms_day = fields.Integer(
        string="SMS per day", default=0,
        help="At most this many SMS per contact in the last 24 hours, all flows together; 0: no cap.")
    cap_sms_week = fields.Integer(
        string="SMS per week", default=0,
        help="At most this many SMS per contact in the last 7 days, all flows together; 0: no cap.")
    cap_call_day = fields.Integer(
        string="Calls per day", default=0,
        help="At most this many calls per contact in the last 24 hours, all flows together; 0: no cap.")
    cap_call_week = fields.Integer(
        string="Calls per week", default=0,
        help="At most this many calls per contact in the last 7 days, all flows together; 0: no cap.")

    def _cap_limits(self, company):
        """{channel: (per day, per week)} for this flow's jobs in ``company``; 0 means no cap."""
        self.ensure_one()
        if self.cap_policy == "none":
            return {}
        source, prefix = (self, "cap") if self.cap_policy == "custom" else (company, "salesjet_cap")
        return {channel: (source[f"{prefix}_{channel}_day"], source[f"{prefix}_{channel}_week"])
                for channel in CAP_CHANNELS.values()}

    # ---- Versions and safe edits ----
    version_ids = fields.One2many("salesjet.flow.version", "flow_id", string="Versions")
    paused = fields.Boolean(
        tracking=True, copy=False,
        help="A paused flow runs no step: events still enrol contacts, whose steps wait with their dates; "
             "on resume, steps whose time has passed run at once.")

    # -- versions ---------------------------------------------------------------

    def _note_change(self, text):
        """Remember ``text`` for the version of these flows written when the transaction commits."""
        if self.env.context.get("install_mode") or self.env.context.get("salesjet_no_version"):
            return
        data = self.env.cr.precommit.data.setdefault(VERSION_DATA_KEY, {})
        if not data:
            self.env.cr.precommit.add(self._write_versions)
        for flow in self:
            if isinstance(flow.id, int):
                data.setdefault(flow.id, {"uid": self.env.uid, "lines": []})["lines"].append(text)

    def _write_versions(self):
        data = self.env.cr.precommit.data.pop(VERSION_DATA_KEY, {})
        flows = self.env["salesjet.flow"].sudo().with_context(active_test=False).browse(list(data)).exists()
        Transfer = self.env["salesjet.flow.transfer"].sudo()
        vals = []
        for flow in flows:
            lines = list(dict.fromkeys(data[flow.id]["lines"]))  # each change once, in order
            vals.append({"flow_id": flow.id, "user_id": data[flow.id]["uid"],
                         "summary": "\n".join(lines[:30]) + ("\n…" if len(lines) > 30 else ""),
                         "snapshot": Transfer.export_flows(flow)})
        self.env["salesjet.flow.version"].sudo().create(vals)

    def _version_fields(self, vals):
        # chatter and activity bookkeeping is not a change of the flow
        return [self._fields[name].string for name in vals
                if name in self._fields and name not in ENGINE_FIELDS and name not in ("paused", "step_ids")
                and not name.startswith(("message_", "activity_", "website_message"))]

    # -- pause ------------------------------------------------------------------

    def action_pause(self):
        self.write({"paused": True})
        for flow in self:
            flow.message_post(body=_("Paused by %s: no step runs until the flow is resumed.", self.env.user.name))
        return True

    def action_resume(self):
        self.write({"paused": False})
        for flow in self:
            flow.message_post(body=_("Resumed by %s: waiting steps run at their dates, overdue ones now.",
                                     self.env.user.name))
        # steps whose time passed while paused are due now
        self.env["salesjet.flow.job"]._trigger_scheduler(fields.Datetime.now())
        return True

    # ---- Flow kinds ----
    suggested_trigger_type = fields.Char(
        string="Suggested trigger", compute="_compute_suggestions",
        help="The trigger type a new trigger of this flow starts with, from the flow's kind.")
    suggested_condition_type = fields.Char(
        string="Suggested condition", compute="_compute_suggestions",
        help="The condition type a new condition of this flow's steps starts with, from the flow's kind.")
    kind_hint = fields.Char(string="Usual triggers", compute="_compute_suggestions")

    @api.model
    def _kind_suggestions(self):
        """{kind: (trigger types, condition types)}, the most usual first. Types of modules that are not
        installed are passed over, so a bridge can name its types here or add them by extending this."""
        return {
            "manual": (["segment", "api"], ["tag", "attribute"]),
            "page": (["page_visit", "website_form", "page_leave", "file_download"], ["page_visited", "last_form"]),
            "funnel": (["page_visit", "website_form", "page_leave"], ["in_funnel", "page_visited"]),
            "training": (["course_enrolled", "course_started", "lesson_completed", "course_completed",
                          "course_inactive", "api"],
                         ["course_member", "course_started", "course_completed", "lesson_completed",
                          "course_activity", "tag"]),
            "facebook": (["facebook_lead"], ["last_form", "attribute"]),
            "loyalty": (["loyalty_purchase", "loyalty_registration", "loyalty_date"], ["tag", "purchased_product"]),
            "chain": (["landing_signup", "api"], ["tag"]),
        }

    @api.depends("kind")
    def _compute_suggestions(self):
        Trigger, Condition = self.env["salesjet.flow.trigger"], self.env["salesjet.flow.condition"]
        trigger_labels = dict(Trigger._fields["trigger_type"]._description_selection(self.env))
        condition_types = dict(Condition._fields["condition_type"]._description_selection(self.env))
        suggestions = self._kind_suggestions()
        for flow in self:
            triggers, conditions = suggestions.get(flow.kind, ([], []))
            triggers = [t for t in triggers if t in trigger_labels]
            conditions = [c for c in conditions if c in condition_types]
            flow.suggested_trigger_type = triggers[0] if triggers else "segment"
            flow.suggested_condition_type = conditions[0] if conditions else "tag"
            flow.kind_hint = _("Usual triggers for this kind: %s. Any other can be chosen.",
                               ", ".join(trigger_labels[t] for t in triggers)) if triggers else False

    def action_open_test_run(self):
        """Open the test run wizard on this flow."""
        self.ensure_one()
        run = self.env["salesjet.flow.test.run"].create({"flow_id": self.id})
        return run._reopen()
