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


_PEOPLE = [
    "Maria Schmidt",
    "John Smith",
    "Ana Lopez",
    "Peter Blackburn",
    "Yuki Tanaka",
    "Olga Petrova",
    "Ahmed Hassan",
    "Chen Wei",
    "Sara Nilsson",
    "David Okafor",
    "Clinton",
    "Merkel",
    "Kohl",
    "Mandela",
    "Dupont",
    "Rossi",
    "Kowalski",
    "Singh",
]
_PLACES = [
    "Paris",
    "Berlin",
    "New York",
    "Tokyo",
    "Lagos",
    "Sao Paulo",
    "Oslo",
    "Cairo",
    "Britain",
    "Germany",
    "China",
    "Brazil",
    "Kenya",
    "Peru",
    "Lake Geneva",
    "Bonn",
    "Moscow",
    "Hong Kong",
]
_ORGANISATIONS = [
    "Reuters",
    "United Nations",
    "European Union",
    "Siemens",
    "Toyota Motor",
    "Bank of England",
    "Acme Corp",
    "FIFA",
    "NATO",
    "Ajax",
    "Red Cross",
    "World Bank",
    "Nokia",
    "Bayern Munich",
]
_MISCELLANEOUS = [
    "German",
    "French",
    "Olympic",
    "Japanese",
    "World Cup",
    "Nobel Prize",
    "Brazilian",
    "Christmas",
    "Islamic",
    "Tour de France",
]
_TEMPLATES = [
    "{PER} arrived in {LOC} on {day} .",
    "{ORG} said on {day} that {PER} would visit {LOC} .",
    "Shares of {ORG} fell {number} percent in {LOC} .",
    "The {MISC} minister met {PER} in {LOC} .",
    "{PER} , a spokesman for {ORG} , declined to comment .",
    "{LOC} beat {LOC} {number} - {number} in the {MISC} final .",
    "{PER} told {ORG} the talks in {LOC} had failed .",
    "police in {LOC} said {number} people were hurt .",
    "{ORG} and {ORG} signed a deal worth {number} million dollars .",
    "{PER} won the {MISC} title for {ORG} .",
    "it was the first {MISC} event in {LOC} since {year} .",
    "{PER} ( {LOC} ) {number} {number}",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


# The last few names of each type appear only in evaluation splits, so that
# tagging them takes context and character features, not memory.
HELD_OUT_NAMES = 4


def ner_sentences(count: int, seed: int = 0, held_out_names: bool = False):
    """`count` tagged sentences `(tokens, IOB2 tags)` in a news style.

    Templates ("{PER} arrived in {LOC} on {day} .") filled with people,
    places, organisations and miscellaneous names (single and multi-word),
    numbers and weekdays, so that words, casing and context all matter.
    Seeded: the same seed gives the same sentences.

    Args:
        count: Number of sentences.
        seed: Random seed.
        held_out_names: Also draw the last `HELD_OUT_NAMES` names of each
            type, which are never drawn otherwise (use it for evaluation
            splits, to measure tagging of unseen names).
    """
    rng = random.Random(seed)
    keep = None if held_out_names else -HELD_OUT_NAMES
    names = {
        "PER": _PEOPLE[:keep],
        "LOC": _PLACES[:keep],
        "ORG": _ORGANISATIONS[:keep],
        "MISC": _MISCELLANEOUS[:keep],
    }
    sentences = []
    for _ in range(count):
        tokens, tags = [], []
        for word in rng.choice(_TEMPLATES).split():
            kind = word.strip("{}") if word.startswith("{") else None
            if kind in names:
                entity = rng.choice(names[kind]).split()
                tokens += entity
                tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(entity) - 1)
                continue
            if kind == "day":
                word = rng.choice(_DAYS)
            elif kind == "number":
                word = str(rng.randint(1, 99))
            elif kind == "year":
                word = str(rng.randint(1950, 2020))
            tokens.append(word)
            tags.append("O")
        sentences.append((tokens, tags))
    return sentences


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
