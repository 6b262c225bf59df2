import logging

from odoo import _, api, fields, models
from odoo.tools import SQL, plaintext2html

from odoo.addons.salesjet_flows.tools.phone import to_e164
from odoo.addons.salesjet_flows.tools.placeholders import (
    PlaceholderError,
    guard_placeholders,
    with_fallbacks,
)

_logger = logging.getLogger(__name__)

ACCRUAL_STATES = [
    ("active", "Active"),
    ("used", "Spent"),
    ("expired", "Expired"),
]

EXPIRY_BATCH_SIZE = 500

# context key: loyalty.history lines written by this module (accruals, expiries)
INTERNAL = "salesjet_loyalty_internal"

# the names expiry notices offer to their placeholders, besides the contact's fields
NOTICE_NAMES = ("points", "expiry")


def format_points(points):
    return str(int(points)) if points == int(points) else f"{points:.2f}"


class SalesjetLoyaltyAccrual(models.Model):
    """One accrual of bonus points by a flow: the ledger that makes each accrual expire on its own date.

    ``remaining`` is what is left of the accrual: points the client spends are
    taken from the accruals that expire soonest (first to expire, first used),
    as recorded by Odoo's ``loyalty.history`` (orders, point of sale, balance
    updates). At expiry, what remains is taken off the card, never below zero.
    """
    _name = "salesjet.loyalty.accrual"
    _description = "Bonus Points Accrual"
    _order = "date desc, id desc"
    _rec_name = "partner_id"

    partner_id = fields.Many2one("res.partner", string="Contact", required=True, ondelete="cascade", index=True)
    card_id = fields.Many2one("loyalty.card", string="Loyalty card", required=True, ondelete="cascade", index=True)
    program_id = fields.Many2one("loyalty.program", string="Loyalty programme", required=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", string="Company", required=True, index=True)
    points = fields.Float(required=True, help="Points given by this accrual.")
    remaining = fields.Float(
        help="Points of this accrual not spent yet: what expires at the expiry date.")
    expired_points = fields.Float(string="Expired", help="Points taken off the card at expiry.")
    date = fields.Datetime(string="Accrued on", required=True, default=fields.Datetime.now)
    date_expiry = fields.Datetime(string="Expires on", index="btree_not_null", help="Empty: the points never expire.")
    state = fields.Selection(ACCRUAL_STATES, required=True, default="active", index=True)
    job_id = fields.Many2one("salesjet.flow.job", string="Job", ondelete="set null", index="btree_not_null")
    flow_id = fields.Many2one("salesjet.flow", string="Scenario", ondelete="set null", index=True)
    step_id = fields.Many2one("salesjet.flow.step", string="Step", ondelete="set null")
    # notices: when and how they were sent (also shown in the sent log)
    date_notice = fields.Datetime(
        string="Notice due", index="btree_not_null",
        help="When the client is told the points will expire (empty: no notice).")
    notice_before_date = fields.Datetime(string="Expiry notice sent on", readonly=True)
    notice_before_address = fields.Char(string="Expiry notice sent to", readonly=True)
    notice_expired_date = fields.Datetime(string="Expired notice sent on", readonly=True)
    notice_expired_address = fields.Char(string="Expired notice sent to", readonly=True)

    # ------------------------------------------------------------------
    # Spending: first to expire, first used
    # ------------------------------------------------------------------

    @api.model
    def _consume(self, used_by_card):
        """Take spent points from the cards' active accruals, soonest expiry first.

        :param dict used_by_card: {loyalty.card id: points spent}
        """
        used_by_card = {card_id: used for card_id, used in used_by_card.items() if used > 0}
        if not used_by_card:
            return
        accruals = self.search([("card_id", "in", list(used_by_card)), ("state", "=", "active"),
                                ("remaining", ">", 0)])
        # never-expiring accruals are used last
        accruals = accruals.sorted(lambda a: (a.date_expiry is False, a.date_expiry or a.date, a.id))
        ids, remaining, states = [], [], []
        left = dict(used_by_card)
        for accrual in accruals:
            take = min(accrual.remaining, left.get(accrual.card_id.id, 0))
            if take <= 0:
                continue
            left[accrual.card_id.id] -= take
            ids.append(accrual.id)
            remaining.append(accrual.remaining - take)
            states.append("used" if accrual.remaining - take <= 0 else "active")
        if ids:
            self.flush_model()
            self.env.cr.execute(SQL(
                """
                UPDATE salesjet_loyalty_accrual a SET remaining = v.remaining, state = v.state,
                       write_date = %(now)s, write_uid = %(uid)s
                  FROM unnest(%(ids)s::int[], %(remaining)s::float[], %(states)s::varchar[]) AS v(id, remaining, state)
                 WHERE a.id = v.id
                """,
                ids=ids, remaining=remaining, states=states, now=fields.Datetime.now(), uid=self.env.uid,
            ))
            self.invalidate_model(["remaining", "state", "write_date", "write_uid"])

    # ------------------------------------------------------------------
    # Cron: notices and expiry
    # ------------------------------------------------------------------

    @api.model
    def _cron_expire(self):
        """Scheduled action: send due expiry notices, then expire due accruals, for one call's time budget.

        Each batch commits on its own (outside tests), so a crash loses at
        most one batch, which the next run takes again.
        """
        def run_batch(limit):
            count = self._send_due_notices(limit)
            if count < limit:
                count += self._expire_due_batch(limit - count)
            return count

        def remaining():
            self.flush_model()
            now = fields.Datetime.now()
            return self.env["salesjet.cron"]._count_capped(SQL(
                """
                SELECT 1 FROM salesjet_loyalty_accrual
                 WHERE state = 'active' AND (date_expiry <= %(now)s OR (date_notice <= %(now)s
                       AND notice_before_date IS NULL AND date_expiry > %(now)s))
                """, now=now))

        return self.env["salesjet.cron"]._run_batches(run_batch, remaining, EXPIRY_BATCH_SIZE,
                                                      key="salesjet.loyalty.accrual")

    def _lock_due(self, condition, limit=EXPIRY_BATCH_SIZE):
        self.flush_model()
        self.env.cr.execute(SQL(
            "SELECT id FROM salesjet_loyalty_accrual WHERE %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            condition, limit,
        ))
        return self.browse([row[0] for row in self.env.cr.fetchall()])

    @api.model
    def _send_due_notices(self, limit=EXPIRY_BATCH_SIZE):
        """Tell clients their points expire soon (accruals whose notice date has come). Returns the batch size."""
        now = fields.Datetime.now()
        accruals = self._lock_due(SQL(
            "state = 'active' AND date_notice <= %s AND notice_before_date IS NULL AND date_expiry > %s",
            now, now), limit)
        if not accruals:
            return 0
        worth = accruals.filtered(lambda a: a.remaining > 0
                                  and (a.step_id._loyalty_notice_text("before") or "").strip())
        addresses = worth._send_notice("before")
        # accruals with nothing left or no text are marked too, so they are not looked at again
        self._write_notice_rows(accruals, "notice_before", now, addresses)
        return len(accruals)

    @api.model
    def _expire_due_batch(self, limit=EXPIRY_BATCH_SIZE):
        """Expire one batch of due accruals; returns how many it held."""
        now = fields.Datetime.now()
        accruals = self._lock_due(SQL("state = 'active' AND date_expiry <= %s", now), limit)
        if not accruals:
            return 0
        cards = accruals.card_id
        self.env["loyalty.card"].flush_model(["points"])
        self.env.cr.execute(SQL("SELECT id, COALESCE(points, 0) FROM loyalty_card WHERE id = ANY(%s) FOR UPDATE",
                                cards.ids))
        balance = dict(self.env.cr.fetchall())
        expired = {}
        for accrual in accruals.sorted(lambda a: (a.date_expiry, a.id)):
            take = max(0.0, min(accrual.remaining, balance[accrual.card_id.id]))
            balance[accrual.card_id.id] -= take
            expired[accrual.id] = take
        taken = {}
        for accrual in accruals:
            taken[accrual.card_id.id] = taken.get(accrual.card_id.id, 0.0) + expired[accrual.id]
        card_ids = [card_id for card_id, points in taken.items() if points]
        if card_ids:
            self.env.cr.execute(SQL(
                """
                UPDATE loyalty_card c
                   SET points = COALESCE(c.points, 0) - v.taken, write_date = %(now)s, write_uid = %(uid)s
                  FROM unnest(%(ids)s::int[], %(taken)s::float[]) AS v(id, taken)
                 WHERE c.id = v.id
                """,
                ids=card_ids, taken=[taken[card_id] for card_id in card_ids], now=now, uid=self.env.uid,
            ))
            self.env["loyalty.card"].invalidate_model(["points", "points_display", "write_date", "write_uid"])
            self.env["loyalty.history"].with_context(**{INTERNAL: True}).sudo().create([{
                "card_id": card_id, "description": _("Bonus points expired"), "issued": 0, "used": taken[card_id],
            } for card_id in card_ids])
        self.env.cr.execute(SQL(
            """
            UPDATE salesjet_loyalty_accrual a
               SET state = 'expired', expired_points = v.expired, remaining = 0, write_date = %(now)s,
                   write_uid = %(uid)s
              FROM unnest(%(ids)s::int[], %(expired)s::float[]) AS v(id, expired)
             WHERE a.id = v.id
            """,
            ids=list(expired), expired=list(expired.values()), now=now, uid=self.env.uid,
        ))
        self.invalidate_model(["state", "expired_points", "remaining", "write_date", "write_uid"])
        worth = accruals.filtered(lambda a: a.expired_points > 0
                                  and (a.step_id._loyalty_notice_text("expired") or "").strip())
        addresses = worth._send_notice("expired")
        if addresses:
            self._write_notice_rows(worth, "notice_expired", now, addresses)
        return len(accruals)

    def _write_notice_rows(self, accruals, prefix, now, addresses):
        self.env.cr.execute(SQL(
            """
            UPDATE salesjet_loyalty_accrual a SET %(date_col)s = %(now)s, %(address_col)s = v.address
              FROM unnest(%(ids)s::int[], %(addresses)s::varchar[]) AS v(id, address)
             WHERE a.id = v.id
            """,
            date_col=SQL.identifier(f"{prefix}_date"), address_col=SQL.identifier(f"{prefix}_address"),
            now=now, ids=accruals.ids, addresses=[addresses.get(a.id) for a in accruals],
        ))
        self.invalidate_model([f"{prefix}_date", f"{prefix}_address"])

    def _send_notice(self, which):
        """Queue the step's notice to each accrual's contact: email when it has an address, else SMS.

        The text's placeholders: {{ object.name }} (the contact), {{ points }}
        (the points concerned) and {{ expiry }} (the expiry date).

        :return: {accrual id: the address or number it was queued to}
        """
        if not self:
            return {}
        Render = self.env["mail.render.mixin"]
        blacklisted_emails, blacklisted_numbers = self._blacklists()
        emails, sms, addresses = [], [], {}
        groups = self.grouped(lambda a: (a.step_id, a.remaining if which == "before" else a.expired_points,
                                         fields.Date.to_date(a.date_expiry), a.partner_id.lang or ""))
        for (step, points, expiry, lang), group in groups.items():
            source = step.with_context(lang=lang or None)._loyalty_notice_text(which)
            try:
                guard_placeholders(self.env, source, step, extra=NOTICE_NAMES)
            except PlaceholderError as e:
                # a text that bypassed the check on save is never run: its notices are not sent
                _logger.warning("Expiry notices of step %s not sent: %s", step.id, e)
                continue
            texts = Render.with_context(lang=lang or None)._render_template(
                with_fallbacks(Render.with_context(lang=lang or None).env, source), "res.partner",
                list(set(group.partner_id.ids)),
                add_context={"points": format_points(points), "expiry": fields.Date.to_string(expiry),
                             "lead": self.env["crm.lead"], "event": {}, "company": step._placeholder_company()},
            )
            subject = (_("Your %(points)s bonus points expire on %(date)s", points=format_points(points),
                         date=fields.Date.to_string(expiry)) if which == "before"
                       else _("Your %(points)s bonus points have expired", points=format_points(points)))
            default_country = step.flow_id.company_id.country_id.code
            for accrual in group:
                partner = accrual.partner_id
                email = partner.email_normalized
                # consent (tests/test_consent_loyalty.py): an archived contact gets nothing, and a contact
                # whose email is blacklisted is not sent an SMS instead (SMS is for contacts without email)
                if not partner.active or (email and email in blacklisted_emails):
                    continue
                if email:
                    emails.append({
                        "subject": subject, "body_html": plaintext2html(texts[partner.id]),
                        "email_from": accrual.company_id.email_formatted or self.env.user.email_formatted,
                        "recipient_ids": [(4, partner.id)], "model": "res.partner", "res_id": partner.id,
                        "message_type": "email", "is_notification": True, "auto_delete": True,
                    })
                    addresses[accrual.id] = email
                    continue
                number = to_e164(partner.mobile or partner.phone, partner.country_id.code or default_country)
                if number and number not in blacklisted_numbers:
                    sms.append({"number": number, "body": texts[partner.id], "partner_id": partner.id,
                                "state": "outgoing"})
                    addresses[accrual.id] = number
        if emails:
            self.env["mail.mail"].sudo().create(emails)
        if sms:
            self.env["sms.sms"].sudo().create(sms)
            self.env.ref("sms.ir_cron_sms_scheduler_action")._trigger()
        return addresses

    def _blacklists(self):
        emails = [e for e in self.partner_id.mapped("email_normalized") if e]
        self.env["mail.blacklist"].flush_model()
        self.env["phone.blacklist"].flush_model()
        self.env.cr.execute(SQL("SELECT email FROM mail_blacklist WHERE active AND email = ANY(%s)", emails))
        blacklisted_emails = {row[0] for row in self.env.cr.fetchall()}
        # the numbers notices are sent to (mobile, else phone, in E.164) as well as Odoo's sanitized one
        numbers = {n for n in self.partner_id.mapped("phone_sanitized") if n}
        for partner in self.partner_id:
            country = partner.country_id.code or partner.company_id.country_id.code or self.env.company.country_id.code
            numbers.add(to_e164(partner.mobile or partner.phone, country))
        self.env.cr.execute(SQL("SELECT number FROM phone_blacklist WHERE active"
                                " AND number = ANY(%s)", [n for n in numbers if n]))
        return blacklisted_emails, {row[0] for row in self.env.cr.fetchall()}
