"""Small generated corpora, so every recipe runs offline with no data."""

from __future__ import annotations

import datetime
import random

_WEEKDAYS = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
]
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _ordinal(day: int) -> str:
    suffix = (
        "th"
        if 11 <= day % 100 <= 13
        else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    )
    return f"{day}{suffix}"


def _human(date: datetime.date, style: int) -> str:
    month, short = _MONTHS[date.month - 1], _MONTHS[date.month - 1][:3]
    weekday = _WEEKDAYS[date.weekday()]
    d, y = date.day, date.year
    return [
        f"{month} {d}, {y}",
        f"{d} {month} {y}",
        f"{weekday}, {month} {d}, {y}",
        f"{short} {d} {y}",
        f"{d} {short}. {y}",
        f"the {_ordinal(d)} of {month} {y}",
        f"{_ordinal(d)} {month.lower()} {y}",
        f"{y}, {month} {d}",
        f"{weekday.lower()} {d} {short.lower()} {y}",
        f"{d:02d}.{date.month:02d}.{y}",
        f"{month.upper()} {d} {y}",
        f"{weekday[:3]} {short} {_ordinal(d)} {y}",
    ][style]


NUM_DATE_STYLES = 12


def date_pairs(count: int, seed: int = 0):
    """`count` pairs (a date as people write it, the same date in ISO 8601).

    Dates are drawn uniformly from 1900-01-01 to 2099-12-31 and written in
    one of twelve styles ("Friday, March 5, 2021", "5th march 2021",
    "05.03.2021", ...). The target is "2021-03-05". Seeded: the same seed
    gives the same pairs.
    """
    rng = random.Random(seed)
    start = datetime.date(1900, 1, 1).toordinal()
    end = datetime.date(2099, 12, 31).toordinal()
    pairs = []
    for _ in range(count):
        date = datetime.date.fromordinal(rng.randint(start, end))
        pairs.append((_human(date, rng.randrange(NUM_DATE_STYLES)), date.isoformat()))
    return pairs
