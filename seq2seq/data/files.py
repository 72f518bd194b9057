"""Reading text files loudly: every problem names the file and the line."""

from __future__ import annotations

import gzip
import logging
import os

import tensorflow as tf

logger = logging.getLogger("seq2seq.data")


class DataError(ValueError):
    """Bad input data. The message names the file, the line and the problem."""


class MissingSplitError(DataError):
    """A dataset has no split of the asked name (the message lists its splits)."""


def load_hf_split(name, config=None, split="train", data_files=None):
    """One split of a Hugging Face dataset (`datasets.load_dataset`).

    Raises:
        MissingSplitError: the dataset has no split named `split`, the one
            problem a caller may answer with a fallback (carving a
            validation set from train, say); every other problem raises
            its own error.
    """
    import datasets

    if any(mark in split for mark in "[+"):  # a slice or a sum of splits
        return datasets.load_dataset(name, config, split=split, data_files=data_files)
    splits = datasets.load_dataset(name, config, data_files=data_files)
    if split not in splits:
        raise MissingSplitError(
            f"{name}: no split {split!r}; the splits are {sorted(splits)}"
        )
    return splits[split]


def open_text(path):
    """Opens `path` for binary reading, gunzipping `*.gz`."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def read_lines(path) -> list[str]:
    """The lines of a UTF-8 text file, without their line endings.

    Raises:
        DataError: the file is missing or empty, or a line is not UTF-8
            (the message gives the line number and the offending bytes).
    """
    path = os.fspath(path)
    lines = []
    with open_text(path) as file:
        for number, raw in enumerate(file, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                bad = raw[max(error.start - 10, 0) : error.end + 10]
                raise DataError(
                    f"{path}:{number}: not valid UTF-8 at byte {error.start} "
                    f"of the line ({bad!r})"
                ) from None
            lines.append(line.rstrip("\r\n"))
    if not lines or (len(lines) == 1 and not lines[0]):
        raise DataError(f"{path}: the file is empty")
    return lines


def report_dropped(what: str, count: int, total: int, where: str) -> None:
    """Says how many items a filter dropped (nothing is dropped silently)."""
    if count:
        logger.warning("%s: dropped %d of %d %s", where, count, total, what)


def rows_dataset(*ragged):
    """A dataset of the rows of ragged `[n, None]` tensors, as dense 1-D tensors.

    (Slicing a ragged tensor yields ragged rows, which `padded_batch` and
    bucketing refuse.)
    """

    def dense(*rows):
        rows = tuple(
            r.to_tensor() if isinstance(r, tf.RaggedTensor) else r for r in rows
        )
        return rows[0] if len(rows) == 1 else rows

    return tf.data.Dataset.from_tensor_slices(
        ragged if len(ragged) > 1 else ragged[0]
    ).map(dense)
