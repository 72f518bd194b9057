"""The IOB1 / IOB2 / IOBES tag schemes: tags, spans and allowed transitions.

Both the CRF (`seq2seq.layers`) and the CoNLL reader (`seq2seq.data`) speak
these schemes, so they live here, beneath both. The module imports nothing
from the package.

- IOB1: `I-X` inside (or beginning) an entity; `B-X` only to start an entity
  right after another of the same type.
- IOB2: every entity starts with `B-X`, continues with `I-X`.
- IOBES: `B-X`, `I-X`, `E-X` (its end), or `S-X` for a one-token entity.
"""

from __future__ import annotations

SCHEMES = ("iob1", "iob2", "iobes")
PREFIXES = {"iob1": "BI", "iob2": "BI", "iobes": "BIES"}


class TagError(ValueError):
    """A tag, or a tag sequence, that the scheme does not allow."""

    def __init__(self, position: int, problem: str):
        super().__init__(f"position {position}: {problem}")
        self.position = position


def check_scheme(scheme, name="scheme"):
    """Returns `scheme`, or raises naming the schemes if it is none of them."""
    if scheme not in SCHEMES:
        raise ValueError(
            f"{name} must be one of {list(SCHEMES)}. Received: {name}={scheme!r}"
        )
    return scheme


def split_tag(tag, scheme):
    """`("B", "PER")` for `B-PER`, `("O", None)` for `O`; raises if malformed.

    >>> split_tag("B-PER", "iob2"), split_tag("O", "iob2")
    (('B', 'PER'), ('O', None))
    """
    if tag == "O":
        return "O", None
    prefix, dash, kind = tag.partition("-")
    if not dash or not kind or prefix not in PREFIXES[scheme]:
        raise ValueError(
            f"tag {tag!r} fits no {scheme.upper()} tag (O or "
            f"{'/'.join(PREFIXES[scheme])}-TYPE)"
        )
    return prefix, kind


def tags_to_spans(tags, scheme):
    """Entity spans `[(type, start, end_exclusive)]` of a tag sequence.

    Raises:
        TagError: with the position, for a malformed tag or (IOB2, IOBES) a
            sequence the scheme does not allow, such as `O I-PER` in IOB2.

    >>> tags_to_spans(["B-PER", "I-PER", "O", "B-LOC"], "iob2")
    [('PER', 0, 2), ('LOC', 3, 4)]
    """
    check_scheme(scheme)
    spans, open_kind, start = [], None, 0

    def close(end):
        nonlocal open_kind
        if open_kind is not None:
            spans.append((open_kind, start, end))
        open_kind = None

    for position, tag in enumerate(tags):
        try:
            prefix, kind = split_tag(tag, scheme)
        except ValueError as error:
            raise TagError(position, str(error)) from None
        continues = open_kind == kind and prefix in ("I", "E")
        if scheme == "iobes" and open_kind is not None and not continues:
            raise TagError(
                position,
                f"{tag!r} follows an unclosed {open_kind} entity; IOBES closes "
                "every entity with E- (or marks it S-)",
            )
        if scheme != "iob1" and prefix in ("I", "E") and not continues:
            previous = tags[position - 1] if position else None
            raise TagError(
                position,
                f"{tag!r} does not continue an entity of type {kind} (previous "
                f"tag {previous!r}), which {scheme.upper()} requires",
            )
        if prefix == "O":
            close(position)
        elif prefix in ("B", "S") or not continues:
            close(position)
            open_kind, start = kind, position
        if prefix in ("E", "S"):
            close(position + 1)
    if scheme == "iobes" and open_kind is not None:
        raise TagError(
            len(tags) - 1,
            f"entity {open_kind} is not closed with E- or S-, which IOBES requires",
        )
    close(len(tags))
    return spans


