"""Real ``odoo-bin`` servers in prefork mode on the test database: what the production tests (and the
benchmark's production part, bench/bench.py) share.

A server is started as an administrator would run it (``--workers``, a cron worker, Odoo's
limits or lowered ones), on its own ports, with ``--db-filter`` on the test database and its
own log file. Only the scheduler's lanes may run while it is up: every other scheduled
action (Odoo's mail and SMS queues, autovacuum, our other actions) is switched off for the
test and restored afterwards, so that nothing leaves the machine and the figures are ours.

These tests commit (the servers are other connections), so they create everything under
unique names and remove it afterwards.
"""
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import psutil

import odoo
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, get_db_name
from odoo.tools import SQL, config

from .workers_common import bulk_partners

_logger = logging.getLogger(__name__)

ODOO_BIN = os.path.join(os.path.dirname(os.path.dirname(odoo.__file__)), "odoo-bin")
# lines of Odoo's log that say a limit was hit (odoo/service/server.py)
LIMIT_LINES = re.compile(r"timeout after|CPU time limit|virtual real time limit|memory limit|Traceback|"
                         r" (ERROR|CRITICAL) ")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pause_other_crons(cr, lane_ids):
    """Switch off every active scheduled action but the scheduler's lanes ``lane_ids`` (Odoo's mail and
    SMS queues, autovacuum, our other actions: they stay out of the way and nothing is sent out), and
    let the lanes wait for a trigger, as they would between two regular runs. Return the ids switched
    off, for :func:`restore_crons`. The caller commits."""
    cr.execute("SELECT id FROM ir_cron WHERE active AND NOT id = ANY(%s)", [list(lane_ids)])
    paused = [row[0] for row in cr.fetchall()]
    cr.execute("UPDATE ir_cron SET active = FALSE WHERE id = ANY(%s)", [paused])
    cr.execute("UPDATE ir_cron SET nextcall = now() at time zone 'UTC' + interval '1 day', "
               "failure_count = 0 WHERE id = ANY(%s)", [list(lane_ids)])
    cr.execute("DELETE FROM ir_cron_trigger WHERE cron_id = ANY(%s)", [list(lane_ids)])
    return paused


def restore_crons(cr, paused, lane_ids):
    """Switch the scheduled actions ``paused`` (from :func:`pause_other_crons`) back on and drop the
    lanes' pending triggers. The caller commits."""
    cr.execute("UPDATE ir_cron SET active = TRUE WHERE id = ANY(%s)", [list(paused)])
    cr.execute("DELETE FROM ir_cron_trigger WHERE cron_id = ANY(%s)", [list(lane_ids)])


