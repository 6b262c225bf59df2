"""Scheduled actions that keep Odoo 18's cron contract.

Odoo calls a scheduled action up to ``MAX_BATCH_PER_CRON_JOB`` (10) times in a row
while it reports remaining work with ``ir.cron._notify_progress``, committing
between calls, and then runs the database's other ready actions. In prefork
mode all of that, plus the cron worker's sleep before it (up to 60 s + pid % 10
unless a NOTIFY wakes it), is one unit of work for the watchdog
(``limit_time_real_cron``, else ``limit_time_real``, 120 s by default) and for
the CPU limit (``limit_time_cpu``, 60 s). A callback that loops for minutes gets
its worker killed and its batch rolled back; repeated kills turn into failures
and Odoo deactivates the action. So each call here does a bounded slice of
work, reports it, and lets Odoo call again.
"""
import threading
import time

from odoo import api, models
from odoo.tools import SQL, config

from odoo.addons.base.models.ir_cron import MAX_BATCH_PER_CRON_JOB

# what the cron worker's watchdog may already have counted when our action starts:
# its sleep between polls (odoo/service/server.py SLEEP_INTERVAL + pid % 10)
WORKER_SLEEP = 70

# busy actions whose calls may share one unit of work of the cron worker
BUSY_ACTIONS = 3

DEFAULT_CALL_SECONDS = 5.0

MIN_CALL_SECONDS = 0.2

# the first batch of a run of calls, before the time per item is known
PROBE_BATCH = 50

# the remaining work is counted up to this many rows: Odoo only needs to know there is more
REMAINING_COUNT_CAP = 100000


class SalesjetCron(models.AbstractModel):
    _name = "salesjet.cron"
    _description = "SalesJet Flows: bounded scheduled actions"

    @api.model
    def _call_budget(self):
        """Seconds of work one call of a scheduled action may do.

        The setting ``salesjet_flows.cron_call_seconds`` (default 5), capped so
        that Odoo's ten calls in a row of ``BUSY_ACTIONS`` busy actions fit in
        what the server's limits leave after the cron worker's sleep: with
        Odoo's defaults (120 s real, 60 s CPU) that is (120 - 70) / 30 ≈ 1.7 s.
        A batch that was started always ends, so one call may exceed the
        budget by one batch; the batch sizes adapt to keep that small.
        """
        seconds = float(self.env["ir.config_parameter"].sudo().get_param(
            "salesjet_flows.cron_call_seconds", DEFAULT_CALL_SECONDS))
        room = []
        real_cron = config.get("limit_time_real_cron") or 0
        real = real_cron if real_cron > 0 else (config.get("limit_time_real") or 0)
        if real > 0:
            room.append(real - WORKER_SLEEP)
        cpu = config.get("limit_time_cpu") or 0
        if cpu > 0:
            room.append(cpu)
        if room:
            seconds = min(seconds, min(room) / (MAX_BATCH_PER_CRON_JOB * BUSY_ACTIONS))
        return max(MIN_CALL_SECONDS, seconds)

    @api.model
    def _run_batches(self, run_batch, count_remaining, batch_size, key=None, wake=None, settle=None):
        """Run one call's share of a scheduled action and report it to ``ir.cron``.

        :param run_batch: ``run_batch(limit)`` handles at most ``limit`` items and
            returns how many it handled; it does not commit.
        :param count_remaining: ``count_remaining()`` returns how much work is left
            (after the batches were committed).
        :param batch_size: the largest batch.
        :param key: names the work; when the action runs under ``ir.cron`` (one cursor
            for its calls in a row) the time per item of its last batch is kept on the
            cursor under this key, so that the next call's first batch fits the budget
            too.
        :param wake: called when work remains, to get the cron workers back at
            once rather than after their sleep; defaults to a NOTIFY to the
            workers (``ir.cron._notifydb``) after the commit.
        :param settle: for an action whose triggers other transactions rely on
            (the job scheduler): when a call would end without work it could do,
            so that Odoo deletes the triggers older than the call,
            ``settle()`` waits until the transactions that may be adding work
            have committed and returns True; the work is then counted again
            and done if some came. It returns False when it asked for another
            call instead (``salesjet.flow.job._settle_queue``).
        :return: the number of items handled.

        Batches run until the budget of the call is spent or a batch comes back
        short; each batch commits on its own (outside tests, where one call is one
        batch), so a crash or a kill loses at most the batch under way.
        """
        testing = getattr(threading.current_thread(), "testing", False)
        under_cron = bool(self.env.context.get("cron_id"))
        # Odoo runs the calls in a row on one cursor: what the previous call learnt sizes this one's first batch
        rates = self.env.cr.cache.setdefault("salesjet_cron_rates", {}) if under_cron else {}
        key = key or run_batch.__qualname__
        budget = self._call_budget()
        started = time.monotonic()
        if key in rates:
            limit = self._fit(batch_size, rates[key], budget)
        else:
            # under the cron, the first batch is a probe: a full batch of a slow step could alone outlast the budget
            limit = min(batch_size, PROBE_BATCH) if under_cron else batch_size
        done = 0
        settled = not settle or testing
        while True:
            batch_started = time.monotonic()
            count = run_batch(limit)
            done += count
            remaining = None
            if testing:
                break
            # one transaction per batch: a later batch's failure or the watchdog's kill
            # must not undo the batches done
            self.env.cr.commit()  # pylint: disable=invalid-commit
            now = time.monotonic()
            left = budget - (now - started)
            if count >= limit:
                rates[key] = (now - batch_started) / count
                if left > 0:
                    limit = self._fit(batch_size, rates[key], left)
                    continue
            if settled:
                break
            remaining = count_remaining()
            if remaining and done:
                break  # Odoo calls again and keeps the triggers
            # Odoo will end this run of calls and delete the triggers older than it: first make sure that no
            # transaction relying on them is still adding work, and take what came meanwhile
            settled = True
            if not settle():
                remaining = None  # counted again after the settle's commit
                break
            remaining = count_remaining()
            if not remaining:
                break
            limit = (self._fit(batch_size, rates[key], max(left, MIN_CALL_SECONDS)) if key in rates
                     else min(batch_size, PROBE_BATCH))
        if remaining is None:
            remaining = count_remaining()
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        if remaining and done and not testing:
            (wake or self._wake_workers)()
        return done

    @api.model
    def _fit(self, batch_size, seconds_per_item, seconds):
        """The batch that fits ``seconds`` at ``seconds_per_item``, between 1 and ``batch_size``."""
        if not seconds_per_item:
            return batch_size
        return max(1, min(batch_size, int(seconds / seconds_per_item)))

    @api.model
    def _wake_workers(self):
        """Wake the cron workers after this transaction commits (Odoo otherwise leaves a partially done
        action for the next poll, up to 70 s later)."""
        self.env.cr.postcommit.add(self.env["ir.cron"]._notifydb)

    @api.model
    def _count_capped(self, query, cap=REMAINING_COUNT_CAP):
        """Rows of ``query`` (an SQL that selects rows), counted up to ``cap`` (default REMAINING_COUNT_CAP)."""
        self.env.cr.execute(SQL("SELECT count(*) FROM (%s LIMIT %s) AS remaining", query, cap))
        return self.env.cr.fetchone()[0]
