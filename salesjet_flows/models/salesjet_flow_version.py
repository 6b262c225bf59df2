"""Safe edits of running flows: versions of every change, pause and resume, and
rescheduling the contacts who wait on a step whose timing changed.

Versions are written once per transaction and flow (a precommit hook), however
many records of the flow the change touched: the snapshot is the flow's JSON
export (``salesjet.flow.transfer.export_flows``) and the summary lists what changed.
"""
import json

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

VERSION_DATA_KEY = "salesjet_flows.versions"
# Written by the engine, not by people: no version for them.
ENGINE_FIELDS = {"split_started", "split_winner_id", "split_ended", "mailing_id", "mail_template_id",
                 "write_date", "write_uid"}


class SalesjetFlowVersion(models.Model):
    _name = "salesjet.flow.version"
    _description = "Flow Version"
    _order = "date desc, id desc"

    flow_id = fields.Many2one("salesjet.flow", string="Flow", required=True, ondelete="cascade", index=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now)
    user_id = fields.Many2one("res.users", string="Changed by", required=True, default=lambda self: self.env.user)
    summary = fields.Text(help="What changed in this version.")
    snapshot = fields.Json(string="Snapshot", help="The flow as it was after the change, as its JSON export.")
    snapshot_text = fields.Text(string="Snapshot (readable)", compute="_compute_snapshot_text")

    def _compute_snapshot_text(self):
        for version in self:
            version.snapshot_text = json.dumps(version.snapshot, indent=2, ensure_ascii=False) if version.snapshot else ""


class SalesjetFlow(models.Model):
    _inherit = "salesjet.flow"

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

    @api.model_create_multi
    def create(self, vals_list):
        flows = super().create(vals_list)
        for flow in flows:
            flow._note_change(_("Flow created."))
        return flows

    def write(self, vals):
        restored = self.filtered(lambda f: not f.active) if vals.get("active") else self.browse()
        res = super().write(vals)
        changed = self._version_fields(vals)
        if changed:
            self._note_change(_("Flow changed: %s.", ", ".join(changed)))
        if restored:
            # an archived flow was held like a paused one: restoring it resumes it
            self.env["salesjet.flow.job"]._trigger_scheduler(fields.Datetime.now())
        return res

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


class SalesjetFlowJob(models.Model):
    _inherit = "salesjet.flow.job"

    @api.model
    def _due_filter(self):
        """Leave the jobs of paused and archived flows waiting. The list of held flows is read first
        (a tiny table), so without one the scheduler's query is exactly what it was."""
        self.env["salesjet.flow"].flush_model(["paused", "active"])
        self.env.cr.execute(SQL("SELECT id FROM salesjet_flow WHERE paused OR NOT active"))
        paused = [row[0] for row in self.env.cr.fetchall()]
        if not paused:
            return super()._due_filter()
        return SQL("%s AND flow_id <> ALL(%s)", super()._due_filter(), paused)


class SalesjetFlowStep(models.Model):
    _inherit = "salesjet.flow.step"

    waiting_info = fields.Char(compute="_compute_waiting_info")

    @api.depends("pending_job_count")
    def _compute_waiting_info(self):
        for step in self:
            count = step.pending_job_count if isinstance(step.id, int) else 0
            step.waiting_info = _("%s contacts wait on this step.", count) if count else False

    # -- versions ---------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        steps = super().create(vals_list)
        for step in steps:
            step.flow_id._note_change(_("Step added: %s.", step.display_name))
        return steps

    def write(self, vals):
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
            self.env.cr.execute(SQL(
                """
                UPDATE salesjet_flow_job j SET scheduled_date = v.d, write_date = %(now)s, write_uid = %(uid)s
                  FROM unnest(%(ids)s::int[], %(dates)s::timestamp[]) AS v(id, d)
                 WHERE j.id = v.id AND j.state = 'pending'
                """,
                now=now, uid=self.env.uid, ids=[r[0] for r in rows], dates=dates,
            ))
            total += len(rows)
            self.env["salesjet.flow.job"]._trigger_scheduler(min(dates))
            step.flow_id._note_change(_("%(count)s waiting contacts of step %(step)s rescheduled with its new timing.",
                                        count=len(rows), step=step.display_name))
        self.env["salesjet.flow.job"].invalidate_model(["scheduled_date", "write_date", "write_uid"])
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
                                         for r, date in zip(rows, dates)])
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


class SalesjetFlowTrigger(models.Model):
    _inherit = "salesjet.flow.trigger"

    @api.model_create_multi
    def create(self, vals_list):
        triggers = super().create(vals_list)
        for trigger in triggers:
            trigger.flow_id._note_change(_("Trigger added: %s.", trigger.display_name))
        return triggers

    def write(self, vals):
        res = super().write(vals)
        for trigger in self:
            trigger.flow_id._note_change(_("Trigger %s changed.", trigger.display_name))
        return res

    def unlink(self):
        for trigger in self.exists():
            trigger.flow_id._note_change(_("Trigger removed: %s.", trigger.display_name))
        return super().unlink()


class SalesjetFlowCondition(models.Model):
    _inherit = "salesjet.flow.condition"

    def _note_condition_change(self, text):
        for condition in self:
            condition.step_id.flow_id._note_change(_("%(what)s on step %(step)s.", what=text,
                                                     step=condition.step_id.display_name))

    @api.model_create_multi
    def create(self, vals_list):
        conditions = super().create(vals_list)
        conditions._note_condition_change(_("Condition added"))
        return conditions

    def write(self, vals):
        res = super().write(vals)
        self._note_condition_change(_("Condition changed"))
        return res

    def unlink(self):
        self.exists()._note_condition_change(_("Condition removed"))
        return super().unlink()
