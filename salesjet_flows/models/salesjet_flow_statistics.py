from odoo import _, api, fields, models
from odoo.tools import SQL

SKIP_REASONS_SHOWN = 5


class SalesjetFlowStep(models.Model):
    _inherit = "salesjet.flow.step"

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
        reasons = {}
        step_ids = [s for s in self.ids if isinstance(s, int)]
        if step_ids:
            self.env["salesjet.flow.job"].flush_model(["step_id", "state", "result"])
            self.env.cr.execute(SQL(
                """
                SELECT step_id, coalesce(result, ''), count(*) FROM salesjet_flow_job
                 WHERE step_id = ANY(%s) AND state = 'skipped'
                 GROUP BY step_id, result
                 ORDER BY step_id, count(*) DESC
                """, step_ids))
            for step_id, reason, count in self.env.cr.fetchall():
                reasons.setdefault(step_id, []).append((reason, count))
        for step in self:
            rows = reasons.get(step.id, [])
            lines = [f"{count} × {reason or _('no reason given')}" for reason, count in rows[:SKIP_REASONS_SHOWN]]
            if len(rows) > SKIP_REASONS_SHOWN:
                lines.append(_("%s other reasons", len(rows) - SKIP_REASONS_SHOWN))
            step.skip_reasons = "\n".join(lines)


class SalesjetFlow(models.Model):
    _inherit = "salesjet.flow"

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
