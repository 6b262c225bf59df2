from datetime import date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..tools.arrays import array_literal
from ..tools.timing import (
    TIMINGS,
    UNITS,
    WEEKDAY_FIELDS,
    company_tz,
    delta,
    hours_to_time,
    parse_moment,
    to_local,
    to_utc,
    valid_tz,
)


class SalesjetFlowStepTiming(models.AbstractModel):
    """When a step runs: at once, after a delay, at a date or relative to a date of the contact or of the event,
    inside a send window; computed set-based for many contacts at once (``_compute_scheduled_dates``)."""
    _name = "salesjet.flow.step.timing"
    _description = "Flow step: timing"

    # Timing
    timing = fields.Selection(TIMINGS, string="When", required=True, default="immediate")

    delay_value = fields.Integer(string="Delay", default=1)

    delay_unit = fields.Selection(UNITS, string="Delay unit", default="days")

    delay_from = fields.Selection(
        [("previous", "the previous step"), ("start", "the start of the run")],
        string="Counted from", default="previous",
    )

    run_at = fields.Datetime(
        string="Run at",
        help="Date and time of this step. Contacts who reach it later run it as soon as they reach it.",
    )

    def _describe_fixed_timing(self):
        """Immediate, delayed and dated timings as words (see ``_describe_timing``)."""
        units = dict(self._fields["delay_unit"]._description_selection(self.env))
        if self.timing == "delay":
            origin = _("the start") if self.delay_from == "start" else _("the previous step")
            return _("%(value)s %(unit)s after %(origin)s", value=self.delay_value,
                     unit=units.get(self.delay_unit, "").lower(), origin=origin)
        if self.timing == "date":
            return _("at %s", fields.Datetime.to_string(self.run_at) if self.run_at else "?")
        return _("immediately")

    @api.model
    def _timing_fields(self):
        """The fields ``_compute_scheduled_date`` reads: fetched alone where speed matters."""
        return ["timing", "delay_value", "delay_unit", "delay_from", "run_at",
                "company_id", "relative_source", "relative_field_id", "relative_key", "relative_value", "relative_unit",
                "relative_direction", "relative_yearly", "window_active", "window_hour_from", "window_hour_to",
                *WEEKDAY_FIELDS]

    def _due_at_once(self):
        """Whether this step is due the moment a contact reaches it, whoever the contact is
        (no delay, date or send window): enrolling then computes no date."""
        self.ensure_one()
        return self.timing == "immediate" and not self.window_active

    def _compute_scheduled_date(self, now, date_start):
        """When this step runs for a contact who reaches it at ``now`` and started the run at ``date_start``,
        before anything that depends on the contact (relative dates, send window)."""
        self.ensure_one()
        if self.timing == "delay":
            origin = date_start if self.delay_from == "start" else now
            return max(origin + delta(self.delay_value, self.delay_unit), now)
        if self.timing == "date" and self.run_at:
            return max(self.run_at, now)
        return now

    def _fixed_scheduled_dates(self, now, targets):
        """``_compute_scheduled_dates`` of immediate, delayed and dated steps, before the send window."""
        self.ensure_one()
        if self.timing == "delay" and self.delay_from == "start":
            return [self._compute_scheduled_date(now, target[2]) for target in targets]
        return [self._compute_scheduled_date(now, now)] * len(targets)

    def _diagram_when_fixed(self):
        """Immediate, delayed and dated timings, short (see ``_diagram_when``)."""
        units = dict(self._fields["delay_unit"]._description_selection(self.env))
        if self.timing == "immediate":
            return _("now")
        if self.timing == "delay":
            origin = _("from start") if self.delay_from == "start" else ""
            return " ".join(filter(None, [f"+{self.delay_value} {units.get(self.delay_unit, '').lower()}", origin]))
        if self.timing == "date" and self.run_at:
            return fields.Datetime.to_string(fields.Datetime.context_timestamp(self, self.run_at))[:16]
        return dict(self._fields["timing"]._description_selection(self.env)).get(self.timing, "")


    # Relative to a date
    relative_source = fields.Selection(
        [("field", "a date of the contact"), ("event", "a date in the event data")],
        string="Date from", default="field",
    )
    relative_field_id = fields.Many2one(
        "ir.model.fields", string="Contact date", ondelete="set null",
        domain=[("model", "=", "res.partner"), ("store", "=", True), ("ttype", "in", ("date", "datetime"))],
        help="Any stored date or date-and-time field of the contact, custom ones included (e.g. a birthday).",
    )
    relative_key = fields.Char(
        string="Event data key",
        help="The key of the event data holding the date, e.g. course_start or expiry. "
             "Values as 2026-05-01 (a day) or 2026-05-01 10:00 (UTC) or with an offset (2026-05-01T10:00+02:00).",
    )
    relative_value = fields.Integer(string="Offset", default=0)
    relative_unit = fields.Selection(
        [("minutes", "Minutes"), ("hours", "Hours"), ("days", "Days"), ("weeks", "Weeks")],
        string="Offset unit", default="days",
    )
    relative_direction = fields.Selection(
        [("before", "before"), ("after", "after")], string="Before or after", default="before",
    )
    relative_yearly = fields.Boolean(
        string="Next anniversary",
        help="Ignore the year of the date and use its next occurrence, e.g. the next birthday. "
             "This year's occurrence counts until both it and the moment are past: "
             "“3 days before” a birthday that is tomorrow runs at once.",
    )

    # Send window
    window_active = fields.Boolean(
        string="Send window",
        help="Run this step only at these hours and on these days, in the contact's time zone "
             "(else the company's, else UTC). A step due outside the window waits for its next opening.",
    )
    window_hour_from = fields.Float(string="From", default=9.0, help="Hour the window opens, e.g. 09:00.")
    window_hour_to = fields.Float(string="To", default=17.0, help="Hour the window closes (not included), e.g. 17:00.")
    window_mon = fields.Boolean(string="Mon", default=True)
    window_tue = fields.Boolean(string="Tue", default=True)
    window_wed = fields.Boolean(string="Wed", default=True)
    window_thu = fields.Boolean(string="Thu", default=True)
    window_fri = fields.Boolean(string="Fri", default=True)
    window_sat = fields.Boolean(string="Sat", default=False)
    window_sun = fields.Boolean(string="Sun", default=False)

    # ------------------------------------------------------------------
    # Validation and summary
    # ------------------------------------------------------------------

    @api.constrains("timing", "relative_source", "relative_field_id", "relative_key", "window_active",
                    "window_hour_from", "window_hour_to", *WEEKDAY_FIELDS)
    def _check_timing_settings(self):
        for step in self:
            if step.timing == "relative":
                if step.relative_source == "field" and not step.relative_field_id:
                    raise ValidationError(_("Step “%s” runs relative to a date: choose the contact's date field.",
                                            step.display_name))
                if step.relative_source == "event" and not (step.relative_key or "").strip():
                    raise ValidationError(_("Step “%s” runs relative to a date of the event: write the key of "
                                            "the event data that holds it, e.g. course_start.", step.display_name))
            if step.window_active:
                if not 0 <= step.window_hour_from < step.window_hour_to <= 24:
                    raise ValidationError(_("The send window of step “%s” must open before it closes, "
                                            "between 00:00 and 24:00.", step.display_name))
                if not any(step[name] for name in WEEKDAY_FIELDS):
                    raise ValidationError(_("The send window of step “%s” needs at least one day of the week.",
                                            step.display_name))

    def _describe_timing(self):
        """When this step runs, as words for the summary."""
        if self.timing == "relative":
            units = dict(self._fields["relative_unit"]._description_selection(self.env))
            if self.relative_source == "event":
                what = _("the event's “%s”", self.relative_key or "?")
            else:
                what = self.relative_field_id.field_description or "?"
            if self.relative_yearly:
                what = _("the next anniversary of %s", what)
            if self.relative_value:
                text = _("%(value)s %(unit)s %(direction)s %(date)s", value=self.relative_value,
                         unit=units.get(self.relative_unit, "").lower(),
                         direction=_("before") if self.relative_direction == "before" else _("after"), date=what)
            else:
                text = _("on %s", what)
        else:
            text = self._describe_fixed_timing()
        if self.window_active:
            text += _(", within %(days)s %(start)s–%(end)s (contact's time zone)",
                      days=self._describe_window_days(),
                      start=self._format_hours(self.window_hour_from), end=self._format_hours(self.window_hour_to))
        return text

    def _diagram_when(self):
        """Short timing for the flow diagram's arrow: "-3 days Birthday", "+1 days course_start", window."""
        if self.timing == "relative":
            units = dict(self._fields["relative_unit"]._description_selection(self.env))
            what = (self.relative_key if self.relative_source == "event" else
                    self.relative_field_id.field_description) or "?"
            if self.relative_value:
                sign = "-" if self.relative_direction == "before" else "+"
                text = f"{sign}{self.relative_value} {units.get(self.relative_unit, '').lower()} {what}"
            else:
                text = _("on %s", what)
            if self.relative_yearly:
                text += " " + _("(yearly)")
        else:
            text = self._diagram_when_fixed()
        if self.window_active:
            text += " · " + _("%(days)s %(start)s–%(end)s", days=self._describe_window_days(),
                              start=self._format_hours(self.window_hour_from),
                              end=self._format_hours(self.window_hour_to))
        return text

    def _describe_window_days(self):
        labels = [self._fields[name].get_description(self.env)["string"] for name in WEEKDAY_FIELDS]
        days = [self[name] for name in WEEKDAY_FIELDS]
        runs, start = [], None
        for index, on in enumerate(days + [False]):
            if on and start is None:
                start = index
            elif not on and start is not None:
                runs.append(labels[start] if index - start == 1 else
                            f"{labels[start]}, {labels[index - 1]}" if index - start == 2 else
                            f"{labels[start]}–{labels[index - 1]}")
                start = None
        return ", ".join(runs)

    @staticmethod
    def _format_hours(hours):
        minutes = round(hours * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    # ------------------------------------------------------------------
    # Scheduling (set-based)
    # ------------------------------------------------------------------

    def _compute_scheduled_dates(self, now, targets):
        """When this step runs for each of many contacts who reach it at ``now``, set-based.

        :param targets: tuples (partner_id, company_id, date_start, enrollment_id)
        :return: one naive UTC datetime per target, in order
        """
        self.ensure_one()
        if self.timing == "relative":
            moments = self._relative_moments(now, targets)
            dates = [max(moment, now) if moment else now for moment in moments]
        else:
            dates = self._fixed_scheduled_dates(now, targets)
        return self._apply_send_window(dates, [target[0] for target in targets], [target[1] for target in targets])

    @api.model
    def _partner_tzs(self, partner_ids, company_ids):
        """Time zone name of each contact: its own, else its company's (``company_ids``, same order), else UTC.

        One query for the contacts, whatever their number.
        """
        self.env["res.partner"].flush_model(["tz"])
        self.env.cr.execute(SQL("SELECT id, tz FROM res_partner WHERE id = ANY(%s::int[])",
                                array_literal(set(partner_ids))))
        own = dict(self.env.cr.fetchall())
        companies = {cid: company_tz(self.env["res.company"].browse(cid)) for cid in set(company_ids)}
        return [valid_tz(own.get(pid)) or companies[cid] for pid, cid in zip(partner_ids, company_ids, strict=True)]

    def _window_days(self):
        return {index for index, name in enumerate(WEEKDAY_FIELDS) if self[name]}

    def _next_window_opening(self, moment, tz_name):
        """The first moment at or after ``moment`` (naive UTC) inside this step's send window in ``tz_name``."""
        local = to_local(moment, tz_name)
        days = self._window_days()
        start, end = hours_to_time(self.window_hour_from), hours_to_time(self.window_hour_to)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in days:
                continue
            opening, closing = datetime.combine(day, start), datetime.combine(day, end)
            if offset == 0 and opening <= local < closing:
                return moment
            if local < opening:
                return to_utc(opening, tz_name)
        return moment  # no allowed day: refused by the constraint

    def _apply_send_window(self, dates, partner_ids, company_ids):
        """Move each date (naive UTC) to the next opening of the send window in its contact's time zone.

        One query for the time zones; each distinct (time zone, date) is computed once.
        """
        self.ensure_one()
        if not self.window_active or not dates:
            return dates
        tzs = self._partner_tzs(partner_ids, company_ids)
        cache = {}
        result = []
        for moment, tz_name in zip(dates, tzs, strict=True):
            key = (tz_name, moment)
            if key not in cache:
                cache[key] = self._next_window_opening(moment, tz_name)
            result.append(cache[key])
        return result

    def _relative_dates(self, partner_ids, enrollment_ids):
        """The date each target's moment is relative to (``date``, naive UTC ``datetime`` or None), in one query."""
        self.ensure_one()
        # a test run has no enrollment: its event data comes from the context
        data = self.env.context.get("salesjet_test_data")
        if data is not None and self.relative_source == "event":
            return [parse_moment(data.get((self.relative_key or "").strip()))] * len(partner_ids)
        if self.relative_source == "event":
            key = (self.relative_key or "").strip()
            self.env["salesjet.flow.enrollment"].flush_model(["data"])
            self.env.cr.execute(SQL(
                "SELECT id, data->>%s FROM salesjet_flow_enrollment WHERE id = ANY(%s::int[])",
                key, array_literal(set(enrollment_ids)),
            ))
            values = dict(self.env.cr.fetchall())
            return [parse_moment(values.get(eid)) for eid in enrollment_ids]
        field = self.env["res.partner"]._fields.get(self.relative_field_id.name or "")
        if not field or not field.store or field.type not in ("date", "datetime"):
            return [None] * len(partner_ids)
        self.env["res.partner"].flush_model([field.name])
        self.env.cr.execute(SQL(
            "SELECT id, %s FROM res_partner WHERE id = ANY(%s::int[])",
            SQL.identifier(field.name), array_literal(set(partner_ids)),
        ))
        values = dict(self.env.cr.fetchall())
        return [parse_moment(values.get(pid)) for pid in partner_ids]

    def _relative_moments(self, now, targets):
        """The moment (naive UTC) of this relative step for each target, None where the date is missing.

        A date without a time is read as midnight in the contact's time zone.
        With ``relative_yearly``, the first occurrence (this year's, else the
        next year's) whose date or moment is not past is used; for a date,
        "not past" means today or later in the contact's time zone.
        """
        self.ensure_one()
        partner_ids = [target[0] for target in targets]
        values = self._relative_dates(partner_ids, [target[3] for target in targets])
        needs_tz = any(isinstance(v, date) and not isinstance(v, datetime) for v in values)
        tzs = self._partner_tzs(partner_ids, [t[1] for t in targets]) if needs_tz else ["UTC"] * len(targets)
        offset = delta(self.relative_value, self.relative_unit)
        if self.relative_direction == "before":
            offset = -offset
        moments = []
        for value, tz_name in zip(values, tzs, strict=True):
            if value is None:
                moments.append(None)
                continue
            is_day = not isinstance(value, datetime)
            if not self.relative_yearly:
                moments.append(self._relative_moment(value, offset, tz_name, is_day))
                continue
            today = to_local(now, tz_name).date() if is_day else None
            moment = None
            for year in range(now.year - 1, now.year + 3):
                occurrence = value + relativedelta(year=year)  # 29 February -> 28 in other years
                moment = self._relative_moment(occurrence, offset, tz_name, is_day)
                # this occurrence still counts while the date or the moment is not past:
                # "3 days before" a birthday that is tomorrow runs now, not next year
                later = max(moment, self._relative_moment(occurrence, relativedelta(), tz_name, is_day))
                if (to_local(later, tz_name).date() >= today) if is_day else (later >= now):
                    break
            moments.append(moment)
        return moments

    @staticmethod
    def _relative_moment(value, offset, tz_name, is_day):
        if is_day:
            return to_utc(datetime.combine(value, time.min) + offset, tz_name)
        return value + offset
