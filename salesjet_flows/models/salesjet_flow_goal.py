import ast

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.osv import expression
from odoo.tools import SQL

GOAL_BATCH_SIZE = 1000


def parse_goal(text):
    """A goal as a goal field holds it (a domain on res.partner, as the domain widget writes it) as a domain
    list, ``[]`` when empty. The one reading of goal texts: the flow's goal and a split's goal.

    Raises ``ValueError``/``SyntaxError`` when the text is not a literal domain.
    """
    return ast.literal_eval(text or "[]")


class SalesjetFlow(models.Model):
    """A flow's goal: contacts who reach it end their run as converted."""
    _inherit = "salesjet.flow"

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

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._enable_goal_with_domain(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._enable_goal_with_domain(vals)
        return super().write(vals)

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
            flow.conversion_rate = 100.0 * flow.converted_count / flow.enrollment_count if flow.enrollment_count else 0.0

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


class SalesjetFlowEnrollment(models.Model):
    _inherit = "salesjet.flow.enrollment"

    converted = fields.Boolean(readonly=True, copy=False, help="The contact reached the flow's goal during this run.")
    date_converted = fields.Datetime(string="Converted on", readonly=True, copy=False)

    def _convert(self, now=None):
        """End these running runs as converted: waiting jobs are cancelled, the run is completed."""
        runs = self.filtered(lambda e: e.state == "running")
        if not runs:
            return
        now = now or fields.Datetime.now()
        self.env.flush_all()
        self.env.cr.execute(SQL(
            """
            UPDATE salesjet_flow_job SET state = 'cancelled', result = %(reason)s, date_done = %(now)s,
                   write_date = %(now)s
             WHERE enrollment_id = ANY(%(ids)s) AND state = 'pending'
            """,
            reason=_("Goal reached: the run ended as converted."), now=now, ids=runs.ids,
        ))
        self.env.cr.execute(SQL(
            "UPDATE salesjet_flow_enrollment SET converted = TRUE, date_converted = %s WHERE id = ANY(%s)",
            now, runs.ids,
        ))
        self.env["salesjet.flow.job"].invalidate_model(["state", "result", "date_done"])
        runs.invalidate_recordset(["converted", "date_converted"])
        runs._finish("done", now)


class SalesjetFlowJob(models.Model):
    _inherit = "salesjet.flow.job"

    def _batch_apply_goal(self, batch):
        # Goal check before a batch runs, one query per flow of the batch: a run
        # whose contact reached the goal ends as converted, and the engine then
        # cancels its jobs of this batch as jobs of an ended run.
        super()._batch_apply_goal(batch)
        for flow, jobs in batch.jobs.grouped("flow_id").items():
            if flow.goal_enabled and flow.goal_domain and flow.goal_domain != "[]":
                flow._convert_reached(jobs.enrollment_id, batch.now)


class SalesjetFlowStep(models.Model):
    _inherit = "salesjet.flow.step"

    converted_count = fields.Integer(
        string="Converted", compute="_compute_converted_count",
        help="Runs that went through this step (done) and then reached the flow's goal.",
    )

    def _compute_converted_count(self):
        counts = {}
        step_ids = [s for s in self.ids if isinstance(s, int)]
        if step_ids:
            self.env.flush_all()
            self.env.cr.execute(SQL(
                """
                SELECT j.step_id, count(DISTINCT j.enrollment_id) FROM salesjet_flow_job j
                  JOIN salesjet_flow_enrollment e ON e.id = j.enrollment_id
                 WHERE j.step_id = ANY(%s) AND j.state = 'done' AND e.converted
                 GROUP BY j.step_id
                """, step_ids))
            counts = dict(self.env.cr.fetchall())
        for step in self:
            step.converted_count = counts.get(step.id, 0)
