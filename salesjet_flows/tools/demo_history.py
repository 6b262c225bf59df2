"""A past for the demo database: a few hundred demo contacts who went through the demo flows over the
last weeks, made by the engine itself.

``generate(env)`` walks a clock from a few weeks ago to now. At each moment it does what the outside
world would have done (a contact signs up, registers on the aquarium page, opens or clicks an email,
answers a chain message, buys) and then runs what the scheduled actions would have run (due jobs, A/B
tests, goals), with the clock frozen at that moment: jobs, runs, traces and answers carry past dates,
and every count of the demo flows comes from the engine's own records.

Demo only: ``scripts/demo.sh`` calls it once on the demo database (a system parameter remembers it);
it is not demo *data*, so databases installed with demo data for the tests do not get it. It is seeded,
hence the same history on every machine (its dates follow the day it is made).
"""
import heapq
import itertools
import logging
import random
import time
from contextlib import contextmanager
from datetime import timedelta

from odoo import fields
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

HISTORY_PARAM = "salesjet_flows.demo_history"

FIRST_NAMES = [
    "Alice", "Bruno", "Chiara", "Dmitri", "Elena", "Felipe", "Greta", "Hugo", "Ines", "Jonas", "Katya", "Luca",
    "Marta", "Nils", "Olga", "Pablo", "Quentin", "Rosa", "Sergei", "Tina", "Umberto", "Vera", "Walter", "Ximena",
    "Yusuf", "Zoe",
]
LAST_NAMES = [
    "Almeida", "Bianchi", "Costa", "Dubois", "Esposito", "Fischer", "Garcia", "Hansen", "Ivanova", "Jensen",
    "Kowalski", "Lopez", "Moreau", "Novak", "Orlov", "Petrov", "Rossi", "Schmidt", "Torres", "Weber",
]
COMPANIES = ["Aquarius Ltd", "Blue Reef SA", "Coral & Co", "Deep Water GmbH", "Estuary Srl", "Fjord AS",
             "Gulf Stream Inc", "Harbour OOO"]

# chances per email, by branch or step kind: (opens, clicks among those who open)
ENGAGEMENT = {"default": (0.45, 0.25), "A": (0.38, 0.15), "B": (0.55, 0.45)}
# share of the contacts who click the spring offer and then buy (the A/B flow's goal)
BUY_AFTER_CLICK = 0.4
CHAIN_ANSWER = 0.45


class Clock:
    """The engine's clock during the history: Python's (``fields.Datetime.now()``, frozen with freezegun, a
    dependency of Odoo's tests) and the transaction's (``cr.now()``, which Odoo uses for create and write
    dates). Frozen once and moved: starting freezegun scans every loaded module, moving it is cheap."""

    def __init__(self, env, when):
        from freezegun import freeze_time  # the demo only needs it here

        self.env, self.freezer = env, freeze_time(when)
        self.frozen = None

    def __enter__(self):
        self.frozen = self.freezer.start()
        return self

    def __exit__(self, *exc):
        self.env.flush_all()
        self.freezer.stop()
        self.env.cr._now = None

    @contextmanager
    def at(self, when):
        self.frozen.move_to(when)
        self.env.cr._now = when
        yield
        self.env.flush_all()


