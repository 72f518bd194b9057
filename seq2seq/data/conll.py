"""CoNLL column files (their tags in a scheme of `seq2seq.tagging_schemes`)."""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf

from seq2seq.data.files import DataError, logger, read_lines, rows_dataset
from seq2seq.tagging_schemes import (
    TagError,
    check_scheme,
    spans_to_tags,
    split_tag,
    tag_names,
    tags_to_spans,
)


@dataclasses.dataclass
class Sentence:
    tokens: list[str]
    tags: list[str]
    line: int  # line number of the first token, for messages


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
    check_scheme(scheme)
    if convert_to is not None:
        check_scheme(convert_to)
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

    check_scheme(scheme)
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
    check_scheme(scheme)
    kinds = {split_tag(tag, scheme)[1] for s in sentences for tag in s.tags} - {None}
    return tag_names(sorted(kinds), scheme)
