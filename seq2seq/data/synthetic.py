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


_POSITIVE_WORDS = [
    "good",
    "great",
    "wonderful",
    "moving",
    "funny",
    "charming",
    "brilliant",
    "gripping",
    "beautiful",
    "clever",
]
_NEGATIVE_WORDS = [
    "bad",
    "awful",
    "boring",
    "dull",
    "clumsy",
    "tedious",
    "weak",
    "silly",
    "ugly",
    "pointless",
]
_SUBJECTS = [
    "the film",
    "the movie",
    "the plot",
    "the acting",
    "the script",
    "the ending",
    "the music",
    "the cast",
    "the story",
    "the dialogue",
]
_ADVERBS = ["", "", "really ", "very ", "quite ", "rather ", "truly "]
_FILLERS = [
    "i saw it last week .",
    "we watched it on a sunday .",
    "my friend chose it .",
    "it runs for two hours .",
    "the cinema was full .",
    "",
    "",
    "",
]
SENTIMENT_LABELS = ["negative", "positive"]


def _clause(rng: random.Random, positive: bool) -> str:
    """A clause whose sentiment is `positive`, negated 30% of the time."""
    negated = rng.random() < 0.3
    words = _POSITIVE_WORDS if positive != negated else _NEGATIVE_WORDS
    verb = rng.choice(["is", "was"]) + (" not" if negated else "")
    return f"{rng.choice(_SUBJECTS)} {verb} {rng.choice(_ADVERBS)}{rng.choice(words)}"


def sentiment_reviews(count: int, seed: int = 0):
    """`count` short generated reviews and their labels, 0 negative, 1 positive.

    A review is one clause ("the plot was not very clever"), or two joined
    by "but", in which case the second clause decides ("the acting is weak ,
    but the music was wonderful" is positive); an unrelated sentence may
    come before it. 30% of the clauses are negated ("not good"), so single
    words point the wrong way often: a model must read word order. Labels are balanced
    in expectation; `SENTIMENT_LABELS` names them. Seeded: the same seed
    gives the same reviews.
    """
    rng = random.Random(seed)
    reviews = []
    for _ in range(count):
        label = rng.randrange(2)
        text = _clause(rng, bool(label))
        if rng.random() < 0.4:
            text = f"{_clause(rng, not label)} , but {text}"
        filler = rng.choice(_FILLERS)
        reviews.append((f"{filler} {text} .".strip(), label))
    return reviews
