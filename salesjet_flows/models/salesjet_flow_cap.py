"""Frequency caps: at most N messages per contact and channel per day and per week,
counted across every flow, with company limits and an optional per-flow override.

A batch costs one query: the message jobs done for its contacts in the last 7
days. The batch's own jobs are then counted in order (scheduled date, id), so
the third email of a contact in one batch is caught as well.
"""
from datetime import timedelta

from odoo import _, fields, models
from odoo.tools import SQL

# Step types that send a message, and the channel each one counts against; a chain message
# step counts against its message's channel (email or SMS).
CAP_CHANNELS = {"email": "email", "sms": "sms", "call": "call"}
CAPPED_TYPES = [*CAP_CHANNELS, "chain_message"]
CAP_MODES = [("postpone", "Postpone to the next allowed moment"), ("skip", "Skip the step")]
CAP_POLICIES = [("company", "The company's caps"), ("custom", "Caps of this flow"), ("none", "No caps")]
DAY, WEEK = timedelta(days=1), timedelta(days=7)


class ResCompany(models.Model):
    _inherit = "res.company"

    # one cap per channel of CAP_CHANNELS and period (0 = no cap)
    salesjet_cap_email_day = fields.Integer(
        string="Emails per day", default=0,
        help="At most this many emails per contact in the last 24 hours, all flows together; 0: no cap.")
    salesjet_cap_email_week = fields.Integer(
        string="Emails per week", default=0,
        help="At most this many emails per contact in the last 7 days, all flows together; 0: no cap.")
    salesjet_cap_sms_day = fields.Integer(
        string="SMS per day", default=0,
        help="At most this many SMS per contact in the last 24 hours, all flows together; 0: no cap.")
    salesjet_cap_sms_week = fields.Integer(
        string="SMS per week", default=0,
        help="At most this many SMS per contact in the last 7 days, all flows together; 0: no cap.")
    salesjet_cap_call_day = fields.Integer(
        string="Calls per day", default=0,
        help="At most this many calls per contact in the last 24 hours, all flows together; 0: no cap.")
    salesjet_cap_call_week = fields.Integer(
        string="Calls per week", default=0,
        help="At most this many calls per contact in the last 7 days, all flows together; 0: no cap.")
    salesjet_cap_mode = fields.Selection(
        CAP_MODES, string="When a cap is reached", default="postpone",
        help="Postpone: the step waits until the contact may receive it again. Skip: the step is skipped "
             "and the run goes on.")


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    salesjet_cap_email_day = fields.Integer(related="company_id.salesjet_cap_email_day", readonly=False)
    salesjet_cap_email_week = fields.Integer(related="company_id.salesjet_cap_email_week", readonly=False)
    salesjet_cap_sms_day = fields.Integer(related="company_id.salesjet_cap_sms_day", readonly=False)
    salesjet_cap_sms_week = fields.Integer(related="company_id.salesjet_cap_sms_week", readonly=False)
    salesjet_cap_call_day = fields.Integer(related="company_id.salesjet_cap_call_day", readonly=False)
    salesjet_cap_call_week = fields.Integer(related="company_id.salesjet_cap_call_week", readonly=False)
    salesjet_cap_mode = fields.Selection(related="company_id.salesjet_cap_mode", readonly=False)


class SalesjetFlow(models.Model):
    _inherit = "salesjet.flow"

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


class SalesjetFlowStep(models.Model):
    _inherit = "salesjet.flow.step"

    transactional = fields.Boolean(
        help="A transactional message (an order confirmation, a password reset) is exempt from frequency "
             "caps and does not count against them.")

    def _cap_channel(self):
        """The channel whose frequency cap this step's messages count against, or None."""
        if self.action_type == "chain_message":
            return CAP_CHANNELS.get(self.chain_message_id.channel)
        return CAP_CHANNELS.get(self.action_type)