class DemoHistory:
    """The walk of the clock: a queue of (moment, action) taken in order."""

    def __init__(self, env, clock, seed, start, end, tick_hours):
        self.env, self.clock = env, clock
        self.rng = random.Random(seed)
        self.start, self.end, self.tick = start, end, timedelta(hours=tick_hours)
        self.queue, self.counter = [], itertools.count()
        self.bought = False
        self.first_mail_id = self._max_id("mail_mail")
        self.first_sms_id = self._max_id("sms_sms")
        self.first_job_id = self._max_id("salesjet_flow_job")
        self.delivered = start

    def _max_id(self, table):
        self.env.cr.execute(SQL("SELECT COALESCE(max(id), 0) FROM %s", SQL.identifier(table)))
        return self.env.cr.fetchone()[0]

    def at(self, when, action, *args):
        if when <= self.end:
            heapq.heappush(self.queue, (when, next(self.counter), action, args))

    def later(self, when, min_hours, max_hours):
        return when + timedelta(minutes=self.rng.randint(min_hours * 60, max_hours * 60))

    def run(self):
        moment = self.start
        while moment <= self.end:
            self.at(moment, self.engine)
            moment += self.tick
        while self.queue:
            when, _n, action, args = heapq.heappop(self.queue)
            with self.clock.at(when):
                action(when, *args)

    # ---- what the scheduled actions do ----

    def engine(self, when):
        Job = self.env["salesjet.flow.job"]
        while Job._process_due_batch():
            pass
        Step = self.env["salesjet.flow.step"]
        self.env.cr.execute(Step._split_tests_over(when))
        Step.browse([row[0] for row in self.env.cr.fetchall()])._split_end_test(when)
        if Step.browse()._split_release_held(when, 100000):
            while Job._process_due_batch():
                pass
        for flow in self.env["salesjet.flow"].search([("goal_enabled", "=", True)]):
            flow._convert_reached(now=when)
        self.deliver(when)

    def deliver(self, when):
        """The mail and SMS queues: what the steps queued is sent (as Odoo's gateway would, auto-deleted),
        and each contact's reaction is put on the clock."""
        mails = self.env["mail.mail"].search([("id", ">", self.first_mail_id), ("state", "=", "outgoing")])
        if mails:
            mails.mailing_trace_ids.set_sent()
            mails.write({"state": "sent"})
            mails.filtered("auto_delete").unlink()
        sms = self.env["sms.sms"].search([("id", ">", self.first_sms_id), ("state", "=", "outgoing")])
        sms.unlink()
        jobs = self.env["salesjet.flow.job"].search([
            ("id", ">", self.first_job_id), ("state", "=", "done"), ("date_done", ">", self.delivered),
            ("date_done", "<=", when)], order="id")
        self.delivered = when
        for job in jobs:
            step = job.step_id
            if job.mailing_trace_id:
                opens, clicks = ENGAGEMENT.get(step.branch_id.name or "default", ENGAGEMENT["default"])
                if self.rng.random() < opens:
                    opened = self.later(when, 1, 30)
                    self.at(opened, self.open_trace, job.mailing_trace_id.id)
                    if self.rng.random() < clicks:
                        self.at(self.later(opened, 0, 2), self.click_trace, job.mailing_trace_id.id, job.id)
            elif step.action_type == "chain_message" and step.chain_message_id.button_ids:
                buttons = step.chain_message_id.button_ids.filtered(lambda b: b.kind != "link")
                if buttons and self.rng.random() < CHAIN_ANSWER:
                    self.at(self.later(when, 1, 20), self.answer, job.enrollment_id.id, self.rng.choice(buttons).id)

    # ---- what contacts do ----

    def open_trace(self, when, trace_id):
        self.env["mailing.trace"].browse(trace_id).set_opened()

    def click_trace(self, when, trace_id, job_id):
        """A click on the email's first tracked link, as the link tracker's redirection records it (an email
        without a link gets no click)."""
        trace = self.env["mailing.trace"].browse(trace_id)
        tracker = self.env["link.tracker"].search([("mass_mailing_id", "=", trace.mass_mailing_id.id)], limit=1)
        if not tracker:
            return
        self.env["link.tracker.click"].add_click(
            tracker.code, ip=f"198.51.100.{trace_id % 250}", country_code=False, mailing_trace_id=trace.id)
        job = self.env["salesjet.flow.job"].browse(job_id)
        if not job.flow_id.goal_enabled:
            return
        # the first clicker whose run still runs always buys, soon: the demo shows a conversion whatever the ids
        # the database gives (the split's hash depends on them)
        first = not self.bought and job.enrollment_id.state == "running"
        if first or self.rng.random() < BUY_AFTER_CLICK:
            self.at(self.later(when, 1, 2) if first else self.later(when, 2, 48), self.buy, job.partner_id.id)
            self.bought = self.bought or first

    def answer(self, when, enrollment_id, button_id):
        enrollment = self.env["salesjet.flow.enrollment"].browse(enrollment_id)
        self.env["salesjet.chain.answer"]._record(enrollment, self.env["salesjet.chain.button"].browse(button_id))

    def buy(self, when, partner_id):
        tag = self.env.ref("salesjet_flows.tag_vip")
        self.env["res.partner"].browse(partner_id).write({"category_id": [(4, tag.id)]})

    def post(self, when, code, partner_id, data, key):
        self.env["salesjet.event"].post(code, partner_id, data=data, external_id=f"demo-history:{key}",
                                        source="demo history")

    def call(self, when, post):
        post()

    def launch(self, when, flow_id):
        flow = self.env["salesjet.flow"].browse(flow_id)
        for trigger in flow.trigger_ids.filtered(lambda t: t.trigger_type == "segment"):
            flow._launch_segment(trigger)


