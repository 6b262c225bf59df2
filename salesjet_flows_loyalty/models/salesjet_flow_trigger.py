import calendar
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

DATE_EVENT_BATCH_SIZE = 500


class SalesjetFlowTrigger(models.Model):
    """Loyalty scenario triggers: a purchase, a registration, N days before a contact's date."""
    _inherit = "salesjet.flow.trigger"

    trigger_type = fields.Selection(selection_add=[
        ("loyalty_purchase", "Client makes a purchase"),
        ("loyalty_registration", "Client registers (portal sign-up)"),
        ("loyalty_date", "Days before a contact's date (birthday)"),
    ], ondelete={"loyalty_purchase": "cascade", "loyalty_registration": "cascade", "loyalty_date": "cascade"})
    date_field_id = fields.Many2one(
        "ir.model.fields", string="Date of the contact", ondelete="cascade",
        domain=[("model", "=", "res.partner"), ("ttype", "=", "date"), ("store", "=", True)],
        help="A date field of the contact, e.g. Birthday (custom date fields work too).")
    date_days_before = fields.Integer(
        string="Days before", default=0,
        help="The scenario starts this many days before the date (0: on the day itself).")
    date_yearly = fields.Boolean(
        string="Every year", default=True,
        help="Ticked: the day and month count, every year (birthdays, anniversaries). "
             "Unticked: the exact date (e.g. the end of a contract).")

    @api.constrains("trigger_type", "date_field_id", "date_days_before")
    def _check_loyalty_date(self):
        for trigger in self.filtered(lambda t: t.trigger_type == "loyalty_date"):
            if not trigger.date_field_id:
                raise ValidationError(_("Trigger of flow “%s”: choose the contact's date, e.g. Birthday.",
                                        trigger.flow_id.name))
            if trigger.date_days_before < 0:
                raise ValidationError(_("Trigger of flow “%s”: the days before the date cannot be negative.",
                                        trigger.flow_id.name))

    @api.model
    def _event_kinds(self):
        return {**super()._event_kinds(), "loyalty_purchase": "loyalty_purchase",
                "loyalty_registration": "loyalty_registration", "loyalty_date": "loyalty_date"}

    def _match_loyalty_purchase(self, event):
        return self._match_products(event)

    def _match_loyalty_date(self, event):
        return (event.data or {}).get("trigger_id") == self.id

    # ------------------------------------------------------------------
    # Daily cron: post the contact-date events
    # ------------------------------------------------------------------

    @api.model
    def _cron_post_date_events(self):
        """Scheduled action (daily): post one event per contact whose date is N days away, per trigger, for one
        call's time budget (Odoo calls again while contacts remain)."""
        more = [False]

        def run_batch(limit):
            posted = self._post_date_events(limit)
            more[0] = len(posted) >= limit
            return len(posted)

        return self.env["salesjet.cron"]._run_batches(run_batch, lambda: int(more[0]), DATE_EVENT_BATCH_SIZE,
                                                      key="loyalty_date")

    @api.model
    def _post_date_events(self, limit=None):
        """Post (and process) one event per contact whose date is N days away, per trigger, at most ``limit``.

        One query per trigger finds the contacts; the external id
        ``date:<trigger>:<contact>:<date>`` makes a second run the same day
        (or a retry after a crash) post nothing twice. Returns the events.
        """
        triggers = self.sudo().search([("trigger_type", "=", "loyalty_date"), ("flow_id.active", "=", True),
                                       ("flow_id.state", "=", "running")])
        today = fields.Date.context_today(self)
        Event = self.env["salesjet.event"].sudo()
        posted = Event
        for trigger in triggers:
            left = limit - len(posted) if limit else None
            if left is not None and left <= 0:
                break
            field = self.env["res.partner"]._fields.get(trigger.date_field_id.name)
            if not field or not field.store or field.type != "date":
                continue
            target = today + timedelta(days=trigger.date_days_before)
            column = SQL.identifier("p", field.name)
            if trigger.date_yearly:
                days = [target.strftime("%m-%d")]
                if target.month == 2 and target.day == 28 and not calendar.isleap(target.year):
                    days.append("02-29")  # born on a leap day: celebrated on the 28th
                matching = SQL("to_char(%s, 'MM-DD') = ANY(%s)", column, days)
            else:
                matching = SQL("%s = %s", column, target)
            self.env["res.partner"].flush_model([field.name, "active", "company_id"])
            self.env.cr.execute(SQL(
                """
                SELECT p.id FROM res_partner p
                 WHERE p.active AND %(matching)s AND (p.company_id IS NULL OR p.company_id = %(company)s)
                   AND NOT EXISTS (SELECT 1 FROM salesjet_event e
                                    WHERE e.kind = 'loyalty_date'
                                      AND e.external_id = 'date:' || %(trigger)s || ':' || p.id || ':' || %(date)s)
                 ORDER BY p.id %(limit)s
                """,
                matching=matching, company=trigger.company_id.id, trigger=trigger.id, date=str(target),
                limit=SQL("LIMIT %s", left) if left else SQL(""),
            ))
            partner_ids = [row[0] for row in self.env.cr.fetchall()]
            if not partner_ids:
                continue
            posted |= Event.create([{
                "kind": "loyalty_date", "code": field.name, "partner_id": partner_id,
                "company_id": trigger.company_id.id, "source": "salesjet_flows_loyalty",
                "external_id": f"date:{trigger.id}:{partner_id}:{target}",
                "data": {"trigger_id": trigger.id, "field": field.name, "date": str(target),
                         "days_before": trigger.date_days_before},
            } for partner_id in partner_ids])
        posted._process()
        return posted
