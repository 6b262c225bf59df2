"""A scheduler process killed with SIGKILL in the middle of a batch loses and repeats nothing.

The worker is a real, separate Python process that opens the test database's registry
and runs the scheduled action ``salesjet.flow.job._cron_process_due_jobs`` (what the
Odoo cron worker calls, again while jobs are due), with small batches. Only in that process, the end of the
third batch is slowed down: its effects are written but not committed when the test
kills the process. A second process then finishes the queue.

This test commits (the worker is another connection), so it uses unique names and
removes what it created.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import odoo
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, get_db_name

WORKER = r"""
import sys, time
import odoo
from odoo.tools import config
conf, db, flow_id, batch_size, hang_after, marker = sys.argv[1:7]
config.parse_config(["-c", conf, "-d", db, "--log-level=warn", "--max-cron-threads=1"])
registry = odoo.modules.registry.Registry(db)
Job = registry["salesjet.flow.job"]
Job._get_batch_size = lambda self: int(batch_size)
execute, batches = Job._execute, [0]

def slow_execute(self):
    execute(self)
    batches[0] += 1
    if batches[0] > int(hang_after):
        # this batch's tags, mails, SMS and notes are written, not committed: now is the time to die
        self.env.flush_all()
        with open(marker, "w") as f:
            f.write(str(batches[0]))
        time.sleep(600)

Job._execute = slow_execute
with registry.cursor() as cr:
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    # each call stops at its time budget (salesjet.cron); Odoo's cron worker calls again while work remains
    for _call in range(200):
        env["salesjet.flow.job"]._cron_process_due_jobs()
        cr.commit()
        if not env["salesjet.flow.job"]._count_due():
            break