def _make_contacts(env, rng, count):
    """``count`` demo contacts, a quarter of them working for a company (the nurture flow's segment)."""
    companies = env["res.partner"].create([{"name": name, "is_company": True,
                                            "email": f"info@{name.split()[0].lower()}.example.com"}
                                           for name in COMPANIES])
    names = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(names)
    values = []
    for i in range(count):
        name = names[i % len(names)]
        email = f"{name.lower().replace(' ', '.')}.{i}@example.com"
        vals = {"name": name, "email": email, "mobile": f"+1 415 555 {i % 10000:04d}"}
        if i % 4 == 0:
            vals["parent_id"] = companies[i // 4 % len(companies)].id
        values.append(vals)
    return env["res.partner"].create(values)


def _make_ab_flow(env):
    """The spring offer's subject line test: a split tests two emails on 30% of the subscribers, the winner
    on clicks takes the other 70%; buying (the VIP tag) is the flow's goal."""
    flow = env["salesjet.flow"].create({
        "name": "Spring offer: subject line A/B test",
        "kind": "manual", "reentry_policy": "once", "user_id": env.ref("base.user_admin").id,
        "goal_enabled": True, "goal_domain": f"[('category_id', 'in', [{env.ref('salesjet_flows.tag_vip').id}])]",
        "description": "Tests two subject lines of the spring offer on 30% of the newsletter subscribers; "
                       "after two days the one with more clicks goes to the other 70%. A contact who "
                       "buys (tagged VIP) has converted.",
    })
    env["salesjet.flow.trigger"].create({
        "flow_id": flow.id, "trigger_type": "segment",
        "partner_domain": f"[('category_id', 'in', [{env.ref('salesjet_flows.tag_subscriber').id}])]",
    })
    def body(version):
        # a link of its own per email: link trackers are shared by URL, and a click counts for its email's mailing
        return ("<p>Hello {{ object.name ||| friend }},</p><p>Spring is here: 20% off the whole shop until "
                f"Sunday.</p><p><a href='https://shop.example.com/spring?v={version}'>See the spring offer</a></p>")
    Step = env["salesjet.flow.step"]
    split = Step.create({
        "flow_id": flow.id, "sequence": 10, "name": "Subject line test", "action_type": "split",
        "split_criterion": "clicks", "split_test_share": 30, "split_test_value": 2, "split_test_unit": "days",
        "branch_ids": [(0, 0, {"name": "A", "percentage": 50, "sequence": 1}),
                       (0, 0, {"name": "B", "percentage": 50, "sequence": 2})],
    })
    branch_a, branch_b = split.branch_ids
    email = {"action_type": "email", "email_source": "custom", "flow_id": flow.id}
    Step.create([
        dict(email, sequence=11, branch_id=branch_a.id, name="Version A: the discount", email_body=body("a"),
             email_subject="Spring offer: 20% off everything"),
        dict(email, sequence=12, branch_id=branch_b.id, name="Version B: the surprise", email_body=body("b"),
             email_subject="{{ object.name ||| Friend }}, your spring surprise is inside"),
        dict(email, sequence=20, name="Last call", email_body=body("last"),
             email_subject="Last day of the spring offer", timing="delay", delay_value=3, delay_unit="days"),
    ])
    flow.state = "running"
    return flow


def generate(env, contacts=300, days=42, seed=2026, tick_hours=6):
    """Give the demo database its history (once; see the module's docstring).

    :param contacts: how many demo contacts go through the flows
    :param days: how far back the history starts
    :param seed: the seed of every choice (same seed, same history)
    :return: the number of jobs the engine ran, or False when there was nothing to do (no demo data, or a
        history already made)
    """
    env = env(su=True, context=dict(env.context, lang=env.context.get("lang") or "en_US", tracking_disable=True,
                                    mail_create_nolog=True, mail_notrack=True, mail_create_nosubscribe=True))
    params = env["ir.config_parameter"]
    nurture = env.ref("salesjet_flows.flow_nurture_companies", raise_if_not_found=False)
    signup = env.ref("salesjet_flows.flow_newsletter_signup", raise_if_not_found=False)
    if not nurture or not signup or params.get_param(HISTORY_PARAM):
        return False
    started = time.monotonic()
    rng = random.Random(seed)
    end = fields.Datetime.now().replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    with Clock(env, start - timedelta(hours=1)) as clock:
        history = DemoHistory(env, clock, seed, start, end, tick_hours)
        first_job = history.first_job_id
        with clock.at(start - timedelta(hours=1)):
            partners = _make_contacts(env, rng, contacts)
            # the gallery's newsletter welcome flow, archived in the demo data, is brought to life
            welcome = env.ref("salesjet_flows.flow_newsletter_welcome", raise_if_not_found=False)
            if welcome:
                welcome.active = True
        span = (end - start).total_seconds() / 60

        def moment(low=0.0, high=1.0):
            return start + timedelta(minutes=int(span * rng.uniform(low, high)))

        # two thirds sign up for the newsletter (the sign-up and welcome flows), spread over the weeks
        for partner in partners:
            if rng.random() < 0.67:
                history.at(moment(0.0, 0.98), history.post, "newsletter_signup", partner.id,
                           {"list": "Weekly news"}, f"signup:{partner.id}")
        # one in four registers on the aquarium landing page (the pet shop's message chain)
        for partner in partners:
            if rng.random() < 0.25:
                history.at(moment(0.05, 0.95), history.post, "landing_signup", partner.id,
                           {"page": "/aquarium", "url": "https://petshop.example.com/aquarium"},
                           f"aquarium:{partner.id}")
        # what the bridges' sources post (a purchase at the pet shop...)
        for share, post in env["salesjet.event"]._demo_history_facts(partners, rng):
            history.at(moment(share, share), history.call, post)
        # the nurture flow is launched once for its segment, early on
        history.at(start + timedelta(days=2, hours=1), history.launch, nurture.id)
        # the spring offer's A/B test, halfway (three weeks ago by default), for the subscribers of the time
        launch_at = moment(0.5, 0.5)
        with clock.at(launch_at - timedelta(days=1)):
            ab_flow = _make_ab_flow(env)
        history.at(launch_at, history.launch, ab_flow.id)
        history.run()
    params.set_param(HISTORY_PARAM, fields.Datetime.to_string(end))
    env.flush_all()
    env.cr.execute(SQL("SELECT count(*) FROM salesjet_flow_job WHERE id > %s AND state <> 'pending'", first_job))
    ran = env.cr.fetchone()[0]
    _logger.info("demo history: %s contacts, %s jobs run over %s days, in %.0f s",
                 contacts, ran, days, time.monotonic() - started)
    return ran
