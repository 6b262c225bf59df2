from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError
from odoo.tools import SQL

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

LAUNCH_BATCH_SIZE = 10000


class SalesjetFlow(models.Model):
    _name = "salesjet.flow"
    _description = "Marketing Flow"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True, tracking=True)
    sequence = fields.Integer(default=10)
    kind = fields.Selection(
        FLOW_KINDS, string="Kind", required=True, default="manual", tracking=True,
        help="Decides what the forms offer first: a new trigger and a new step condition start with the kind's "
             "usual type (Page: page visits and forms; Funnel: the funnel's pages and “Visited the funnel”; "
             "Training: course triggers and conditions; Facebook lead form: Facebook leads; Loyalty scenario: "
             "purchases; Message chain: landing page sign-ups). Any type can still be chosen.",
    )
    description = fields.Html(translate=True)
    active = fields.Boolean(default=True, tracking=True)
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
        data = {
            (flow.id, state): count
            for flow, state, count in self.env["salesjet.flow.job"]._read_group(
                [("flow_id", "in", self.ids)], ["flow_id", "state"], ["__count"],
            )
        }
        for flow in self:
            flow.job_count = sum(count for (flow_id, _state), count in data.items() if flow_id == flow.id)
            flow.pending_job_count = data.get((flow.id, "pending"), 0)
            flow.failed_job_count = data.get((flow.id, "failed"), 0)

    @api.depends("trigger_ids.trigger_type")
    def _compute_has_segment_trigger(self):
        for flow in self:
            flow.has_segment_trigger = "segment" in flow.trigger_ids.mapped("trigger_type")

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()  # the trigger cache follows active flows
        return super().create(vals_list)

    def write(self, vals):
        if {"active", "company_id", "reentry_policy"} & set(vals):
            self.env.registry.clear_cache()  # triggers and _engine_info
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()

    def copy_data(self, default=None):
        vals_list = super().copy_data(default=default)
        return [dict(vals, name=_("%s (copy)", flow.name)) for flow, vals in zip(self, vals_list)]

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
    def _invalidate_engine_cache(self):
        """Runs and jobs are written with SQL: drop the cached lists and counters that show them."""
        self.env["salesjet.flow"].invalidate_model([
            "enrollment_ids", "enrollment_count", "running_count", "done_count",
            "job_count", "pending_job_count", "failed_job_count",
        ])
        self.env["salesjet.flow.step"].invalidate_model([
            "job_ids", "pending_job_count", "done_job_count", "skipped_job_count", "failed_job_count",
        ])
        self.env["salesjet.flow.enrollment"].invalidate_model(["job_ids", "current_step_id", "next_date"])
        self.env["salesjet.event"].invalidate_model(["enrollment_ids", "enrollment_count"])

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
        (active, company id, re-entry policy, first step id, whether that step is due at once).

        Cleared when a flow's state, company or policy changes and when steps change (see write).
        """
        flow = self.sudo().with_context(active_test=False).browse(flow_id)
        flow.fetch(["active", "company_id", "reentry_policy"])
        # steps of a split's branches are not on the main chain (see salesjet_flow_split.py)
        step = self.env["salesjet.flow.step"].sudo().search(
            [("flow_id", "=", flow_id), ("branch_id", "=", False)], order="sequence, id", limit=1)
        return (flow.active, flow.company_id.id, flow.reentry_policy, step.id, bool(step) and step._due_at_once())

    def _launch_segment(self, trigger):
        """Enrol every contact matched by ``trigger``'s segment, batch by batch.

        Contacts are read by id ranges and inserted with one statement per
        batch. Contacts who already have a running enrolment in this flow are
        left alone, so launching twice (or again after a crash) is harmless.

        :return: number of new enrolments
        """
        self.ensure_one()
        Partner = self.env["res.partner"].with_company(self.company_id)
        # the launch runs as superuser: keep to the contacts the flow's company may see
        domain = trigger._get_partner_domain() + [("company_id", "in", [False, self.company_id.id])]
        last_id, total = 0, 0
        while True:
            partner_ids = Partner.search(domain + [("id", ">", last_id)], order="id", limit=LAUNCH_BATCH_SIZE).ids
            if not partner_ids:
                break
            last_id = partner_ids[-1]
            total += len(self._enroll(partner_ids, trigger=trigger, skip_running=True))
        if total:
            self.message_post(body=_("Launched for %(count)s contacts (segment “%(trigger)s”).",
                                     count=total, trigger=trigger.display_name))
        return total

    def _enroll(self, partner_ids, trigger=None, event=None, lead=None, data=None, skip_running=False):
        """Enrol contacts in this flow, set-based, and schedule each run's first step.

        The re-entry policy is enforced in the statement itself (and by the
        partial unique index on ``reentry_key`` when two transactions race).

        :param list partner_ids: ids of ``res.partner``
        :param skip_running: also skip contacts who have a running enrolment
        :return: the new ``salesjet.flow.enrollment`` records
        """
        self.ensure_one()
        active, company_id, policy, first_step_id, due_at_once = self._engine_info(self.id)
        if not partner_ids or not active:
            return self.env["salesjet.flow.enrollment"]
        self.env.flush_all()
        now = fields.Datetime.now()
        exclusions = []
        if policy == "once":
            exclusions.append(SQL("SELECT 1 FROM salesjet_flow_enrollment e WHERE e.flow_id = %s AND e.partner_id = p.id", self.id))
        elif policy == "no_active" or skip_running:
            exclusions.append(SQL(
                "SELECT 1 FROM salesjet_flow_enrollment e WHERE e.flow_id = %s AND e.partner_id = p.id AND e.state = 'running'",
                self.id,
            ))
        where = SQL(" AND ").join([SQL("NOT EXISTS (%s)", excl) for excl in exclusions]) if exclusions else SQL("TRUE")
        self.env.cr.execute(SQL(
            """
            INSERT INTO salesjet_flow_enrollment
                (flow_id, partner_id, company_id, trigger_id, event_id, lead_id, data, state,
                 reentry_key, date_start, create_uid, create_date, write_uid, write_date)
            SELECT %(flow)s, p.id, %(company)s, %(trigger)s, %(event)s, %(lead)s, %(data)s, 'running',
                   %(key)s, %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM unnest(%(partners)s::int[]) AS p(id)
             WHERE %(where)s
            ON CONFLICT (flow_id, partner_id, reentry_key) WHERE reentry_key IS NOT NULL DO NOTHING
            RETURNING id, partner_id
            """,
            flow=self.id, company=company_id, trigger=trigger.id if trigger else None,
            event=event.id if event else None, lead=lead.id if lead else None,
            data=self.env["salesjet.flow.enrollment"]._fields["data"].convert_to_column(data, None) if data else None,
            key=REENTRY_KEYS[policy], now=now, uid=self.env.uid,
            partners=list(partner_ids), where=where,
        ))
        rows = self.env.cr.fetchall()
        enrollments = self.env["salesjet.flow.enrollment"].browse([row[0] for row in rows])
        if not first_step_id:
            self._invalidate_engine_cache()
            enrollments._finish("done", now)
            return enrollments
        if due_at_once:
            dates = [now] * len(rows)
        else:
            dates = self._first_step()._compute_scheduled_dates(
                now, [(partner_id, company_id, now, enrollment_id) for enrollment_id, partner_id in rows])
        self.env["salesjet.flow.job"]._create_pending([
            (enrollment_id, self.id, first_step_id, partner_id, company_id, date, 0)
            for (enrollment_id, partner_id), date in zip(rows, dates)
        ])  # also drops the cached lists and counters of runs and jobs (_invalidate_engine_cache)
        return enrollments
