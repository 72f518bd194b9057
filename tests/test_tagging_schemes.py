"""The tag schemes against brute force: every span set round-trips."""

import itertools

import pytest

from seq2seq.tagging_schemes import (
    check_scheme,
    convert_tags,
    iob2_names,
    spans_to_tags,
    tag_names,
    tags_to_spans,
)

# One sentence in each scheme: "Hans Peter | Müller lives in New York ."
# (two adjacent PER entities, then a LOC).
IOB1 = ["I-PER", "I-PER", "B-PER", "O", "O", "I-LOC", "I-LOC", "O"]
IOB2 = ["B-PER", "I-PER", "B-PER", "O", "O", "B-LOC", "I-LOC", "O"]
IOBES = ["B-PER", "E-PER", "S-PER", "O", "O", "B-LOC", "E-LOC", "O"]
SPANS = [("PER", 0, 2), ("PER", 2, 3), ("LOC", 5, 7)]
BY_SCHEME = {"iob1": IOB1, "iob2": IOB2, "iobes": IOBES}


@pytest.mark.parametrize("source, target", itertools.product(BY_SCHEME, BY_SCHEME))
def test_conversions_between_schemes(source, target):
    assert tags_to_spans(BY_SCHEME[source], source) == SPANS
    assert convert_tags(BY_SCHEME[source], source, target) == BY_SCHEME[target]


def _all_span_sets(length, kinds=("A", "B")):
    """Every set of non-overlapping typed spans over `length` tokens."""
    if length == 0:
        yield []
        return
    for rest in _all_span_sets(length - 1, kinds):  # token 0 outside any span
        yield [(k, s + 1, e + 1) for k, s, e in rest]
    for size in range(1, length + 1):
        for kind in kinds:
            for rest in _all_span_sets(length - size, kinds):
                yield [(kind, 0, size)] + [(k, s + size, e + size) for k, s, e in rest]


@pytest.mark.parametrize("scheme", sorted(BY_SCHEME))
def test_every_span_set_round_trips_through_every_scheme(scheme):
    count = 0
    for length in range(6):
        for spans in _all_span_sets(length):
            tags = spans_to_tags(spans, length, scheme)
            assert tags_to_spans(tags, scheme) == spans
            for other in BY_SCHEME:
                assert convert_tags(tags, scheme, other) == spans_to_tags(
                    spans, length, other
                )
            count += 1
    assert count == 1 + 3 + 11 + 41 + 153 + 571  # sum over lengths 0..5


@pytest.mark.parametrize(
    "tags, scheme, problem",
    [
        (["X-PER"], "iob2", "fits no IOB2 tag"),
        (["B-"], "iob1", "fits no IOB1 tag"),
        (["S-PER"], "iob2", "fits no IOB2 tag"),
        (["O", "I-PER"], "iob2", "does not continue"),
        (["B-PER", "I-LOC"], "iobes", "unclosed PER"),
        (["O", "E-LOC"], "iobes", "does not continue"),
        (["B-PER"], "iobes", "not closed"),
        (["B-PER", "O"], "iobes", "unclosed PER"),
        (["B-PER", "B-LOC", "E-LOC"], "iobes", "unclosed PER"),
        (["B-PER", "I-PER", "O"], "iobes", "unclosed PER"),
    ],
)
def test_tags_that_fit_no_scheme_raise(tags, scheme, problem):
    with pytest.raises(ValueError, match=problem):
        tags_to_spans(tags, scheme)


def test_tag_names_iob2_names_and_scheme_errors():
    assert tag_names(["LOC", "PER"], "iobes") == [
        "O",
        "B-LOC",
        "I-LOC",
        "E-LOC",
        "S-LOC",
        "B-PER",
        "I-PER",
        "E-PER",
        "S-PER",
    ]
    names = tag_names(["LOC"], "iobes")
    assert iob2_names(names, "iobes") == ["O", "B-LOC", "I-LOC", "I-LOC", "B-LOC"]
    assert iob2_names(names[:3], "iob2") == names[:3]
    with pytest.raises(ValueError, match=r"scheme must be one of \['iob1', 'iob2'"):
        check_scheme("bio")
