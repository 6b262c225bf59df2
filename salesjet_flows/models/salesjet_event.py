"""Event sources: the kinds of events that real Odoo happenings raise, and how
an event whose contact is not known yet (a website form's lead, a Facebook
lead) finds or creates it when it is processed, so that a failure there leaves
the event stored and retried by the event cron instead of losing it."""
import functools
import json
import logging
import traceback
import uuid

from dateutil.relativedelta import relativedelta
from psycopg2.extensions import TRANSACTION_STATUS_INERROR

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..tools.arrays import array_literal
from ..tools.form_values import FormValueError, convert_form_value
from ..tools.prepared import execute_statement, number_parameters
from ..tools.secrets import redact_known
from .salesjet_flow import REENTRY_KEYS, reentry_allows
from .salesjet_flow_job import LOCK_QUEUE_SHARED, insert_pending, scheduler_check

_logger = logging.getLogger(__name__)

# Event kinds: what happened to a contact, from the event sources of this module (website, mailings,
# Facebook, sign-ups) or posted through the API. Bridge modules add theirs with ``selection_add`` and map a
# trigger type to them in ``salesjet.flow.trigger._event_kinds()``.
SOURCE_KINDS = [
    ("website_form", "Website form submitted"),
    ("page_visit", "Page visited"),
    ("page_leave", "Page left"),
    ("file_download", "File downloaded"),
    ("email_open", "Email opened"),
    ("email_click", "Link clicked in an email"),
    ("email_reply", "Email replied"),
    ("email_bounce", "Email bounced"),
    ("facebook_lead", "Facebook lead ad"),
    ("list_subscribe", "Subscribed to a mailing list"),
    ("signup", "Account created"),
]

# Lead events: what happens to a CRM lead (crm.lead create/write, see models/crm_lead.py); the lead's
# contact is found or created when the event is processed, as for a website form.
LEAD_KINDS = [
    ("lead_created", "Lead created"),
    ("lead_stage", "Lead reaches a stage"),
    ("lead_assigned", "Lead assigned"),
    ("lead_won", "Lead won"),
    ("lead_lost", "Lead lost"),
]

EVENT_KINDS = [("api", "API event"), *SOURCE_KINDS, *LEAD_KINDS]

EVENT_STATES = [
    ("new", "New"),
    ("done", "Processed"),
    ("failed", "Failed"),
]

EVENT_MAX_ATTEMPTS = 5


def contains_nul(value):
    """Whether a JSON-like value holds a NUL character anywhere (keys included).

    PostgreSQL text and jsonb cannot store NUL: without this check such an event
    made ``create`` fail with a database error (a 500 on the inbound API).
    """
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(v) for v in value)
    return False

EVENT_BATCH_SIZE = 200

# Above this many events at once (an import), they are left to the event cron.
INLINE_EVENTS = 50

VISIT_WINDOW = 1800