def spans_to_tags(spans, length, scheme):
    """The tag sequence of `length` tokens with these entity spans.

    >>> spans_to_tags([("PER", 0, 2), ("LOC", 3, 4)], 4, "iobes")
    ['B-PER', 'E-PER', 'O', 'S-LOC']
    """
    check_scheme(scheme)
    tags = ["O"] * length
    previous_end, previous_kind = None, None
    for kind, start, end in spans:
        if scheme == "iobes" and end - start == 1:
            tags[start] = f"S-{kind}"
        else:
            tags[start:end] = [f"I-{kind}"] * (end - start)
            if scheme == "iobes":
                tags[start], tags[end - 1] = f"B-{kind}", f"E-{kind}"
            elif scheme == "iob2" or (previous_end == start and previous_kind == kind):
                tags[start] = f"B-{kind}"
        previous_end, previous_kind = end, kind
    return tags


def convert_tags(tags, from_scheme, to_scheme):
    """`tags` rewritten from one scheme to another, same entities.

    >>> convert_tags(["I-PER", "I-PER", "O"], "iob1", "iob2")
    ['B-PER', 'I-PER', 'O']
    """
    return spans_to_tags(tags_to_spans(tags, from_scheme), len(tags), to_scheme)


def tag_names(kinds, scheme):
    """Every tag of `scheme` for these entity types: "O" first, then `B-`,
    `I-` (and `E-`, `S-`) of each type, in the order given.

    >>> tag_names(["LOC", "PER"], "iob2")
    ['O', 'B-LOC', 'I-LOC', 'B-PER', 'I-PER']
    """
    check_scheme(scheme)
    return ["O"] + [f"{p}-{kind}" for kind in kinds for p in PREFIXES[scheme]]


def iob2_names(tag_names, scheme):
    """Tag names as IOB2: IOBES maps tag by tag (S- to B-, E- to I-).

    >>> iob2_names(["O", "B-X", "I-X", "E-X", "S-X"], "iobes")
    ['O', 'B-X', 'I-X', 'I-X', 'B-X']
    """
    if scheme == "iob2":
        return list(tag_names)
    if scheme != "iobes":
        raise ValueError(f"scheme must be 'iob2' or 'iobes'. Received: {scheme!r}")
    mapping = {"S": "B", "E": "I", "B": "B", "I": "I"}
    return [tag if tag == "O" else mapping[tag[0]] + tag[1:] for tag in tag_names]


def transition_constraints(tag_names, scheme):
    """Which tag may follow which, start a sentence and end one, in a scheme.

    - IOB2: `I-X` only after `B-X` or `I-X`, never first.
    - IOB1: `I-X` anywhere; `B-X` only right after `I-X` or `B-X` (it
      separates two adjacent entities of one type), never first.
    - IOBES: `I-X`/`E-X` only after `B-X`/`I-X`; `B-X`, `S-X` and `O` only
      after `O`, `E-*` or `S-*`; the first tag is `O`, `B-*` or `S-*`; the
      last is `O`, `E-*` or `S-*`.

    Args:
        tag_names: The tags, in id order.
        scheme: `"iob1"`, `"iob2"` or `"iobes"`.

    Returns:
        `(allowed_transitions, allowed_start, allowed_end)` as nested lists of
        booleans: `allowed_transitions[i][j]` says whether tag j may follow
        tag i. They are the constraints `seq2seq.layers.CRF` takes.

    >>> allowed, start, end = transition_constraints(["O", "B-PER", "I-PER"], "iob2")
    >>> allowed[0][2], start[2]
    (False, False)
    """
    check_scheme(scheme)
    parts = [split_tag(tag, scheme) for tag in tag_names]

    def may_follow(previous, current):
        (p, pk), (c, ck) = previous, current
        if scheme == "iob2":
            return c != "I" or (p in "BI" and pk == ck)
        if scheme == "iob1":
            return c != "B" or (p in "BI" and pk == ck)
        inside = p in "BI"  # IOBES: B-X and I-X must be continued by I-X or E-X
        if inside:
            return c in "IE" and pk == ck
        return c in "OBS"

    allowed = [[may_follow(p, c) for c in parts] for p in parts]
    if scheme == "iobes":
        start = [p in "OBS" for p, _ in parts]
        end = [p in "OES" for p, _ in parts]
    else:
        start = [p != ("I" if scheme == "iob2" else "B") for p, _ in parts]
        end = [True] * len(parts)
    return allowed, start, end