class SalesjetFlowJob(models.Model):
    _inherit = "salesjet.flow.job"

    def _batch_apply_caps(self, batch):
        # after the send windows (stage 1), so that a job the window moves is not counted against the cap
        super()._batch_apply_caps(batch)
        postponed, skipped = batch.jobs._apply_frequency_caps(batch.now)
        batch.jobs -= postponed
        for job_id, reason in skipped.items():
            batch.outcomes[job_id] = ("skipped", reason, None, None)

    def _apply_frequency_caps(self, now):
        """Apply the frequency caps to these due jobs, in order.

        :return: (jobs postponed, written here; {job id: reason} of the jobs to skip)
        """
        capped_steps = self.step_id.filtered(lambda s: s.action_type in CAPPED_TYPES and not s.transactional)
        if not capped_steps:
            return self.browse(), {}  # the common case of a batch without messages: nothing to count
        limits_cache, candidates = {}, []
        for job in self.filtered(lambda j: j.step_id in capped_steps).sorted(lambda j: (j.scheduled_date, j.id)):
            step = job.step_id
            channel = step._cap_channel()
            if not channel:
                continue
            key = (job.flow_id.id, job.company_id.id)
            if key not in limits_cache:
                limits_cache[key] = job.flow_id._cap_limits(job.company_id)
            day, week = limits_cache[key].get(channel, (0, 0))
            if day or week:
                candidates.append((job, channel, day, week))
        if not candidates:
            return self.browse(), {}
        self.env.flush_all()
        self.env.cr.execute(SQL(
            """
            SELECT j.partner_id,
                   CASE WHEN s.action_type = 'chain_message' THEN m.channel ELSE s.action_type END,
                   array_agg(j.date_done ORDER BY j.date_done)
              FROM salesjet_flow_job j
              JOIN salesjet_flow_step s ON s.id = j.step_id
              LEFT JOIN salesjet_chain_message m ON m.id = s.chain_message_id
             WHERE j.partner_id = ANY(%(partners)s) AND j.state = 'done' AND j.date_done > %(since)s
               AND s.action_type = ANY(%(types)s) AND s.transactional IS NOT TRUE
             GROUP BY 1, 2
            """,
            partners=list({c[0].partner_id.id for c in candidates}), since=now - WEEK, types=CAPPED_TYPES,
        ))
        history = {}
        for partner_id, channel, dates in self.env.cr.fetchall():
            if CAP_CHANNELS.get(channel):
                history.setdefault((partner_id, CAP_CHANNELS[channel]), []).extend(dates)
        for dates in history.values():
            dates.sort()
        mode = {}
        postpone_ids, postpone_dates, postpone_reasons, skipped = [], [], [], {}
        labels = {"email": _("emails"), "sms": _("SMS"), "call": _("calls")}
        for job, channel, day, week in candidates:
            sent = history.setdefault((job.partner_id.id, channel), [])
            last_day = [moment for moment in sent if moment > now - DAY]
            blocked_until, cap_text = None, None
            if day and len(last_day) >= day:
                blocked_until = last_day[len(last_day) - day] + DAY
                cap_text = _("%(count)s %(channel)s a day", count=day, channel=labels[channel])
            if week and len(sent) >= week:
                until = sent[len(sent) - week] + WEEK
                if not blocked_until or until > blocked_until:
                    blocked_until = until
                    cap_text = _("%(count)s %(channel)s a week", count=week, channel=labels[channel])
            if not blocked_until:
                sent.append(now)  # counts for the next jobs of this batch
                continue
            company = job.company_id
            mode.setdefault(company.id, company.salesjet_cap_mode or "postpone")
            if mode[company.id] == "skip":
                skipped[job.id] = _("Frequency cap reached (%s for this contact): step skipped.", cap_text)
            else:
                postpone_ids.append(job.id)
                postpone_dates.append(blocked_until)
                postpone_reasons.append(_("Frequency cap reached (%(cap)s for this contact): postponed to %(date)s UTC.",
                                          cap=cap_text, date=fields.Datetime.to_string(blocked_until)[:16]))
        if postpone_ids:
            self.env.cr.execute(SQL(
                """
                UPDATE salesjet_flow_job j SET scheduled_date = v.d, result = v.r, write_date = %(now)s
                  FROM unnest(%(ids)s::int[], %(dates)s::timestamp[], %(reasons)s::text[]) AS v(id, d, r)
                 WHERE j.id = v.id
                """,
                now=now, ids=postpone_ids, dates=postpone_dates, reasons=postpone_reasons,
            ))
            self.browse(postpone_ids).invalidate_recordset(["scheduled_date", "result", "write_date"])
            self._trigger_scheduler(min(postpone_dates))
        return self.browse(postpone_ids), skipped
