from datetime import date, datetime, time

import pytz
from dateutil.relativedelta import relativedelta

TIMINGS = [
    ("immediate", "Immediately"),
    ("delay", "After a delay"),
    ("date", "At a date and time"),
    ("relative", "Relative to a date"),
]

UNITS = [
    ("minutes", "Minutes"),
    ("hours", "Hours"),
    ("days", "Days"),
    ("weeks", "Weeks"),
]



def delta(value, unit):
    return relativedelta(**{unit: value or 0})


WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


WEEKDAY_FIELDS = [f"window_{day}" for day in WEEKDAYS]


def valid_tz(name):
    """``name`` if it is a known time zone, else None."""
    return name if name and name in pytz.all_timezones_set else None


def company_tz(company):
    """The company's time zone (its address' one), else UTC."""
    return valid_tz(company.partner_id.tz) or "UTC"


def to_local(moment, tz_name):
    """A naive UTC datetime as a naive local datetime of ``tz_name``."""
    return pytz.utc.localize(moment).astimezone(pytz.timezone(tz_name)).replace(tzinfo=None)


def to_utc(local, tz_name):
    """A naive local datetime of ``tz_name`` as a naive UTC datetime.

    In the hour skipped or repeated by a daylight-saving change, the
    standard-time reading is used.
    """
    return pytz.timezone(tz_name).localize(local, is_dst=False).astimezone(pytz.utc).replace(tzinfo=None)


def hours_to_time(hours):
    """9.5 -> 09:30; 24 -> the last microsecond of the day."""
    if hours >= 24:
        return time.max
    minutes = round(hours * 60)
    return time(minutes // 60, minutes % 60)


def in_time_range(moment, hour_from, hour_to):
    """Whether the time of day of ``moment`` (naive local) is in [from, to); from > to spans midnight."""
    hours = moment.hour + moment.minute / 60 + moment.second / 3600
    if hour_from <= hour_to:
        return hour_from <= hours < hour_to
    return hours >= hour_from or hours < hour_to


def parse_moment(value):
    """A date (``date``) or a moment (naive UTC ``datetime``) from a field or event value, else None.

    Strings are ISO 8601: "2026-05-01" is a date; "2026-05-01 10:00" without an
    offset is UTC, as Odoo stores datetimes; "2026-05-01T10:00:00+02:00" is converted.
    """
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo:
        moment = moment.astimezone(pytz.utc).replace(tzinfo=None)
    return moment
