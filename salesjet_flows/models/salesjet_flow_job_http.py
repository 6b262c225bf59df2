import logging
import sys
import traceback

from dateutil.relativedelta import relativedelta

from odoo import _, fields, models
from odoo.tools import SQL

from .salesjet_http import PermanentError
from .salesjet_secrets import known_secrets, redact, redact_known

_logger = logging.getLogger(__name__)


class SalesjetFlowJob(models.Model):
    """What steps calling the outside world (webhooks, telephony) keep on their jobs."""
    _inherit = "salesjet.flow.job"

    http_status = fields.Integer(
        string="HTTP status", readonly=True,
        help="Status code of the last answer of the receiver (webhook or telephony provider); 0 if none came.")
    http_response = fields.Text(
        string="Answer excerpt", readonly=True,
        help="The first 1,000 characters of the receiver's last answer.")

    def _mark_error(self):
        """As the engine's, plus: keep the answer's status and excerpt, and fail at once
        (no retry) when the error is a ``PermanentError`` such as a 4xx answer."""
        self.ensure_one()
        error = sys.exc_info()[1]
        if error is not None and hasattr(error, "http_status"):
            # a receiver may echo the request, headers included
            self.write({"http_status": error.http_status or 0,
                        "http_response": redact_known(self.env, error.excerpt) or False})
        if not isinstance(error, PermanentError):
            return super()._mark_error()
        outcomes = self._outcomes()
        if outcomes is not None:
            outcomes[self.id] = ("error", None, None, None)
        secrets = known_secrets(self.env)
        message = redact(str(error), secrets)
        _logger.warning("SalesJet job %s (step %s) failed without retry: %s", self.id, self.step_id.id, message)
        now = fields.Datetime.now()
        self.write({"state": "failed", "error": redact(traceback.format_exc(limit=5), secrets), "date_done": now,
                    "result": _("Failed without retry: %s", message)})
        self.enrollment_id._finish("failed", now)
        return None

    def _postpone(self, reason, minutes):
        """Put these jobs back in the queue ``minutes`` from now without counting this run as an attempt.

        For jobs a step did not even try (its batch stopped sending early).
        """
        if not self:
            return
        outcomes = self._outcomes()
        when = fields.Datetime.now() + relativedelta(minutes=minutes)
        if outcomes is not None:
            for job_id in self.ids:
                outcomes[job_id] = ("error", None, None, None)
        self.env.flush_all()
        # inside a batch, the engine adds this run to ``attempts`` when it ends
        self.env.cr.execute(SQL(
            """
            UPDATE salesjet_flow_job
               SET state = 'pending', scheduled_date = %s, result = %s, attempts = attempts - %s
             WHERE id = ANY(%s)
            """,
            when, reason, 1 if outcomes is not None else 0, self.ids,
        ))
        self.invalidate_recordset(["state", "scheduled_date", "result", "attempts"])
        self._trigger_scheduler(when)

    def _write_http_answers(self, answers):
        """Store ``{job id: (status, excerpt)}`` with one statement."""
        if not answers:
            return
        ids = list(answers)
        self.env.flush_all()
        # a receiver may echo the request, headers included
        secrets = known_secrets(self.env) if any(excerpt for _status, excerpt in answers.values()) else []
        answers = {job_id: (status, redact(excerpt, secrets)) for job_id, (status, excerpt) in answers.items()}
        self.env.cr.execute(SQL(
            """
            UPDATE salesjet_flow_job j SET http_status = v.status, http_response = v.excerpt
              FROM unnest(%s::int[], %s::int[], %s::text[]) AS v(id, status, excerpt)
             WHERE j.id = v.id
            """,
            ids, [answers[i][0] for i in ids], [answers[i][1] or None for i in ids],
        ))
        self.browse(ids).invalidate_recordset(["http_status", "http_response"])