"""


# Runs as the cron does (superuser): a worker killed in the middle of a batch; no person acts here.
class TestWorkerKilledMidBatch(BaseCase):

    CONTACTS = 30

    def setUp(self):
        super().setUp()
        self.registry = Registry(get_db_name())
        self.name = f"SJ crash {uuid.uuid4().hex[:8]}"
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            self.tag_id = env["res.partner.category"].create({"name": self.name}).id
            flow = env["salesjet.flow"].create({"state": "running", "name": self.name, "reentry_policy": "always"})
            env["salesjet.flow.step"].create([
                {"flow_id": flow.id, "sequence": 1, "action_type": "add_tag", "tag_ids": [(6, 0, [self.tag_id])]},
                {"flow_id": flow.id, "sequence": 2, "action_type": "email", "email_source": "custom",
                 "email_subject": f"{self.name} for {{{{ object.name }}}}", "email_body": "<p>Hello</p>"},
                {"flow_id": flow.id, "sequence": 3, "action_type": "sms", "sms_body": f"{self.name} hi"},
                {"flow_id": flow.id, "sequence": 4, "action_type": "note", "note_body": f"{self.name} note"},
            ])
            partners = env["res.partner"].create([{
                "name": f"{self.name} {i}", "email": f"sj.crash.{i}@example.com",
                "mobile": f"+3247012{i:04d}",
            } for i in range(self.CONTACTS)])
            flow._enroll(partners.ids)
            self.flow_id, self.partner_ids = flow.id, partners.ids
            self.step_ids = flow.step_ids.sorted("sequence").ids
            self.template_id = flow.step_ids.mail_template_id.id
            self.mailing_id = flow.step_ids.mailing_id.id
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["mail.mail"].search([("res_id", "in", self.partner_ids), ("model", "=", "res.partner")]).unlink()
            env["sms.sms"].search([("partner_id", "in", self.partner_ids)]).unlink()
            env["mail.message"].search([("res_id", "in", self.partner_ids), ("model", "=", "res.partner")]).unlink()
            env["mailing.trace"].search([("mass_mailing_id", "=", self.mailing_id)]).unlink()
            env["salesjet.flow"].browse(self.flow_id).unlink()
            env["mail.template"].browse(self.template_id).exists().unlink()
            env["mailing.mailing"].browse(self.mailing_id).exists().unlink()
            env["res.partner"].browse(self.partner_ids).unlink()
            env["res.partner.category"].browse(self.tag_id).unlink()

    def _worker(self, hang_after, marker):
        return subprocess.Popen(
            [sys.executable, "-c", WORKER, odoo.tools.config.rcfile, get_db_name(), str(self.flow_id),
             "25", str(hang_after), marker],
            env=dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.path.dirname(os.path.dirname(
                odoo.__file__)), os.environ.get("PYTHONPATH")]))),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )

    def _job_states(self):
        with self.registry.cursor() as cr:
            cr.execute("SELECT state, attempts, count(*) FROM salesjet_flow_job WHERE flow_id = %s GROUP BY 1, 2",
                       (self.flow_id,))
            return {(state, attempts): count for state, attempts, count in cr.fetchall()}

    def test_worker_killed_mid_batch_then_restarted_runs_every_job_once(self):
        marker = os.path.join(tempfile.mkdtemp(), "hung")
        worker = self._worker(hang_after=2, marker=marker)
        deadline = time.monotonic() + 180
        while not os.path.exists(marker):
            if worker.poll() is not None:
                self.fail(f"the worker ended before the crash point: {worker.stdout.read().decode()[-3000:]}")
            if time.monotonic() > deadline:
                worker.kill()
                self.fail("the worker never reached its third batch")
            time.sleep(0.2)
        # two batches of 25 committed (tags, then tags and emails), the third one (emails and SMS)
        # written but not committed; other due jobs of the database may share the batches
        before_kill = self._job_states()
        done_before = before_kill.get(("done", 1), 0)
        self.assertTrue(0 < done_before < 4 * self.CONTACTS, before_kill)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        self.assertEqual(worker.returncode, -signal.SIGKILL)
        self.assertEqual(self._job_states(), before_kill, "the killed batch left nothing behind")

        restarted = self._worker(hang_after=10 ** 6, marker=marker + ".never")
        output = restarted.communicate(timeout=300)[0].decode()
        self.assertEqual(restarted.returncode, 0, output[-3000:])

        states = self._job_states()
        self.assertEqual(states, {("done", 1): 4 * self.CONTACTS},
                         "every job of the four steps ran exactly once, with one attempt")
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM salesjet_flow_enrollment WHERE flow_id = %s AND state = 'done'",
                       (self.flow_id,))
            self.assertEqual(cr.fetchone()[0], self.CONTACTS)
            per_contact = {}
            queries = {
                "tag": ("SELECT partner_id, count(*) FROM res_partner_res_partner_category_rel "
                        "WHERE category_id = %s AND partner_id = ANY(%s) GROUP BY 1", self.tag_id),
                "mail": ("SELECT res_id, count(*) FROM mail_mail m JOIN mail_message mm ON mm.id = m.mail_message_id "
                         "WHERE mm.model = 'res.partner' AND mm.subject LIKE %s AND mm.res_id = ANY(%s) GROUP BY 1",
                         f"{self.name} for %"),
                "sms": ("SELECT partner_id, count(*) FROM sms_sms WHERE body = %s AND partner_id = ANY(%s) GROUP BY 1",
                        f"{self.name} hi"),
                "note": ("SELECT res_id, count(*) FROM mail_message WHERE model = 'res.partner' AND body::text LIKE %s "
                         "AND res_id = ANY(%s) GROUP BY 1", f"%{self.name} note%"),
                "trace": ("SELECT res_id, count(*) FROM mailing_trace WHERE mass_mailing_id = %s AND res_id = ANY(%s) "
                          "GROUP BY 1", self.mailing_id),
            }
            for what, (query, param) in queries.items():
                cr.execute(query, (param, self.partner_ids))
                per_contact[what] = dict(cr.fetchall())
        for what, counts in per_contact.items():
            self.assertEqual(counts, dict.fromkeys(self.partner_ids, 1),
                             f"exactly one {what} per contact, none lost, none duplicated")