class OdooServer:
    """One ``odoo-bin`` process tree (master, HTTP workers, cron workers) on the test database."""

    def __init__(self, db, *args, name="server"):
        self.db, self.name = db, name
        handle, self.logfile = tempfile.mkstemp(prefix=f"salesjet-{name}-", suffix=".log")
        os.close(handle)
        self.command = [
            sys.executable, ODOO_BIN, "-c", config.rcfile, "-d", db, f"--db-filter=^{re.escape(db)}$",
            f"--http-port={free_port()}", f"--gevent-port={free_port()}", f"--logfile={self.logfile}",
            "--log-level=info", *args,
        ]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [os.path.dirname(ODOO_BIN)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        env.pop("ODOO_NOTIFY_CRON_CHANGES", None)
        self.process = subprocess.Popen(self.command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def log(self):
        with open(self.logfile, encoding="utf-8", errors="replace") as f:
            return f.read()

    def limit_lines(self):
        """The log lines that say a worker hit a limit or something failed."""
        return [line for line in self.log().splitlines() if LIMIT_LINES.search(line)]

    def cron_workers(self):
        """The live processes of this server's cron workers (from the log's ``Worker WorkerCron (<pid>) alive``
        lines: the process title is only set where ``setproctitle`` is installed)."""
        workers = []
        for pid in re.findall(r"Worker WorkerCron \((\d+)\) alive", self.log()):
            try:
                process = psutil.Process(int(pid))
                if process.ppid() == self.process.pid and process.status() != psutil.STATUS_ZOMBIE:
                    workers.append(process)
            except psutil.Error:
                continue
        return workers

    def wait_for(self, pattern, timeout):
        """Wait until the log matches ``pattern``; return the match."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.log())
            if match:
                return match
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: no {pattern!r} in the log after {timeout} s:\n{self.log()[-3000:]}")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # a worker that outlived its master (it should not) is not left behind
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            _logger.debug("process group %s already ended", self.process.pid)

    def cleanup(self):
        self.stop()
        # SALESJET_KEEP_SERVER_LOGS=1 keeps the servers' logs for a look after the test
        if os.path.exists(self.logfile) and not os.environ.get("SALESJET_KEEP_SERVER_LOGS"):
            os.unlink(self.logfile)


# Runs as the cron does (superuser): a real prefork server; no person acts here.
class PreforkCase(BaseCase):
    """Servers on the committed test database with only the scheduler's lanes active."""

    def setUp(self):
        super().setUp()
        self.registry = Registry(get_db_name())
        self.name = f"SJ prefork {uuid.uuid4().hex[:8]}"
        self.created = {"flows": [], "partners": [], "tags": [], "users": []}
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.lane_ids = env["salesjet.flow.job"]._scheduler_lanes().ids
            self.paused_crons = pause_other_crons(cr, self.lane_ids)
        self.addCleanup(self._restore)
        self.servers = []

    def _restore(self):
        for server in self.servers:
            server.cleanup()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            restore_crons(cr, self.paused_crons, self.lane_ids)
            flows = env["salesjet.flow"].browse(self.created["flows"]).exists()
            cr.execute("DELETE FROM salesjet_flow_job WHERE flow_id = ANY(%s)", [flows.ids])
            cr.execute("DELETE FROM salesjet_flow_enrollment WHERE flow_id = ANY(%s)", [flows.ids])
            templates = flows.step_ids.mail_template_id
            flows.unlink()
            templates.exists().unlink()
            partner_ids = self.created["partners"]
            cr.execute("DELETE FROM mail_mail WHERE id IN (SELECT mail_mail_id_int FROM mailing_trace "
                       "WHERE model = 'res.partner' AND res_id = ANY(%s))", [partner_ids])
            cr.execute("DELETE FROM mailing_trace WHERE model = 'res.partner' AND res_id = ANY(%s)", [partner_ids])
            cr.execute("DELETE FROM sms_sms WHERE partner_id = ANY(%s)", [partner_ids])
            cr.execute("DELETE FROM salesjet_event WHERE partner_id = ANY(%s)", [partner_ids])
            cr.execute("DELETE FROM mail_message WHERE model = 'res.partner' AND res_id = ANY(%s)", [partner_ids])
            cr.execute("DELETE FROM res_partner WHERE id = ANY(%s)", [partner_ids])
            env["res.partner.category"].browse(self.created["tags"]).exists().unlink()
            users = env["res.users"].browse(self.created["users"]).exists()
            if users:
                partners = users.partner_id
                cr.execute("DELETE FROM res_users_apikeys WHERE user_id = ANY(%s)", [users.ids])
                users.unlink()
                partners.unlink()

    # ------------------------------------------------------------------
    # Servers and data
    # ------------------------------------------------------------------

    def set_param(self, key, value):
        """Set a system parameter for the servers (committed) and put the old value back afterwards."""
        with self.registry.cursor() as cr:
            params = api.Environment(cr, SUPERUSER_ID, {})["ir.config_parameter"]
            old = params.get_param(key)
            params.set_param(key, value)

        def restore():
            with self.registry.cursor() as cr:
                api.Environment(cr, SUPERUSER_ID, {})["ir.config_parameter"].set_param(key, old)
        self.addCleanup(restore)

    def start_server(self, *args, name="server"):
        server = OdooServer(self.registry.db_name, *args, name=name)
        self.servers.append(server)
        return server

    def make_tag(self, env, suffix=""):
        tag = env["res.partner.category"].create({"name": f"{self.name}{suffix}"})
        self.created["tags"].append(tag.id)
        return tag

    def make_flow(self, env, steps, suffix=""):
        flow = env["salesjet.flow"].create({"state": "running",
            "name": f"{self.name}{suffix}", "reentry_policy": "always"})
        env["salesjet.flow.step"].create([dict(step, flow_id=flow.id, sequence=i) for i, step in enumerate(steps)])
        self.created["flows"].append(flow.id)
        return flow

    def make_contacts(self, env, count):
        """``count`` contacts with their own email address and mobile number, made in one statement."""
        email = SQL("%s || i || '@example.com'", f"sj.prefork.{uuid.uuid4().hex[:6]}.")
        ids = bulk_partners(env, count + 1, self.name, {
            "email": email, "email_normalized": email, "mobile": SQL("'+32470' || lpad(i::text, 6, '0')"),
        })
        self.created["partners"].extend(ids)
        # the first is the ORM-made prototype the others were copied from, without an address
        return ids[1:]

    def trigger_lanes(self):
        """Wake the scheduler's lanes now, as a new due job does (``ir.cron._trigger`` + NOTIFY)."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            for lane in env["ir.cron"].browse(self.lane_ids):
                lane._trigger()

    def job_states(self, flow_ids):
        """{(state, attempts): number of jobs} of these flows, read on a fresh cursor."""
        with self.registry.cursor() as cr:
            cr.execute("SELECT state, attempts, count(*) FROM salesjet_flow_job WHERE flow_id = ANY(%s) GROUP BY 1, 2",
                       [list(flow_ids)])
            return {(state, attempts): count for state, attempts, count in cr.fetchall()}

    def wait_drained(self, flow_ids, total, timeout, poke=None):
        """Wait until the ``total`` jobs of these flows are all done; return the seconds it took.

        ``poke`` (seconds): trigger the lanes again at that interval, for a cron worker that was
        respawned after the last NOTIFY.
        """
        started = last_poke = time.monotonic()
        while True:
            states = self.job_states(flow_ids)
            if states.get(("done", 1), 0) == total and sum(states.values()) == total:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                with self.registry.cursor() as cr:
                    cr.execute("SELECT step_id, state, left(result, 120), count(*) FROM salesjet_flow_job "
                               "WHERE flow_id = ANY(%s) AND state != 'done' GROUP BY 1, 2, 3", [list(flow_ids)])
                    states = {**states, "not done": cr.fetchall()}
                logs = "\n".join(f"--- {s.name}\n{s.log()[-4000:]}" for s in self.servers)
                raise AssertionError(f"the backlog did not drain in {timeout} s: {states}\n{logs}")
            if poke and time.monotonic() - last_poke > poke:
                self.trigger_lanes()
                last_poke = time.monotonic()
            time.sleep(0.5)

    def cron_failures(self):
        with self.registry.cursor() as cr:
            cr.execute("SELECT cron_name, failure_count, active FROM ir_cron WHERE id = ANY(%s)", [self.lane_ids])
            return cr.fetchall()
