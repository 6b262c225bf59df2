"""The scheduler in the topology Odoo runs in production: real ``odoo-bin`` servers in prefork mode.

- a backlog several times longer than the CPU limit drains through the cron worker without a
  timeout, a CPU-limit kill or a cron failure, every job once;
- the cron worker SIGKILLed while it holds a batch of tag, email, SMS and note jobs: nothing lost,
  nothing sent twice, the respawned worker finishes;
- two servers on one database, each with its cron worker, drain one backlog together: every job
  once, sooner than one server.
"""
import re
import time

import requests

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from .fake_http import FakeReceiver
from .prefork_common import PreforkCase


def email_step(name):
    return {"action_type": "email", "email_source": "custom", "email_subject": f"{name} for {{{{ object.name }}}}",
            "email_body": "<p>Hello {{ object.name }}</p>"}


@tagged("post_install", "-at_install")
# Runs as the cron does (superuser): a prefork server's cron worker; no person acts here.
class TestPreforkScheduler(PreforkCase):

    def test_backlog_drains_under_lowered_limits_without_a_kill(self):
        # in one process this backlog takes several times the CPU limit given to the server below
        contacts = 20000
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            tag = self.make_tag(env)
            flow = self.make_flow(env, [email_step(self.name),
                                        {"action_type": "add_tag", "tag_ids": [(6, 0, tag.ids)]}])
            partner_ids = self.make_contacts(env, contacts)
        server = self.start_server("--workers=1", "--max-cron-threads=1", "--limit-time-real-cron=90",
                                   "--limit-time-cpu=10", name="limits")
        server.wait_for(r"WorkerCron \(\d+\) alive", 60)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["salesjet.flow"].browse(flow.id)._enroll(partner_ids)
        self.trigger_lanes()
        self.wait_drained([flow.id], 2 * contacts, timeout=600)

        self.assertEqual(server.limit_lines(), [], "no worker hit a limit, nothing failed")
        self.assertGreater(server.log().count("records remaining"), 10,
                           "the work came in many bounded calls that reported their progress")
        self.assertEqual({failures for _name, failures, _active in self.cron_failures()}, {0})
        self.assertTrue(all(active for _name, _failures, active in self.cron_failures()))
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*), count(DISTINCT res_id) FROM mailing_trace "
                       "WHERE model = 'res.partner' AND res_id = ANY(%s)", [partner_ids])
            self.assertEqual(cr.fetchone(), (contacts, contacts), "one email per contact")
            cr.execute("SELECT count(*) FROM res_partner_res_partner_category_rel WHERE category_id = %s", [tag.id])
            self.assertEqual(cr.fetchone()[0], contacts)

    def test_killed_cron_worker_loses_and_repeats_nothing(self):
        contacts = 60
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            tag = self.make_tag(env)
            # four single-step flows entered contact by contact: the due jobs alternate tag, email,
            # SMS and note, so that any batch holds the four kinds
            flows = [
                self.make_flow(env, [{"action_type": "add_tag", "tag_ids": [(6, 0, tag.ids)]}], " tag"),
                self.make_flow(env, [email_step(self.name)], " email"),
                self.make_flow(env, [{"action_type": "sms", "sms_body": f"{self.name} hi"}], " sms"),
                self.make_flow(env, [{"action_type": "note", "note_body": f"{self.name} note"}], " note"),
            ]
            partner_ids = self.make_contacts(env, contacts)
            for partner_id in partner_ids:
                for flow in flows:
                    flow._enroll([partner_id])
            flow_ids = [flow.id for flow in flows]
            # the run whose job the worker will wait for: a contact in the middle of the queue
            cr.execute("SELECT id FROM salesjet_flow_enrollment WHERE flow_id = %s AND partner_id = %s",
                       [flows[3].id, partner_ids[contacts // 2]])
            held_run = cr.fetchone()[0]
        server = self.start_server("--workers=1", "--max-cron-threads=1", name="crash")
        server.wait_for(r"WorkerCron \(\d+\) alive", 60)

        # hold one run: the batch that holds its job writes its tags, mails, SMS and notes, then
        # waits for this lock before it can commit
        holder = self.registry.cursor()
        try:
            holder.execute("SELECT id FROM salesjet_flow_enrollment WHERE id = %s FOR UPDATE", [held_run])
            holder.execute("SELECT pg_backend_pid()")
            holder_pid = holder.fetchone()[0]
            self.trigger_lanes()
            deadline = time.monotonic() + 120
            while True:
                with self.registry.cursor() as cr:
                    cr.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                               [holder_pid])
                    if cr.fetchone()[0]:
                        break
                self.assertLess(time.monotonic(), deadline, f"the worker never reached the held run:\n{server.log()}")
                time.sleep(0.2)
            with self.registry.cursor() as cr:
                cr.execute("SELECT count(*) FROM salesjet_flow_job WHERE flow_id = ANY(%s) AND state = 'done'",
                           [flow_ids])
                done_before_kill = cr.fetchone()[0]
            workers = server.cron_workers()
            self.assertEqual(len(workers), 1, "one cron worker holds the batch")
            workers[0].kill()
            workers[0].wait(timeout=30)
        finally:
            holder.rollback()
            holder.close()

        self.assertLess(done_before_kill, 4 * contacts, "the kill came before the end of the queue")
        # the master respawns a cron worker, which takes the queue again
        self.wait_drained(flow_ids, 4 * contacts, timeout=300, poke=5)
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM res_partner_res_partner_category_rel WHERE category_id = %s", [tag.id])
            self.assertEqual(cr.fetchone()[0], contacts)
            cr.execute("""
                SELECT count(*), count(DISTINCT t.res_id), count(DISTINCT m.id) FROM mailing_trace t
                  JOIN mail_mail m ON m.id = t.mail_mail_id_int
                 WHERE t.model = 'res.partner' AND t.res_id = ANY(%s)""", [partner_ids])
            self.assertEqual(cr.fetchone(), (contacts, contacts, contacts), "one mail and one trace per contact")
            cr.execute("SELECT count(*), count(DISTINCT partner_id) FROM sms_sms WHERE partner_id = ANY(%s)",
                       [partner_ids])
            self.assertEqual(cr.fetchone(), (contacts, contacts), "one SMS per contact")
            cr.execute("SELECT count(*), count(DISTINCT res_id) FROM mail_message WHERE model = 'res.partner' "
                       "AND res_id = ANY(%s) AND body::text LIKE %s", [partner_ids, f"%{self.name} note%"])
            self.assertEqual(cr.fetchone(), (contacts, contacts), "one note per contact")

    def drain_with(self, servers, contacts, path):
        """Enroll ``contacts`` new contacts into a flow calling the receiver at ``path`` and time how long
        ``servers`` take to drain it."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            flow = self.make_flow(env, [{
                "action_type": "webhook", "webhook_url": f"{self.receiver.url}/hooks/{path}",
                "webhook_body": '{"id": {{ object.id }}}'}], f" {path}")
            flow._enroll(self.make_contacts(env, contacts))
        self.trigger_lanes()
        seconds = self.wait_drained([flow.id], contacts, timeout=600)
        for server in servers:
            self.assertEqual(server.limit_lines(), [], f"{server.name}: no worker hit a limit")
        return seconds

    def warm_up(self, servers):
        """Let every server's cron worker load the registry (on its first job) before anything is timed: small
        backlogs that keep a lane busy long enough for each worker to take one (with an empty queue, the worker
        that is already warm wins every race for the lanes)."""
        for attempt in range(5):
            if all("Flows: run due steps" in server.log() for server in servers):
                return
            # more than one call's worth: the busy lane wakes the other, which an idle worker takes
            self.drain_with(servers, 150, f"warm-up-{attempt}")
        self.fail("a server's cron worker never ran a lane")

    def test_two_servers_share_one_backlog_and_drain_it_sooner(self):
        """Webhooks to a receiver that takes 20 ms an answer: the time goes to waiting, as with real
        receivers, so a second server's cron worker adds its own share whatever else loads the machine."""
        self.assertGreaterEqual(len(self.lane_ids), 2, "the scheduler ships two lanes")
        self.receiver = FakeReceiver(default=(200, '{"ok": true}', 0.02)).start()
        self.addCleanup(self.receiver.stop)
        self.set_param("salesjet_flows.webhook_allow_private", "True")  # the receiver listens on loopback
        contacts = 300
        first = self.start_server("--workers=1", "--max-cron-threads=1", name="first")
        first.wait_for(r"WorkerCron \(\d+\) alive", 60)
        self.warm_up([first])
        alone = self.drain_with([first], contacts, "alone")

        second = self.start_server("--workers=1", "--max-cron-threads=1", name="second")
        second.wait_for(r"WorkerCron \(\d+\) alive", 60)
        self.warm_up([first, second])
        together = self.drain_with([first, second], contacts, "together")
        self.assertIn("records remaining", second.log(), "the second server's cron worker took its share")
        self.assertLess(together, alone, f"two servers took {together:.1f} s, one took {alone:.1f} s")
        keys = [request["headers"].get("Idempotency-Key") for request in self.receiver.requests
                if request["path"].startswith(("/hooks/alone", "/hooks/together"))]
        self.assertEqual(len(keys), 2 * contacts, "every job called the receiver")
        self.assertEqual(len(set(keys)), len(keys), "and none called it twice")

    def test_http_server_without_cron_workers_and_a_cron_only_server(self):
        """``--max-cron-threads=0`` on the web server: a separate cron-only server runs what it queues."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            tag = self.make_tag(env)
            flow = self.make_flow(env, [{"action_type": "add_tag", "tag_ids": [(6, 0, tag.ids)]}])
            env["salesjet.flow.trigger"].create({"flow_id": flow.id, "trigger_type": "api",
                                                "event_code": f"prefork_{flow.id}"})
            user = env["res.users"].create({
                "name": self.name, "login": self.name.replace(" ", "_"),
                "groups_id": [(6, 0, [env.ref("salesjet_flows.group_salesjet_user").id])]})
            key = env["res.users.apikeys"].with_user(user).sudo()._generate(None, "prefork", None)
            self.created["users"] = user.ids
        web = self.start_server("--workers=1", "--max-cron-threads=0", name="web")
        cron = self.start_server("--workers=1", "--max-cron-threads=1", "--no-http", name="cron")
        web.wait_for(r"HTTP service \(werkzeug\) running on [^:]+:(\d+)", 60)
        cron.wait_for(r"WorkerCron \(\d+\) alive", 60)
        port = int(re.search(r"--http-port=(\d+)", " ".join(web.command)).group(1))
        emails = [f"sj.split.{i}.{flow.id}@example.com" for i in range(3)]
        for email in emails:
            response = requests.post(f"http://127.0.0.1:{port}/salesjet/api/v1/events", timeout=60,
                                     headers={"Authorization": f"Bearer {key}"},
                                     json={"code": f"prefork_{flow.id}", "email": email})
            self.assertEqual(response.status_code, 201, response.text)
        # nothing else wakes the scheduler: the jobs' own triggers reach the cron-only server
        self.wait_drained([flow.id], len(emails), timeout=120)
        with self.registry.cursor() as cr:
            cr.execute("SELECT array_agg(p.email ORDER BY p.email) FROM res_partner p "
                       "JOIN res_partner_res_partner_category_rel r ON r.partner_id = p.id WHERE r.category_id = %s",
                       [tag.id])
            tagged_emails = cr.fetchone()[0]
            cr.execute("SELECT id FROM res_partner WHERE email = ANY(%s)", [emails])
            self.created["partners"].extend(row[0] for row in cr.fetchall())
        self.assertEqual(tagged_emails, sorted(emails))
        self.assertNotIn("WorkerCron", web.log(), "the web server runs no cron worker")
        self.assertIn("Flows: run due steps", cron.log())
        self.assertEqual(web.limit_lines() + cron.limit_lines(), [])