class _Name:
    """A parameter of a statement composed once, named: its value is given at each execution."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


@functools.cache
def _direct_statement(wake):
    """(SQL code, names of its distinct parameters, their slots) of an event's direct statement
    (``_post_direct``), composed once: its text does not change from one event to the next (the flows it
    starts are arrays), so each event spares the composition of its fragments, and a value used in
    several places (the time, the user) is sent once (see ``number_parameters``). ``wake``: whether it
    checks the scheduler."""
    p = {name: _Name(name) for name in (
        "kind", "code", "partner", "company", "data", "source", "external_id", "state", "attempts",
        "date_processed", "uid", "now", "cron", "f", "c", "tr", "pol", "k", "s")}
    query = SQL(
        """
        WITH ev AS (
            INSERT INTO salesjet_event (kind, code, partner_id, company_id, data, source, external_id, state,
                                        attempts, date_processed, create_uid, create_date, write_uid, write_date)
            VALUES (%(kind)s, %(code)s, %(partner)s,
                    COALESCE((SELECT company_id FROM res_partner WHERE id = %(partner)s), %(company)s),
                    %(data)s, %(source)s, %(external_id)s, %(state)s, %(attempts)s, %(date_processed)s,
                    %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC')
            ON CONFLICT (kind, company_id, external_id) DO NOTHING
            RETURNING id, company_id, create_date, partner_id, data
        ), runs AS (
            INSERT INTO salesjet_flow_enrollment
                (flow_id, partner_id, company_id, trigger_id, event_id, data, state,
                 reentry_key, date_start, create_uid, create_date, write_uid, write_date)
            SELECT t.f, ev.partner_id, t.c, t.tr, ev.id, ev.data, 'running', t.k,
                   %(now)s::timestamp, %(uid)s::int, %(now)s::timestamp, %(uid)s::int, %(now)s::timestamp
              FROM ev
              JOIN unnest(%(f)s::int[], %(c)s::int[], %(tr)s::int[], %(pol)s::varchar[], %(k)s::varchar[])
                   WITH ORDINALITY AS t(f, c, tr, pol, k, n) ON t.c = ev.company_id
             WHERE %(allowed)s
             ORDER BY t.n
            ON CONFLICT (flow_id, partner_id, reentry_key) WHERE reentry_key IS NOT NULL DO NOTHING
            RETURNING id, flow_id, partner_id, company_id, event_id
        ), jobs AS (%(jobs)s)
        SELECT ev.id, ev.company_id, ev.create_date, r.id, r.flow_id, r.partner_id, r.event_id,
               r.id IS NOT NULL AND COALESCE((%(wake)s), FALSE)
          FROM ev LEFT JOIN runs r ON TRUE
        """,
        allowed=reentry_allows(SQL("t.pol"), SQL("t.f"), SQL("ev.partner_id")),
        jobs=insert_pending(SQL(
            "SELECT r.id, r.flow_id, s.s, r.partner_id, r.company_id, %s::timestamp, 0"
            "  FROM runs r JOIN unnest(%s::int[], %s::int[]) AS s(f, s) ON s.f = r.flow_id",
            p["now"], p["f"], p["s"]), p["now"]),
        wake=scheduler_check(p["cron"], p["now"]) if wake else SQL("SELECT FALSE"),
        **{name: p[name] for name in (
            "kind", "code", "partner", "company", "data", "source", "external_id", "state", "attempts",
            "date_processed", "uid", "now", "f", "c", "tr", "pol", "k")},
    )
    return query.code, *number_parameters([param.name for param in query.params])


class SalesjetEvent(models.Model):
    _name = "salesjet.event"
    _description = "Flow Event"
    _order = "create_date desc, id desc"

    kind = fields.Selection(EVENT_KINDS, required=True, default="api", index=True)
    code = fields.Char(string="Event code", index=True, help="For API events, the code triggers listen to.")
    partner_id = fields.Many2one("res.partner", string="Contact", ondelete="set null", index="btree_not_null")
    lead_id = fields.Many2one("crm.lead", string="Lead", ondelete="set null", index="btree_not_null")
    company_id = fields.Many2one("res.company", string="Company", required=True, index=True,
                                 default=lambda self: self.env.company)
    data = fields.Json(help="What the source sent with the event; runs keep it for placeholders.")
    source = fields.Char(help="Where the event came from: a module, a form, an integration.")
    external_id = fields.Char(
        string="External ID", index="btree_not_null", copy=False,
        help="The source's own id for this event: an event posted twice with the same id is stored once.")
    data_text = fields.Text(string="Data (readable)", compute="_compute_data_text")
    state = fields.Selection(EVENT_STATES, required=True, default="new", index=True)
    attempts = fields.Integer(default=0)
    error = fields.Text()
    date_next_attempt = fields.Datetime(string="Next attempt", help="When the event cron retries a failed event.")
    date_processed = fields.Datetime(string="Processed on")
    enrollment_ids = fields.One2many("salesjet.flow.enrollment", "event_id", string="Runs started")
    enrollment_count = fields.Integer(string="Runs", compute="_compute_enrollment_count")

    _sql_constraints = [
        ("external_id_uniq", "UNIQUE(kind, company_id, external_id)", "This event was already received."),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        # as ``post``: whoever may create events (Flows administrators) forges no purchase or sign-up
        if not self.env.su:
            for vals in vals_list:
                if vals.get("kind", "api") != "api":
                    raise AccessError(_("You may post API events only (kind “api”); events of kind “%s” are "
                                        "posted by Odoo itself.", vals["kind"]))
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su and vals.get("kind", "api") != "api":
            raise AccessError(_("You may post API events only (kind “api”); events of kind “%s” are "
                                "posted by Odoo itself.", vals["kind"]))
        return super().write(vals)

    @api.depends("kind", "code", "partner_id")
    def _compute_display_name(self):
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for event in self:
            label = event.code or kinds.get(event.kind, "")
            event.display_name = f"{label} · {event.partner_id.display_name}" if event.partner_id else label

    def _compute_enrollment_count(self):
        data = dict(self.env["salesjet.flow.enrollment"]._read_group(
            [("event_id", "in", self.ids)], ["event_id"], ["__count"]))
        for event in self:
            event.enrollment_count = data.get(event, 0)

    # ------------------------------------------------------------------
    # Public API
    # ------------------------------------------------------------------

    @api.model
    def post(self, code, partner=None, lead=None, data=None, external_id=None, source=None, kind="api",
             process=True):
        """Store an event and start the flows it triggers.

        The event is stored first; processing runs in a savepoint, so an
        error leaves the event stored as failed for the retry cron.

        Example::

            env['salesjet.event'].post('newsletter_signup', partner, data={'list': 'Weekly'})

        :param str code: the event code API triggers listen to
        :param partner: ``res.partner`` record or id
        :param lead: ``crm.lead`` record or id; its contact is used when no partner is given
        :param dict data: JSON-serialisable data kept on the runs for placeholders
        :param str external_id: the source's id; an event already received with it is returned as is
        :param bool process: process now (default) or leave it to the event cron
        :return: the ``salesjet.event`` record
        """
        # ``post`` is public, so reachable through JSON-RPC, and it stores with sudo: without this
        # check a portal user could post events and start flows for any contact
        # (found by tests/test_access.py). Odoo code posts with sudo(); the inbound API as a Flows user.
        if not self.env.su and not self.env.user.has_group("salesjet_flows.group_salesjet_user"):
            raise AccessError(_("Only Flows users may post flow events."))
        # Other kinds (purchases, sign-ups, email opens...) are facts Odoo itself records, posted by its
        # code in sudo: a forged one over JSON-RPC would start loyalty scenarios or grant points.
        if not self.env.su and kind != "api":
            raise AccessError(_("You may post API events only (kind “api”); events of kind “%s” are posted by "
                                "Odoo itself.", kind))
        if data is not None and not isinstance(data, dict):
            raise UserError(_("Event data must be a dictionary of values."))
        # found by tests/test_hostile_input.py: refuse NUL cleanly instead of a database error
        if contains_nul([code, data, external_id, source]):
            raise UserError(_("Event code and data cannot contain NUL characters."))
        partner = self.env["res.partner"].browse(partner.id if hasattr(partner, "id") else partner or [])
        lead = self.env["crm.lead"].browse(lead.id if hasattr(lead, "id") else lead or [])
        vals = {"kind": kind, "code": code, "partner_id": partner.id, "lead_id": lead.id, "data": data or {},
                "source": source, "external_id": external_id or False, "state": "new", "attempts": 0,
                "date_processed": False}
        if process:
            # stored as processed at once: a failing dispatch rewrites it as failed (the event row is
            # outside the dispatch's savepoint), which saves an UPDATE per event on the hot path
            vals.update(state="done", date_processed=fields.Datetime.now(), attempts=1)
        event = self._post_direct(vals) if process else None
        if event is None:
            event = self._insert_received([vals])[0]
            dispatch = process
        else:
            dispatch = False  # stored and dispatched in one round trip
        if not event:
            # the event of this kind and company already received with this external id (before, or at
            # the same moment through another transaction)
            partner.fetch(["company_id"])
            lead.fetch(["company_id"])
            return self._find_received(kind, external_id, partner.company_id or lead.company_id or self.env.company)
        if dispatch:
            event._dispatch_safely(attempts=1)
        elif not process:
            cron = self.env.ref("salesjet_flows.ir_cron_salesjet_process_events", raise_if_not_found=False)
            if cron:
                cron._trigger()
        return event

    @api.model
    def _post_api_batch(self, items, source="api"):
        """Store and process many API events at once, set-based: what ``post`` does for each, with one
        insert of the events (``_insert_received``), one enrolment statement and one job statement per
        flow (``_dispatch_grouped``), and one search per company for the external ids already received.

        An external id already received (or given twice in ``items``) is answered with its event, as
        ``post`` does. If the grouped dispatch fails, each event is dispatched on its own, so that only
        the events that fail are kept as failed for the event cron.

        :param list items: dicts with ``code``, ``partner`` (a ``res.partner`` record), ``data`` and
            ``external_id``, already validated
        :return: a list of ``(event, replayed)`` in the order of ``items``
        """
        if not self.env.su and not self.env.user.has_group("salesjet_flows.group_salesjet_user"):
            raise AccessError(_("Only Flows users may post flow events."))
        if any(item.get("data") is not None and not isinstance(item["data"], dict) for item in items):
            raise UserError(_("Event data must be a dictionary of values."))
        if contains_nul([[item.get("code"), item.get("data"), item.get("external_id")] for item in items]):
            raise UserError(_("Event code and data cannot contain NUL characters."))
        now = fields.Datetime.now()
        events = self._insert_received([{
            "kind": "api", "code": item["code"], "partner_id": item["partner"].id, "lead_id": False,
            "data": item.get("data") or {}, "source": source, "external_id": item.get("external_id") or False,
            # stored as processed at once, as ``post`` does: a failing dispatch rewrites it as failed
            "state": "done", "date_processed": now, "attempts": 1,
        } for item in items])
        created = self.sudo().union(*events)
        if created:
            try:
                with self.env.cr.savepoint():
                    created._dispatch_grouped()
            except Exception:  # noqa: BLE001 - the events are dispatched one by one, the failing ones kept
                _logger.info("SalesJet: grouped dispatch of %s events failed; dispatching them one by one",
                             len(created), exc_info=True)
                for event in created:
                    event._dispatch_safely(attempts=1)
        # the external ids already received (before, or earlier in this batch): their events, in one search
        # per company
        replayed = {}
        missing = [item for item, event in zip(items, events, strict=True) if not event]
        if missing:
            partners = self.env["res.partner"].union(*(item["partner"] for item in missing))
            partners.fetch(["company_id"])
            by_company = {}
            for item in missing:
                company = item["partner"].company_id or self.env.company
                by_company.setdefault(company, set()).add(item["external_id"])
            for company, external_ids in by_company.items():
                for event in self.sudo().search([("kind", "=", "api"), ("company_id", "=", company.id),
                                                 ("external_id", "in", list(external_ids))]):
                    replayed[company.id, event.external_id] = event
        return [(event, False) if event else
                (replayed[(item["partner"].company_id or self.env.company).id, item["external_id"]], True)
                for item, event in zip(items, events, strict=True)]

    def _dispatch_grouped(self):
        """Dispatch these new events of contacts already known (API events) together: each event's
        matching triggers as in ``_enroll_in_matching_flows`` (the first of a flow that accepts the contact;
        found once per kind, company and code where every candidate trigger is an API trigger), a trigger's
        contact filter applied once to all the contacts, then one ``_enroll_events`` for all."""
        Trigger = self.env["salesjet.flow.trigger"].sudo()
        accepted = {}  # trigger id -> ids of this batch's contacts its contact filter accepts
        matching = {}  # (kind, company id, code) -> matching triggers, when they depend on nothing else
        entries = []
        for event in self:
            partner = event._get_partner()
            if not partner:
                continue
            key = (event.kind, event.company_id.id, (event.code or "").strip())
            if key not in matching:
                candidates = Trigger._cached_triggers(key[0], key[1])
                by_code = all(row[1] == "api" for row in candidates)
                matching[key] = event._matching_triggers() if by_code else None
            done_flows = set()
            for trigger_id, _type, _code, flow_id, partner_domain in (
                    matching[key] if matching[key] is not None else event._matching_triggers()):
                if flow_id in done_flows:
                    continue
                if partner_domain and partner_domain.strip() not in ("[]", ""):
                    if trigger_id not in accepted:
                        contacts = self.partner_id | self.lead_id.partner_id
                        accepted[trigger_id] = set(contacts.filtered_domain(
                            Trigger.browse(trigger_id)._get_partner_domain()).ids)
                    if partner.id not in accepted[trigger_id]:
                        continue
                done_flows.add(flow_id)
                entries.append((flow_id, partner.id, trigger_id, event.id, event.lead_id.id, event.data))
        self.env["salesjet.flow"].sudo()._enroll_events(entries)

    @api.model
    def _insert_received(self, vals_list):
        """Store events with one statement (an event's hot path, and a batch's, see bench/): each one's
        company is read by the statement itself (its contact's, else its lead's, else the current
        company), and an event whose kind, company and external id were already received is not stored
        (``ON CONFLICT`` on the unique constraint: also between two transactions at once, and between two
        events of ``vals_list``, where the first is stored).

        What ``create`` would do is done here: every column of ``vals`` plus the company and the log
        fields (the transaction's time, as the ORM takes it), and the records' cache holds what was
        written. ``create`` computes defaults record by record, which cost a batch of 500 events more
        than the rest of its processing (profiled). The caller has checked the rights and the kinds
        (see ``post``).

        :param list vals_list: dicts of kind, code, partner_id, lead_id, data, source, external_id, state,
            attempts, date_processed (False for none)
        :return: a list of the new events (sudo) in the order of ``vals_list``, with an empty recordset
            where an external id was already received
        """
        self.env["res.partner"].flush_model(["company_id"])
        if any(vals["lead_id"] for vals in vals_list):
            self.env["crm.lead"].flush_model(["company_id"])
        def column(key, convert=lambda value: value or None):
            return array_literal([convert(vals[key]) for vals in vals_list])

        def text(value):
            # as the ORM: an empty string stays one
            return None if value is None or value is False else value

        self.env.cr.execute(SQL(
            """
            INSERT INTO salesjet_event (kind, code, partner_id, lead_id, company_id, data, source, external_id, state,
                                        attempts, date_processed, create_uid, create_date, write_uid, write_date)
            SELECT t.kind, t.code, t.partner, t.lead, COALESCE(p.company_id, l.company_id, %(company)s), t.data,
                   t.source, t.external_id, t.state, t.attempts, t.date_processed,
                   %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
              FROM unnest(%(kind)s::varchar[], %(code)s::varchar[], %(partner)s::int[], %(lead)s::int[],
                          %(data)s::jsonb[], %(source)s::varchar[], %(external_id)s::varchar[], %(state)s::varchar[],
                          %(attempts)s::int[], %(date_processed)s::timestamp[])
                   WITH ORDINALITY AS t(kind, code, partner, lead, data, source, external_id, state, attempts,
                                        date_processed, n)
              LEFT JOIN res_partner p ON p.id = t.partner
              LEFT JOIN crm_lead l ON l.id = t.lead
             ORDER BY t.n
            ON CONFLICT (kind, company_id, external_id) DO NOTHING
            RETURNING id, company_id, create_date, external_id, partner_id, lead_id
            """,
            company=self.env.company.id, uid=self.env.uid, kind=column("kind"), code=column("code", text),
            partner=column("partner_id"), lead=column("lead_id"), source=column("source", text),
            external_id=column("external_id"), state=column("state"), attempts=column("attempts", int),
            date_processed=column("date_processed"),
            data=column("data", lambda value: json.dumps(value) if value else None),
        ))
        # RETURNING gives the stored rows in the order of the SELECT (the ORM's create relies on it too):
        # an event missing from them is one whose external id was already received. Two events of the same
        # contact and lead belong to the same company, so the contact, the lead and the external id tell
        # a row from the one of the next event.
        rows = iter(self.env.cr.fetchall())
        row = next(rows, None)
        events, stored, stored_vals = [], [], []
        for vals in vals_list:
            if row and (row[3], row[4], row[5]) == (vals["external_id"] or None, vals["partner_id"] or None,
                                                    vals["lead_id"] or None):
                events.append(self.sudo().browse(row[0]))
                stored.append(row)
                stored_vals.append(vals)
                row = next(rows, None)
            else:
                events.append(self.sudo().browse())
        self._cache_received(stored, stored_vals)
        return events

    @api.model
    @tools.ormcache("kind", "code")
    def _direct_plan(self, kind, code):
        """The runs an event of ``kind`` and ``code`` starts on the direct path, as a tuple of (flow, trigger,
        company, re-entry policy, first step) per flow; None when such an event takes the general path
        (a trigger of the kind that is not a plain API trigger, or a filter on contacts, or a first step not
        due at once) or starts nothing. Cached with the triggers and flows it reads (cleared with them)."""
        Trigger = self.env["salesjet.flow.trigger"].sudo()
        Flow = self.env["salesjet.flow"].sudo()
        entries, seen = [], set()
        for company_id in Trigger._listening_company_ids(kind):
            candidates = Trigger._cached_triggers(kind, company_id)
            if any(trigger_type != "api" or (partner_domain and partner_domain.strip() not in ("[]", ""))
                   for _id, trigger_type, _code, _flow, partner_domain in candidates):
                return None
            for trigger_id, _type, event_code, flow_id, _domain in candidates:
                if flow_id in seen or (event_code or "").strip() != code:
                    continue
                seen.add(flow_id)
                listens, flow_company_id, policy, first_step_id, due_at_once = Flow._engine_info(flow_id)
                if not due_at_once:
                    return None
                if listens:
                    entries.append((flow_id, trigger_id, flow_company_id, policy, first_step_id))
        # nothing to enrol: the general path stores the event in one statement
        return tuple(entries) or None

    @api.model
    def _post_direct(self, vals):
        """Store an event and start its runs in one round trip, when its dispatch would only enrol its contact:
        the contact given (no lead, nothing to resolve, not a website form) and every trigger listening to
        its kind, in any company, an API trigger without contact filter whose flow's first step is due at
        once. One statement opens a savepoint, inserts the event (as ``_insert_received``: its company read
        by the statement, ``ON CONFLICT`` on a known external id), the runs of the flows of its company
        and code (as ``_enroll_events``) and their first jobs. An error rolls back to the
        savepoint and leaves the event to the general path, which stores it and keeps it failed if its
        dispatch fails again.

        :return: the event; an empty recordset when its external id was already received; None when the
            event takes the general path (nothing stored)
        """
        kind = vals["kind"]
        if (kind == "website_form" or not vals["partner_id"] or vals["lead_id"]
                or getattr(self, f"_resolve_{kind}", None)):
            return None
        entries = self._direct_plan(kind, (vals["code"] or "").strip())
        if not entries:
            return None
        Flow = self.env["salesjet.flow"].sudo()
        self.env.flush_all()
        now = fields.Datetime.now()
        savepoint = f"salesjet_event_{uuid.uuid4().hex}"
        policies = [entry[3] for entry in entries]
        # the statement checks the scheduler (scheduler_check) on ir.cron, flushed just above
        cron_id = self.env["salesjet.flow.job"]._scheduler_cron_id()
        code, names, slots = _direct_statement(bool(cron_id))
        values = {
            "kind": kind, "code": vals["code"], "partner": vals["partner_id"], "company": self.env.company.id,
            "data": json.dumps(vals["data"]) if vals["data"] else None,
            "source": None if vals["source"] is False else vals["source"], "external_id": vals["external_id"] or None,
            "state": vals["state"], "attempts": vals["attempts"], "date_processed": vals["date_processed"] or None,
            "uid": self.env.uid, "now": now, "cron": cron_id, "f": [entry[0] for entry in entries],
            "c": [entry[2] for entry in entries], "tr": [entry[1] for entry in entries], "pol": policies,
            "k": [REENTRY_KEYS[policy] for policy in policies], "s": [entry[4] for entry in entries],
        }
        try:
            # the scheduler's lock is taken before the statement that checks the scheduler (scheduler_check)
            before = f'SAVEPOINT "{savepoint}"; {LOCK_QUEUE_SHARED}' if cron_id else f'SAVEPOINT "{savepoint}"'
            execute_statement(self.env.cr, code, [values[name] for name in names], before=before, slots=slots)
        except Exception:
            # sent and failed: the savepoint, opened first in the same round trip, exists
            if self.env.cr.connection.get_transaction_status() != TRANSACTION_STATUS_INERROR:
                raise
            Flow._rollback_to(savepoint)
            _logger.info("SalesJet: direct dispatch failed; the event takes the general path", exc_info=True)
            return None
        rows = self.env.cr.fetchall()
        if not rows:
            return self.sudo().browse()
        self._cache_received([rows[0][:3]], [vals])
        if rows[0][3]:
            # the runs and their first jobs were written with SQL (after a flush: nothing to write)
            Flow._invalidate_engine_cache(flush=False)
            if any(row[7] for row in rows):
                self.env["ir.cron"].browse(cron_id)._trigger(at=now)
        return self.sudo().browse(rows[0][0])

    @api.model
    def _cache_received(self, stored, stored_vals):
        """Put what ``_insert_received`` wrote in the records' cache, field by field for all (a batch reads
        them next). ``stored``: (id, company id, create date) of each of ``stored_vals``."""
        def text(value):
            return None if value is None or value is False else value

        records = self.sudo().browse([row[0] for row in stored])
        cache, uid = self.env.cache, self.env.uid
        for fname, values in (
            ("kind", [vals["kind"] for vals in stored_vals]),
            ("code", [text(vals["code"]) for vals in stored_vals]),
            ("partner_id", [vals["partner_id"] or None for vals in stored_vals]),
            ("lead_id", [vals["lead_id"] or None for vals in stored_vals]),
            ("data", [self._fields["data"].convert_to_cache(vals["data"], records) for vals in stored_vals]),
            ("source", [text(vals["source"]) for vals in stored_vals]),
            ("external_id", [vals["external_id"] or None for vals in stored_vals]),
            ("state", [vals["state"] for vals in stored_vals]),
            ("attempts", [vals["attempts"] for vals in stored_vals]),
            ("date_processed", [vals["date_processed"] or None for vals in stored_vals]),
            ("company_id", [row[1] for row in stored]),
            ("create_date", [row[2] for row in stored]),
            ("write_date", [row[2] for row in stored]),
            ("create_uid", [uid] * len(stored)),
            ("write_uid", [uid] * len(stored)),
            ("error", [None] * len(stored)),
            ("date_next_attempt", [None] * len(stored)),
        ):
            cache.update(records, self._fields[fname], values)

    @api.model
    def _find_received(self, kind, external_id, company):
        """The event of ``kind`` already received with ``external_id`` by ``company``, if any.

        External ids are the sources' own and unique per company: another company's event with the
        same id is another event (and is never answered to this company).
        """
        return self.sudo().search([("kind", "=", kind), ("company_id", "=", company.id),
                                   ("external_id", "=", external_id)], limit=1)

    # ------------------------------------------------------------------
    # Processing
    # ------------------------------------------------------------------

    def _process(self):
        """Dispatch each event to the flows whose triggers match; errors are kept on the event."""
        for event in self:
            attempts = event.attempts + 1
            if event._dispatch_safely(attempts):
                event.write({"state": "done", "date_processed": fields.Datetime.now(), "error": False,
                             "attempts": attempts})

    def _dispatch_safely(self, attempts):
        """Dispatch this event in a savepoint; on error, keep the event as failed for a retry.

        :param int attempts: the number of this attempt
        :return: whether the dispatch succeeded
        """
        self.ensure_one()
        try:
            if not self._dispatch_direct():
                with self.env.cr.savepoint():
                    self._dispatch()
        except Exception:  # noqa: BLE001 - the event stays stored for a retry
            # Flows users read event errors: no token quoted by an exception (a URL, a header) may stay in it
            error = redact_known(self.env, traceback.format_exc(limit=5))
            _logger.warning("SalesJet event %s failed:\n%s", self.id, error)
            self.write({"state": "failed", "error": error, "attempts": attempts,
                        "date_processed": False,
                        # 1, 4, 16, 64 minutes
                        "date_next_attempt": fields.Datetime.now() + relativedelta(minutes=4 ** (attempts - 1))})
            return False
        return True

    def _dispatch_direct(self):
        """``_dispatch`` in the fewest round trips, for the usual event: its contact known, nothing to resolve
        or to write on the contact, and every candidate trigger an API trigger without contact filter
        whose flow's first step is due at once. The runs of every matching flow are inserted by one statement
        and their first jobs by one more (``_enroll_events``); the first statement also opens the savepoint
        an error rolls back to, and the commit releases it (an event otherwise pays a round trip for each).

        :return: False, having done nothing, when the event needs ``_dispatch``
        """
        if self.kind == "website_form" or not self.partner_id or getattr(self, f"_resolve_{self.kind}", None):
            return False
        candidates = self.env["salesjet.flow.trigger"].sudo()._cached_triggers(self.kind, self.company_id.id)
        if any(trigger_type != "api" or (partner_domain and partner_domain.strip() not in ("[]", ""))
               for _id, trigger_type, _code, _flow, partner_domain in candidates):
            return False
        Flow = self.env["salesjet.flow"].sudo()
        matching = self._matching_triggers()
        if any(not Flow._engine_info(flow_id)[4] for _id, _type, _code, flow_id, _domain in matching):
            return False
        entries, done_flows = [], set()
        for trigger_id, _type, _code, flow_id, _domain in matching:
            if flow_id not in done_flows:
                done_flows.add(flow_id)
                entries.append((flow_id, self.partner_id.id, trigger_id, self.id, self.lead_id.id, self.data))
        if not entries:
            return True
        # an error rolls back to the savepoint (see _enroll_events) and reaches _dispatch_safely
        Flow._enroll_events(entries, savepoint=f"salesjet_event_{self.id}")
        return True

    def _get_partner(self):
        """The contact this event is about: its own, or its lead's."""
        self.ensure_one()
        return self.partner_id or self.lead_id.partner_id

    def _matching_triggers(self):
        """Triggers of active flows of the event's company that start a flow for this event.

        The candidate triggers come from a registry cache (flows and triggers
        change rarely, events come often); only trigger types with parameters
        beyond an event code are asked ``_matches_event``.
        """
        self.ensure_one()
        Trigger = self.env["salesjet.flow.trigger"].sudo()
        code = (self.code or "").strip()
        matching = []
        for row in Trigger._cached_triggers(self.kind, self.company_id.id):
            trigger_id, trigger_type, event_code = row[:3]
            if trigger_type == "api":
                if (event_code or "").strip() == code:
                    matching.append(row)
            elif Trigger.browse(trigger_id)._matches_event(self):
                matching.append(row)
        return matching

    def _dispatch(self):
        """Enrol the event's contact in each flow with a matching trigger (the first one that accepts it).

        An event that arrives without a contact finds it first (``_resolve_<kind>``): an error there (a
        Graph API outage) leaves the event failed and retried, never lost. A website form writes its mapped
        values on its contact first, and posts its landing-page registration after.
        """
        self.ensure_one()
        if self.kind == "website_form":
            if not self._get_partner():
                self._resolve_website_form()
            partner = self._get_partner()
            if partner:
                # the form's lead may have got its contact before (a "lead created" flow found it): the
                # visitor who sent the form is that contact all the same
                self.lead_id.sudo().visitor_ids._salesjet_link_partner(partner)
                self._apply_form_mappings(partner)
        if not self._get_partner():
            resolver = getattr(self, f"_resolve_{self.kind}", None)
            if resolver:
                resolver()
        enrollments = self._enroll_in_matching_flows()
        if self.kind == "website_form":
            self._post_landing_signup()
        return enrollments

    def _enroll_in_matching_flows(self):
        partner = self._get_partner()
        enrollments = self.env["salesjet.flow.enrollment"]
        if not partner:
            return enrollments
        done_flows = set()
        for trigger_id, _type, _code, flow_id, partner_domain in self._matching_triggers():
            if flow_id in done_flows:
                continue
            if partner_domain and partner_domain.strip() not in ("[]", ""):
                trigger = self.env["salesjet.flow.trigger"].sudo().browse(trigger_id)
                if not partner.filtered_domain(trigger._get_partner_domain()):
                    continue
            done_flows.add(flow_id)
            flow = self.env["salesjet.flow"].sudo().browse(flow_id)
            enrollments |= flow._enroll([partner.id], trigger=self.env["salesjet.flow.trigger"].browse(trigger_id),
                                        event=self, lead=self.lead_id, data=self.data)
        return enrollments

    @api.model
    def _cron_process_events(self):
        """Scheduled action: process new events and retry failed ones, for one call's time budget."""
        def retryable():
            return SQL("state = 'new' OR (state = 'failed' AND attempts < %s AND date_next_attempt <= %s)",
                       EVENT_MAX_ATTEMPTS, fields.Datetime.now())

        def run_batch(limit):
            self.env.flush_all()
            self.env.cr.execute(SQL(
                "SELECT id FROM salesjet_event WHERE %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                retryable(), limit,
            ))
            events = self.browse([row[0] for row in self.env.cr.fetchall()])
            events._process()
            return len(events)

        return self.env["salesjet.cron"]._run_batches(
            run_batch, lambda: self.env["salesjet.cron"]._count_capped(
                SQL("SELECT 1 FROM salesjet_event WHERE %s", retryable())),
            EVENT_BATCH_SIZE, key="salesjet.event")

    def action_retry(self):
        # processing writes runs and jobs with SQL: the caller must be allowed to change these events
        self.check_access("write")
        self.filtered(lambda e: e.state != "done")._process()
        return True

    def action_view_enrollments(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("salesjet_flows.salesjet_flow_enrollment_action")
        action["domain"] = [("event_id", "=", self.id)]
        action["context"] = {}
        return action

    @api.depends("data")
    def _compute_data_text(self):
        for record in self:
            record.data_text = json.dumps(record.data, indent=2, ensure_ascii=False, default=str) if record.data else ""

    # ---- Message chains ----
    # A website form sent from a landing page is a registration from that page.
    def _post_landing_signup(self):
        """Post the ``landing_signup`` event of a website form's contact when the form's page (its
        Referer) is the page of a "registers from a landing page" trigger. Its external id, the form
        event's, makes a retried form event post it once."""
        data = self.data or {}
        page = str(data.get("url") or data.get("path") or "").lower()
        pages = self.env["salesjet.flow.trigger"]._landing_pages(self.company_id.id)
        partner = self._get_partner()
        if not partner or not any(landing.lower() in page for landing in pages):
            return
        self.sudo().with_company(self.company_id).post(
            "landing_signup", partner, lead=self.lead_id, external_id=f"website_form:{self.id}",
            source="website_form", data={"page": data.get("path") or "", "url": data.get("url") or "",
                                         "lead_id": self.lead_id.id or False})

    # ---- Event sources ----

    def _resolve_website_form(self):
        """Find or create the contact of the form's lead, by email then phone, and link the lead to it."""
        self._resolve_lead_contact()

    def _resolve_lead_contact(self):
        """Find or create the contact of the event's lead, by email then phone, and link the lead to it (a
        lead without email, phone nor name has none: the event is kept, without a run)."""
        lead = self.lead_id.sudo()
        if not lead:
            return
        partner = self.env["res.partner"]._salesjet_find_or_create([{
            "email": lead.email_from, "phone": lead.phone, "name": lead.contact_name or lead.partner_name,
            "country_id": lead.country_id.id,
        }], company=lead.company_id)[0]
        if partner:
            lead.partner_id = partner
            self.partner_id = partner

    # ---- Facebook lead ads ----
    def _resolve_facebook_lead(self):
        """Read the lead from Facebook, then find or create its contact (retried by the cron on failure)."""
        data = dict(self.data or {})
        form = self.env["salesjet.facebook.form"].sudo().browse(data.get("facebook_form_id")).exists()
        if not form:
            raise UserError(_("The Facebook form of this lead was deleted."))
        answers = form._fetch_lead(data["leadgen_id"])
        values = form._map_to_partner(answers)
        partner = self.env["res.partner"]._salesjet_find_or_create([values], company=form.company_id)[0]
        data["fields"] = answers
        # the ad's lead becomes a CRM lead of the contact, which the run keeps (lead steps, conditions)
        lead = form._create_crm_lead(partner, answers) if partner else self.env["crm.lead"]
        data["lead_id"] = lead.id or False
        self.write({"partner_id": partner.id, "lead_id": lead.id, "data": data})

    # ---- Form data ----
    form_skipped = fields.Text(
        string="Form values skipped", readonly=True,
        help="The mapped form values that were not written on the contact, and why.",
    )

    def _apply_form_mappings(self, partner):
        """Write the mapped form values of the matching triggers on ``partner``, skipping (with a reason
        kept in ``form_skipped``) those that do not convert or that the database refuses."""
        self.ensure_one()
        trigger_ids = [row[0] for row in self._matching_triggers()]
        lines = self.env["salesjet.flow.trigger"].sudo().browse(trigger_ids).form_mapping_ids
        if not lines:
            return
        form_values = (self.data or {}).get("fields") or {}
        Partner = self.env["res.partner"].sudo()
        values, skipped = {}, []
        for line in lines:
            raw = form_values.get(line.form_field.strip())
            fname = line.partner_field_id.name
            if raw is None or str(raw).strip() == "" or fname in values or fname not in Partner._fields:
                continue
            try:
                values[fname] = convert_form_value(self.env, Partner._fields[fname], raw, company=self.company_id)
            except FormValueError as e:
                skipped.append(_("%(form)s → %(field)s: %(reason)s", form=line.form_field,
                                 field=line.partner_field_id.field_description, reason=e.args[0]))
        partner = partner.sudo()
        if values:
            try:
                with self.env.cr.savepoint():
                    partner.write(values)
            except Exception:  # noqa: BLE001 - one refused value must not lose the others
                for fname, value in values.items():
                    try:
                        with self.env.cr.savepoint():
                            partner.write({fname: value})
                    except Exception as e:  # noqa: BLE001
                        skipped.append(_("%(field)s: the value “%(value)s” was refused (%(error)s)",
                                         field=Partner._fields[fname]._description_string(self.env), value=value,
                                         error=str(e).splitlines()[0][:200] if str(e) else type(e).__name__))
        self.form_skipped = "\n".join(skipped) or False

    # ---- Event sources ----
    @api.model
    def _post_safely(self, items, kind, source, company=None):
        """Post one event per ``(partner, data, external_id)`` of ``items`` for the contacts of companies
        listening to ``kind``; errors are logged, never raised to the source.

        :param company: the event's company (a website's); default: the contact's, else the current one
        """
        listening = self.env["salesjet.flow.trigger"]._listening_company_ids(kind)
        if not listening:
            return
        items = [(partner, data, external_id, company or partner.company_id or self.env.company)
                 for partner, data, external_id in items if partner]
        items = [item for item in items if item[3].id in listening]
        process = len(items) <= INLINE_EVENTS
        for partner, data, external_id, event_company in items:
            try:
                with self.env.cr.savepoint():
                    self.sudo().with_company(event_company).post(
                        None, partner, data=data, external_id=external_id, source=source, kind=kind,
                        process=process)
            except Exception:  # noqa: BLE001 - the source must go on
                _logger.exception("SalesJet: could not post a %s event for contact %s", kind, partner.id)

    # ---- Leads ----
    def _resolve_lead(self):
        """A lead event whose lead has no contact: find or create it as for a website form (by email, then
        phone), only when a flow of the event's company starts for it (no contact for a lead nobody listens to)."""
        if self.lead_id and self._matching_triggers():
            self._resolve_lead_contact()

    _resolve_lead_created = _resolve_lead
    _resolve_lead_stage = _resolve_lead
    _resolve_lead_assigned = _resolve_lead
    _resolve_lead_won = _resolve_lead
    _resolve_lead_lost = _resolve_lead

    @api.model
    def _post_lead_events(self, items):
        """Post one event per ``(kind, lead, data, external_id)`` of ``items`` whose lead's company has a
        running flow listening to ``kind``; errors are logged, never raised to the lead's create or write.

        Above ``INLINE_EVENTS`` events at once (an import, a mass edit) they are left to the event cron.
        """
        Trigger = self.env["salesjet.flow.trigger"]
        todo = []
        for kind, lead, data, external_id in items:
            company = lead.company_id or self.env.company
            if company.id in Trigger._listening_company_ids(kind):
                todo.append((kind, lead, data, external_id, company))
        process = len(todo) <= INLINE_EVENTS
        for kind, lead, data, external_id, company in todo:
            try:
                with self.env.cr.savepoint():
                    self.sudo().with_company(company).post(
                        None, lead=lead, data=data, external_id=external_id, source="crm.lead", kind=kind,
                        process=process)
            except Exception:  # noqa: BLE001 - the lead's change must go on
                _logger.exception("SalesJet: could not post a %s event for lead %s", kind, lead.id)

    # ---- Demo history ----
    @api.model
    def _demo_history_facts(self, partners, rng):
        """Demo only (``tools/demo_history.py``): what some of ``partners`` did during the demo's past that a
        bridge posts as events, as ``(moment, post)`` pairs: ``moment`` a share of the period (0 its start, 1
        now), ``post()`` posting the event at that moment. Bridges add theirs; ``rng`` makes them seeded."""
        return []
