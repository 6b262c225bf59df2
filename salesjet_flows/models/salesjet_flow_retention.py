"""Retention: ended jobs older than a setting are deleted in bounded batches by a scheduled action.

The step counters (``salesjet.flow.step.stat``) count every job from its creation, through the job table's
triggers (and, for jobs older than the counters, once when they were installed): there is nothing left to
roll up when an ended job is deleted, and the delete trigger leaves ended jobs' counts alone. Statistics,
skip reasons and conversions therefore read the same before and after a purge.

What is kept:

- failed jobs (someone has to look at them) and waiting jobs;
- the jobs of split steps and of the steps inside a split's branches: an A/B test's figures are computed from
  its contacts (sent, opens and clicks through their traces, the split's goal), so its jobs are its evidence;
- the runs themselves (one row per run: the flow's runs, completions and conversions count them); a run that
  started within the retention period still shows every one of its jobs.
"""
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

DEFAULT_RETENTION_DAYS = 180

RETENTION_BATCH_SIZE = 5000

PURGED_STATES = ("done", "skipped", "cancelled")


class SalesjetFlowRetention(models.AbstractModel):
    _name = "salesjet.flow.retention"
    _description = "SalesJet Flows: retention of ended jobs"

    def init(self):
        self.pool.post_init(self._create_index)

    def _create_index(self):
        # the purge walks the ended jobs by age; waiting jobs stay out of the index
        self.env.cr.execute(SQL("""
            CREATE INDEX IF NOT EXISTS salesjet_flow_job_ended_idx
                ON salesjet_flow_job (date_done) WHERE state IN ('done', 'skipped', 'cancelled')
        """))

    @api.model
    def _retention_days(self):
        """Days ended jobs are kept (``salesjet_flows.job_retention_days``, 180 by default; 0 keeps them)."""
        try:
            days = int(self.env["ir.config_parameter"].sudo().get_param(
                "salesjet_flows.job_retention_days", DEFAULT_RETENTION_DAYS))
        except ValueError:
            days = DEFAULT_RETENTION_DAYS
        return max(days, 0)

    @api.model
    def _purgeable(self):
        """SQL condition on ``salesjet_flow_job``: an ended job older than the retention period, or None."""
        days = self._retention_days()
        if not days:
            return None
        self.env["salesjet.flow.step"].flush_model(["action_type", "branch_id"])
        self.env.cr.execute(SQL(
            "SELECT id FROM salesjet_flow_step WHERE action_type = 'split' OR branch_id IS NOT NULL"))
        kept = [row[0] for row in self.env.cr.fetchall()]
        return SQL(
            "state IN %s AND date_done < %s AND %s",
            PURGED_STATES, fields.Datetime.now() - timedelta(days=days),
            SQL("step_id <> ALL(%s)", kept) if kept else SQL("TRUE"),
        )

    @api.model
    def _purge_batch(self, limit):
        """Delete at most ``limit`` purgeable jobs (``FOR UPDATE SKIP LOCKED``: never a job a worker holds),
        then fold old counter slots with what the batch leaves; returns rows handled. Does not commit."""
        self.env["salesjet.flow.job"].flush_model()
        done = 0
        condition = self._purgeable()
        if condition is not None:
            self.env.cr.execute(SQL(
                """
                DELETE FROM salesjet_flow_job WHERE id IN (
                    SELECT id FROM salesjet_flow_job WHERE %s ORDER BY date_done LIMIT %s FOR UPDATE SKIP LOCKED)
                """,
                condition, limit,
            ))
            done = self.env.cr.rowcount
            self.env["salesjet.flow.job"].invalidate_model()
        if done < limit:
            done += self.env["salesjet.flow.step.stat"]._fold_slots(limit - done)
        return done

    @api.model
    def _count_purgeable(self):
        condition = self._purgeable()
        Cron = self.env["salesjet.cron"]
        remaining = Cron._count_capped(SQL("SELECT 1 FROM salesjet_flow_job WHERE %s", condition)) \
            if condition is not None else 0
        return remaining + self.env["salesjet.flow.step.stat"]._count_unfolded()

    @api.model
    def _cron_purge_ended_jobs(self):
        """Scheduled action: delete ended jobs older than the retention period, batch by batch within one call's
        time budget (``salesjet.cron``), committing after each batch and reporting what remains."""
        return self.env["salesjet.cron"]._run_batches(
            self._purge_batch, self._count_purgeable, RETENTION_BATCH_SIZE, key="salesjet.flow.retention")
