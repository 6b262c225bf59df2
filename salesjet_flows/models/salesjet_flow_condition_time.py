"""Date and time conditions: when the contact was added, when it last sent a
website form, today's date and the time of day in the contact's time zone."""
import functools
from datetime import datetime, time, timedelta

import pytz

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.osv import expression
from odoo.tools import SQL

from ..tools.timing import company_tz, hours_to_time, in_time_range, to_local, to_utc

DATE_OPERATORS = [
    ("on", "on"),
    ("before", "before"),
    ("after", "after"),
    ("last_days", "in the last N days"),
    ("older_days", "more than N days ago"),
]

# operators that compare with a date (the others count days back from now)
DAY_OPERATORS = ("on", "before", "after")


@functools.lru_cache(maxsize=64)
def tzs_inside(minute, time_from, time_to):
    """The time zones whose local time at ``minute`` (naive UTC) is in [from, to).

    About 600 conversions (some 10 ms): cached, so a minute costs it once per period.
    """
    moment = pytz.utc.localize(minute)
    return tuple(
        tz_name for tz_name in pytz.all_timezones
        if in_time_range(moment.astimezone(pytz.timezone(tz_name)), time_from, time_to)
    )


class SalesjetFlowConditionTime(models.AbstractModel):
    _name = "salesjet.flow.condition.time"
    _description = "Flow condition: date and time"

    date_operator = fields.Selection(
        DATE_OPERATORS, string="When", default="on",
        help="Days are those of the company's time zone. “Current date” compares only on, before or after a date.",
    )
    date_value = fields.Date(string="Date")
    days_value = fields.Integer(string="Days", default=7, help="How many days back from now.")
    time_from = fields.Float(
        string="From", default=9.0,
        help="Time of day in the contact's time zone (else the company's, else UTC).",
    )
    time_to = fields.Float(
        string="To", default=17.0,
        help="End of the period (not included). Earlier than “From” spans midnight, e.g. 22:00 to 06:00.",
    )

    @api.constrains("condition_type", "date_operator", "date_value", "days_value", "time_from", "time_to")
    def _check_time_settings(self):
        for line in self:
            if line.condition_type in ("date_added", "last_form", "current_date", "current_time"):
                getattr(line, f"_check_{line.condition_type}")()

    # ------------------------------------------------------------------
    # Validation and names
    # ------------------------------------------------------------------

    def _check_date_added(self):
        if not self.date_operator:
            raise ValidationError(_("Choose how to compare the date of the condition “%(type)s” of step “%(step)s”.",
                                    type=self._type_label(), step=self.step_id.display_name))
        if self.date_operator in DAY_OPERATORS and not self.date_value:
            raise ValidationError(_("Set the date of the condition “%(type)s” of step “%(step)s”.",
                                    type=self._type_label(), step=self.step_id.display_name))
        if self.date_operator not in DAY_OPERATORS and self.days_value < 1:
            raise ValidationError(_("Set a number of days of at least 1 for the condition “%(type)s” of step "
                                    "“%(step)s”.", type=self._type_label(), step=self.step_id.display_name))

    _check_last_form = _check_date_added

    def _check_current_date(self):
        if self.date_operator not in DAY_OPERATORS:
            raise ValidationError(_("The condition “Current date” of step “%s” compares today with a date: "
                                    "choose on, before or after.", self.step_id.display_name))
        self._check_date_added()

    def _check_current_time(self):
        if not (0 <= self.time_from <= 24 and 0 <= self.time_to <= 24) or self.time_from == self.time_to:
            raise ValidationError(_("The condition “Current time” of step “%s” needs two different times of day "
                                    "between 00:00 and 24:00.", self.step_id.display_name))

    def _type_label(self):
        return dict(self._fields["condition_type"]._description_selection(self.env)).get(self.condition_type, "")

    def _describe_dates(self, subject):
        operators = dict(self._fields["date_operator"]._description_selection(self.env))
        if self.date_operator in DAY_OPERATORS:
            value = fields.Date.to_string(self.date_value) if self.date_value else "?"
            return f"{subject} {operators.get(self.date_operator, '')} {value}"
        if self.date_operator == "last_days":
            return _("%(subject)s in the last %(days)s days", subject=subject, days=self.days_value)
        return _("%(subject)s more than %(days)s days ago", subject=subject, days=self.days_value)

    def _describe_date_added(self):
        return self._describe_dates(_("added"))

    def _describe_last_form(self):
        return self._describe_dates(_("last website form"))

    def _describe_current_date(self):
        value = fields.Date.to_string(self.date_value) if self.date_value else "?"
        if self.date_operator == "before":
            return _("today is before %s", value)
        if self.date_operator == "after":
            return _("today is after %s", value)
        return _("today is %s", value)

    def _describe_current_time(self):
        fmt = self.env["salesjet.flow.step"]._format_hours
        return _("time is between %(start)s and %(end)s", start=fmt(self.time_from), end=fmt(self.time_to))

    # ------------------------------------------------------------------
    # Domains
    # ------------------------------------------------------------------

    def _now(self):
        # a test run evaluates conditions at its simulated moment (context key salesjet_now)
        return self.env.context.get("salesjet_now") or fields.Datetime.now()

    def _company_tz(self):
        return company_tz(self.step_id.company_id or self.env.company)

    def _day_bounds(self):
        """Start and end (naive UTC) of the condition's day in the company's time zone."""
        tz_name = self._company_tz()
        start = to_utc(datetime.combine(self.date_value, time.min), tz_name)
        end = to_utc(datetime.combine(self.date_value + timedelta(days=1), time.min), tz_name)
        return start, end

    def _date_range(self):
        """(after or equal, before) bounds of the moments the operator accepts; None for an open end."""
        now = self._now()
        if self.date_operator == "last_days":
            return now - timedelta(days=self.days_value), None
        if self.date_operator == "older_days":
            return None, now - timedelta(days=self.days_value)
        start, end = self._day_bounds()
        return {"on": (start, end), "before": (None, start), "after": (end, None)}[self.date_operator]

    def _domain_date_added(self):
        low, high = self._date_range()
        domain = []
        if low:
            domain.append(("create_date", ">=", low))
        if high:
            domain.append(("create_date", "<", high))
        return domain

    def _domain_last_form(self):
        """Contacts whose latest website form (a lead of medium Website) falls in the range.

        A lead counts for its contact, or, when it has none, for the contacts
        with its email address: a visitor who is not logged in leaves only
        an address. Archived and lost leads count too: the form was sent.
        """
        low, high = self._date_range()
        medium = self.env.ref("utm.utm_medium_website", raise_if_not_found=False)
        if not medium:
            return expression.FALSE_DOMAIN
        having = [SQL("TRUE")]
        if low:
            having.append(SQL("max(l.create_date) >= %s", low))
        if high:
            having.append(SQL("max(l.create_date) < %s", high))
        self.env["crm.lead"].flush_model(["medium_id", "partner_id", "email_normalized", "create_date"])
        self.env["res.partner"].flush_model(["email_normalized"])
        return [("id", "in", SQL(
            """(SELECT l.partner_id FROM (
                    SELECT partner_id, create_date FROM crm_lead
                     WHERE medium_id = %(medium)s AND partner_id IS NOT NULL
                    UNION ALL
                    SELECT p.id, cl.create_date
                      FROM crm_lead cl JOIN res_partner p ON p.email_normalized = cl.email_normalized
                     WHERE cl.medium_id = %(medium)s AND cl.partner_id IS NULL AND cl.email_normalized IS NOT NULL
                ) AS l(partner_id, create_date)
                GROUP BY l.partner_id HAVING %(having)s)""",
            medium=medium.id, having=SQL(" AND ").join(having),
        ))]

    def _domain_current_date(self):
        """Today (in the company's time zone) against the date: every contact or none, decided once per batch."""
        today = to_local(self._now(), self._company_tz()).date()
        holds = {
            "on": today == self.date_value,
            "before": today < self.date_value,
            "after": today > self.date_value,
        }.get(self.date_operator, False)
        return [] if holds else expression.FALSE_DOMAIN

    def _domain_current_time(self):
        """Contacts whose local time of day is in the period.

        The time zones where it is now inside the period are computed without a
        query, once a minute; contacts without a valid time zone follow the company's.
        """
        minute = self._now().replace(second=0, microsecond=0)
        inside = list(tzs_inside(minute, self.time_from, self.time_to))
        domain = [("tz", "in", inside)]
        if self._company_tz() in inside:
            domain = expression.OR([domain, [("tz", "=", False)]])
        return domain

    # ------------------------------------------------------------------
    # Moments a waiting step checks again (see salesjet.flow.step._wait_for_conditions)
    # ------------------------------------------------------------------

    def _next_change_current_date(self, now, partner_ids, company_ids):
        if self.condition_type == "current_date":
            moment = min((bound for bound in self._day_bounds() if bound > now), default=None)
            return [moment] * len(partner_ids)
        if self.condition_type == "current_time":
            # the contact's time zone, else the company's: as _domain_current_time decides
            company = self.step_id.company_id or self.env.company
            tzs = self.env["salesjet.flow.step"]._partner_tzs(partner_ids, [company.id] * len(partner_ids))
            cache = {}
            for tz_name in set(tzs):
                local = to_local(now, tz_name)
                cache[tz_name] = min(
                    to_utc(datetime.combine(local.date() + timedelta(days=offset), hours_to_time(hours)), tz_name)
                    for offset in (0, 1) for hours in (self.time_from, self.time_to)
                    if datetime.combine(local.date() + timedelta(days=offset), hours_to_time(hours)) > local
                )
            return [cache[tz_name] for tz_name in tzs]
        return None

    _next_change_current_time = _next_change_current_date
