"""Labelled text (text, label) from TSV, CSV, JSONL or Hugging Face datasets."""

from __future__ import annotations

import csv
import io
import json
import os

import tensorflow as tf

from seq2seq.data.files import DataError, load_hf_split, read_lines

FORMATS = ("tsv", "csv", "jsonl")


def _infer_format(path: str) -> str:
    name = path[:-3] if path.endswith(".gz") else path
    for fmt, suffixes in (
        ("tsv", (".tsv",)),
        ("csv", (".csv",)),
        ("jsonl", (".jsonl", ".json")),
    ):
        if name.endswith(suffixes):
            return fmt
    raise ValueError(
        f"cannot tell the format of {path!r} from its name; pass format= one of "
        f"{list(FORMATS)}"
    )


def _records(path: str, fmt: str):
    """`(line_number, record_dict)` for each data row of the file."""
    lines = read_lines(path)  # checks existence, emptiness and UTF-8 per line
    if fmt == "jsonl":
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(
                    f"{path}:{number}: not valid JSON ({error.msg})"
                ) from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{number}: expected a JSON object per line")
            yield number, record
        return
    delimiter = "\t" if fmt == "tsv" else ","
    # TSV files such as SST-2's are not quoted; CSV fields may span lines.
    quoting = csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL
    reader = csv.reader(
        io.StringIO("\n".join(lines)), delimiter=delimiter, quoting=quoting
    )
    header = next(reader)
    for row in reader:
        number = reader.line_num
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(
                f"{path}:{number}: expected {len(header)} columns like the header "
                f"{header}, found {len(row)}"
            )
        yield number, dict(zip(header, row, strict=True))


def _build(texts, labels, label_names, where):
    if label_names is None:
        distinct = {str(label) for label in labels}
        numeric = all(name.lstrip("-").isdigit() for name in distinct)
        label_names = sorted(distinct, key=int if numeric else None)
    label_names = [str(name) for name in label_names]
    index = {name: i for i, name in enumerate(label_names)}
    ids = []
    for location, label in zip(where, labels, strict=True):
        if str(label) not in index:
            raise DataError(
                f"{location}: label {label!r} is not in the label set {label_names}"
            )
        ids.append(index[str(label)])
    dataset = tf.data.Dataset.from_tensor_slices(
        (tf.constant(texts, tf.string), tf.constant(ids, tf.int32))
    )
    return dataset, label_names


def labelled_text(
    path, text_column="text", label_column="label", labels=None, format=None
):
    """A labelled text file: TSV or CSV with a header (`.gz` too), or JSONL.

    SST-2's `sentence<TAB>label` and IMDB's gzipped `id,rating,label,text`
    both read with the right column names.

    Args:
        path: The file.
        text_column, label_column: Column (or JSON key) names.
        labels: The label set, in id order. Default: the labels in the file,
            sorted (numerically when they are all integers). A label outside
            a given set is an error.
        format: `tsv`, `csv` or `jsonl`; default from the file name.

    Returns:
        `(dataset, labels)`: a dataset of `(text, label_id)` and the label
        names in id order.

    Raises:
        DataError: naming the file and line, for a missing, empty or non-UTF-8
            file, a row with the wrong number of columns, a missing column or
            a label outside `labels`.
    """
    path = os.fspath(path)
    fmt = format or _infer_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}. Received: {fmt!r}")
    texts, values, where = [], [], []
    for number, record in _records(path, fmt):
        for column in (text_column, label_column):
            if column not in record:
                raise DataError(
                    f"{path}:{number}: no column {column!r}; found {sorted(record)}"
                )
        texts.append(str(record[text_column]))
        values.append(record[label_column])
        where.append(f"{path}:{number}")
    if not texts:
        raise DataError(f"{path}: no data rows")
    return _build(texts, values, labels, where)


def labelled_text_from_hf(
    name,
    text_column,
    label_column,
    config=None,
    split="train",
    data_files=None,
    labels=None,
):
    """A Hugging Face dataset (e.g. `glue`/`sst2`, `imdb`), or local files
    through datasets' `csv`/`json` builders with `data_files`.

    A `ClassLabel` column gives its names as the default label set.

    Returns:
        `(dataset, labels)` as `labelled_text`.
    """
    import datasets

    records = load_hf_split(name, config, split, data_files)
    for column in (text_column, label_column):
        if column not in records.column_names:
            raise DataError(
                f"{name} ({split}): no column {column!r}; columns are "
                f"{records.column_names}"
            )
    values = records[label_column]
    feature = records.features[label_column]
    if isinstance(feature, datasets.ClassLabel):
        values = [feature.int2str(v) for v in values]
        labels = labels or feature.names
    where = [f"{name} ({split}) row {row}" for row in range(len(values))]
    return _build([str(t) for t in records[text_column]], values, labels, where)
