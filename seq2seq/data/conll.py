"""CoNLL column files and the IOB1 / IOB2 / IOBES tag schemes."""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf

from seq2seq.data.files import DataError, logger, read_lines, rows_dataset

SCHEMES = ("iob1", "iob2", "iobes")
_PREFIXES = {"iob1": "BI", "iob2": "BI", "iobes": "BIES"}


@dataclasses.dataclass
class Sentence:
    tokens: list[str]
    tags: list[str]
    line: int  # line number of the first token, for messages


class TagError(ValueError):
    """A tag, or a tag sequence, that the scheme does not allow."""

    def __init__(self, position: int, problem: str):
        super().__init__(f"position {position}: {problem}")
        self.position = position


def _check_scheme(scheme):
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {list(SCHEMES)}. Received: {scheme!r}")


def split_tag(tag, scheme):
    """`("B", "PER")` for `B-PER`, `("O", None)` for `O`; raises if malformed."""
    if tag == "O":
        return "O", None
    prefix, dash, kind = tag.partition("-")
    if not dash or not kind or prefix not in _PREFIXES[scheme]:
        raise ValueError(
            f"tag {tag!r} fits no {scheme.upper()} tag (O or "
            f"{'/'.join(_PREFIXES[scheme])}-TYPE)"
        )
    return prefix, kind


def tags_to_spans(tags, scheme):
    """Entity spans `[(type, start, end_exclusive)]` of a tag sequence.

    Raises:
        TagError: with the position, for a malformed tag or (IOB2, IOBES) a
            sequence the scheme does not allow, such as `O I-PER` in IOB2.
    """
    _check_scheme(scheme)
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
    """The tag sequence of `length` tokens with these entity spans."""
    _check_scheme(scheme)
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
    """`tags` rewritten from one scheme to another, same entities."""
    return spans_to_tags(tags_to_spans(tags, from_scheme), len(tags), to_scheme)


def read_conll(path, scheme="iob2", tag_column=-1, convert_to=None) -> list[Sentence]:
    """Sentences of a CoNLL column file.

    One token a line, whitespace-separated columns, the word first; a blank
    line ends a sentence; `-DOCSTART-` lines (document breaks) are skipped.

    Args:
        path: The file.
        scheme: The scheme the file's tags are in: `iob1`, `iob2` or `iobes`.
        tag_column: Which column holds the tag (default the last).
        convert_to: Optional scheme to convert the tags to.

    Raises:
        DataError: naming the file and line, for a missing, empty or non-UTF-8
            file, a line whose column count differs from the file's first
            token line, a tag column that does not exist, or a tag (or tag
            sequence) that fits no scheme.
    """
    _check_scheme(scheme)
    if convert_to is not None:
        _check_scheme(convert_to)
    path = os.fspath(path)
    sentences, tokens, tags, lines_of_tokens = [], [], [], []
    columns = None

    def finish():
        if not tokens:
            return
        try:
            spans = tags_to_spans(tags, scheme)
        except TagError as error:
            line = lines_of_tokens[error.position]
            raise DataError(f"{path}:{line}: {error}") from None
        final = (
            tags if convert_to is None else spans_to_tags(spans, len(tags), convert_to)
        )
        sentences.append(Sentence(list(tokens), list(final), lines_of_tokens[0]))
        tokens.clear(), tags.clear(), lines_of_tokens.clear()

    for number, line in enumerate(read_lines(path), start=1):
        fields = line.split()
        if not fields:
            finish()
            continue
        if fields[0] == "-DOCSTART-":
            finish()
            continue
        if columns is None:
            columns = len(fields)
            if not -columns <= tag_column < columns or columns < 2:
                raise DataError(
                    f"{path}:{number}: tag_column={tag_column} but the line has "
                    f"{columns} column(s)"
                )
        if len(fields) != columns:
            raise DataError(
                f"{path}:{number}: expected {columns} columns like the first token "
                f"line, found {len(fields)}: {line!r}"
            )
        tokens.append(fields[0])
        tags.append(fields[tag_column])
        lines_of_tokens.append(number)
    finish()
    if not sentences:
        raise DataError(f"{path}: no sentences (only blank or -DOCSTART- lines)")
    return sentences


def conll_dataset(sentences: list[Sentence]) -> tf.data.Dataset:
    """`(tokens, tags)` pairs of 1-D string tensors, one per sentence."""
    return rows_dataset(
        tf.ragged.constant([s.tokens for s in sentences], dtype=tf.string),
        tf.ragged.constant([s.tags for s in sentences], dtype=tf.string),
    )


def conll_from_hf(
    name,
    split="train",
    config=None,
    tokens_column="tokens",
    tags_column="ner_tags",
    scheme="iob2",
    convert_to=None,
    data_files=None,
) -> list[Sentence]:
    """Tagged sentences from a Hugging Face dataset (e.g. `conll2003`), or
    from local files through datasets' `json` builder with `data_files`.

    Tags may be strings or a `Sequence(ClassLabel)` (CoNLL-2003 on the Hub
    stores IOB2 tag ids with their names). `Sentence.line` holds the row.

    Raises:
        DataError: naming the dataset, split and row, for a missing column,
            tag ids without names, or tags that fit no scheme.
    """
    import datasets

    _check_scheme(scheme)
    records = datasets.load_dataset(name, config, split=split, data_files=data_files)
    where = f"{name} ({split})"
    for column in (tokens_column, tags_column):
        if column not in records.column_names:
            raise DataError(
                f"{where}: no column {column!r}; columns are {records.column_names}"
            )
    feature = records.features[tags_column]
    inner = getattr(feature, "feature", None)
    names = inner.names if isinstance(inner, datasets.ClassLabel) else None
    sentences, skipped = [], 0
    for row, (tokens, tags) in enumerate(
        zip(records[tokens_column], records[tags_column], strict=True)
    ):
        if names is not None:
            tags = [names[t] for t in tags]
        elif tags and not isinstance(tags[0], str):
            raise DataError(
                f"{where} row {row}: tags are ids without names ({tags[:3]}...); "
                "give string tags or a Sequence(ClassLabel) column"
            )
        if not tokens or list(tokens) == ["-DOCSTART-"]:
            skipped += 1  # document breaks, as in the files; counted below
            continue
        try:
            spans = tags_to_spans(tags, scheme)
        except (TagError, ValueError) as error:
            raise DataError(f"{where} row {row}: {error}") from None
        final = (
            tags if convert_to is None else spans_to_tags(spans, len(tags), convert_to)
        )
        sentences.append(Sentence(list(tokens), list(final), row))
    if not sentences:
        raise DataError(f"{where}: no sentences")
    if skipped:
        logger.info("%s: skipped %d empty or -DOCSTART- rows", where, skipped)
    return sentences


def scheme_tags(sentences: list[Sentence], scheme) -> list[str]:
    """Every tag of `scheme` for the entity types in `sentences`: "O" first,
    then `B-`, `I-` (and `E-`, `S-`) of each type, types sorted.

    A tagger trained on these can output a tag its training data happened
    not to contain (an `I-MISC` after a one-word-only type, say).
    """
    _check_scheme(scheme)
    kinds = sorted(
        {split_tag(tag, scheme)[1] for s in sentences for tag in s.tags} - {None}
    )
    return ["O"] + [f"{p}-{kind}" for kind in kinds for p in _PREFIXES[scheme]]
