"""Parallel text (source, target) as a `tf.data.Dataset` of string pairs."""

from __future__ import annotations

import os

import tensorflow as tf

from seq2seq.data.files import (
    DataError,
    load_hf_split,
    read_lines,
    report_dropped,
)

EMPTY_LINE_POLICIES = ("keep", "drop", "error")


def _check_policy(empty_lines):
    if empty_lines not in EMPTY_LINE_POLICIES:
        raise ValueError(
            f"empty_lines must be one of {list(EMPTY_LINE_POLICIES)}. "
            f"Received: empty_lines={empty_lines!r}"
        )


def _pairs_dataset(sources, targets, line_numbers, empty_lines, where):
    """Applies the empty-line policy and builds the dataset."""
    _check_policy(empty_lines)
    kept_sources, kept_targets = [], []
    for source, target, line in zip(sources, targets, line_numbers, strict=True):
        if not source.strip() or not target.strip():
            if empty_lines == "error":
                side = "source" if not source.strip() else "target"
                raise DataError(
                    f"{where(line)}: empty {side} line (pass empty_lines='drop' "
                    "or 'keep' to allow it)"
                )
            if empty_lines == "drop":
                continue
        kept_sources.append(source)
        kept_targets.append(target)
    report_dropped(
        "pairs with an empty side",
        len(sources) - len(kept_sources),
        len(sources),
        where(None),
    )
    return tf.data.Dataset.from_tensor_slices(
        (tf.constant(kept_sources, tf.string), tf.constant(kept_targets, tf.string))
    )


def parallel_text_files(
    source_file, target_file, empty_lines="error"
) -> tf.data.Dataset:
    """Two line-aligned files, e.g. `multi30k/train.en` and `train.de`.

    Args:
        source_file, target_file: UTF-8 text files (`.gz` is read too).
        empty_lines: `"error"` (default) raises on a pair with an empty side,
            `"drop"` drops it (and logs how many), `"keep"` keeps it.

    Returns:
        A dataset of `(source, target)` scalar strings, in file order.

    Raises:
        DataError: a file is missing, empty or not UTF-8 (with the line), or
            the files have different line counts (both named, both counts).
    """
    sources, targets = read_lines(source_file), read_lines(target_file)
    if len(sources) != len(targets):
        raise DataError(
            "parallel files must have the same number of lines: "
            f"{os.fspath(source_file)} has {len(sources)}, "
            f"{os.fspath(target_file)} has {len(targets)}"
        )
    names = f"{os.fspath(source_file)} / {os.fspath(target_file)}"
    return _pairs_dataset(
        sources,
        targets,
        range(1, len(sources) + 1),
        empty_lines,
        lambda line: names if line is None else f"{names}:{line}",
    )


def parallel_text_tsv(
    path, source_column=0, target_column=1, header=False, empty_lines="error"
) -> tf.data.Dataset:
    """A tab-separated file with a source and a target column.

    Args:
        path: The TSV file.
        source_column, target_column: Column indices, or names if `header`.
        header: Whether the first line names the columns.
        empty_lines: As in `parallel_text_files`.

    Raises:
        DataError: as `read_lines`, or a line with too few columns.
    """
    lines = read_lines(path)
    path = os.fspath(path)
    start = 1
    if header:
        names = lines[0].split("\t")
        columns = []
        for column in (source_column, target_column):
            if column not in names:
                raise DataError(f"{path}:1: no column {column!r} in header {names}")
            columns.append(names.index(column))
        source_column, target_column = columns
        lines, start = lines[1:], 2
    # Every line has the column count of the header (or the first line): a
    # stray tab would otherwise cut a sentence short without a word.
    expected = len(names) if header else len(lines[0].split("\t"))
    if max(source_column, target_column) >= expected:
        raise DataError(
            f"{path}:{start}: column {max(source_column, target_column)} asked for, "
            f"but lines have {expected} tab-separated columns"
        )
    sources, targets, numbers = [], [], []
    for number, line in enumerate(lines, start=start):
        fields = line.split("\t")
        if len(fields) != expected:
            raise DataError(
                f"{path}:{number}: expected {expected} tab-separated columns, "
                f"found {len(fields)}"
            )
        sources.append(fields[source_column])
        targets.append(fields[target_column])
        numbers.append(number)
    return _pairs_dataset(
        sources,
        targets,
        numbers,
        empty_lines,
        lambda line: path if line is None else f"{path}:{line}",
    )


def _column(record, column: str):
    """`record["a"]["b"]` for `column="a.b"` (e.g. `translation.de`)."""
    value = record
    for key in column.split("."):
        value = value[key]
    return value


def parallel_text_from_hf(
    name,
    source_column,
    target_column,
    config=None,
    split="train",
    data_files=None,
    empty_lines="error",
) -> tf.data.Dataset:
    """A Hugging Face dataset with a source and a target column.

    Online, `name` is a hub dataset (e.g. `bentrevett/multi30k` with columns
    `en` and `de`, or `wmt16` / `de-en` with `translation.en`). Anywhere,
    `name` can be one of datasets' builders for local files, `json`, `csv` or
    `text`, with `data_files`.

    Args:
        name: Dataset name or builder.
        source_column, target_column: Column names; a dot reaches into a
            nested column (`translation.en`).
        config: The dataset configuration, if it has several.
        split: Which split.
        data_files: Local files for the `json`/`csv`/`text` builders.
        empty_lines: As in `parallel_text_files`.
    """
    records = load_hf_split(name, config, split, data_files)
    first = records[0] if len(records) else {}
    for column in (source_column, target_column):
        try:
            _column(first, column)
        except (KeyError, TypeError):
            raise DataError(
                f"{name} ({split}): no column {column!r}; "
                f"columns are {records.column_names}"
            ) from None
    sources = [str(_column(r, source_column)) for r in records]
    targets = [str(_column(r, target_column)) for r in records]
    where = f"{name} ({split})"
    return _pairs_dataset(
        sources,
        targets,
        range(len(sources)),
        empty_lines,
        lambda row: where if row is None else f"{where} row {row}",
    )
