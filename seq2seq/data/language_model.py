"""Language-model data: texts (optionally labelled) to next-piece batches.

A text becomes `[BOS] + pieces + [EOS]`; a text longer than `max_length`
pieces is cut into consecutive windows that share one piece, so every piece
is a target exactly once and nothing is dropped (a window after the first
starts without the text before it). Inputs are a window without its last id,
targets the window without its first.
"""

from __future__ import annotations

import os

import numpy as np
import sentencepiece
import tensorflow as tf

from seq2seq.data.boundaries import length_boundaries
from seq2seq.data.classification import carve_validation, labelled_arrays
from seq2seq.data.files import (
    DataError,
    MissingSplitError,
    load_hf_split,
    logger,
    read_lines,
    rows_dataset,
)
from seq2seq.data.labelled import _infer_format, _records, labelled_text
from seq2seq.data.transforms import bucket_by_length
from seq2seq.text.normalize import clean_text

TEXT_SUFFIXES = (".txt", ".text")
FORMATS = ("txt", "tsv", "csv", "jsonl", "conll")


def _cleaned(texts) -> list[str]:
    """`clean_text` (as the exports run it), as Python strings."""
    cleaned = []
    for start in range(0, len(texts), 4096):
        batch = tf.constant(list(texts[start : start + 4096]), tf.string)
        cleaned += [t.decode("utf-8") for t in clean_text(batch).numpy()]
    return cleaned


def _conll_sentences(path) -> list[str]:
    """The sentences of a CoNLL file: first fields joined by spaces; blank
    lines and `-DOCSTART-` lines end a sentence."""
    sentences, words = [], []
    for line in [*read_lines(path), ""]:
        fields = line.split()
        if fields and fields[0] != "-DOCSTART-":
            words.append(fields[0])
        elif words:
            sentences.append(" ".join(words))
            words = []
    if not sentences:
        raise DataError(f"{path}: no sentences")
    return sentences


def read_texts(path, text_column="text", label_column=None, labels=None, format=None):
    """The texts (and label ids) of a file.

    `.txt` (or `.txt.gz`): one text per line, blank lines skipped and
    counted. `.tsv`, `.csv` (also gzipped) and `.jsonl`: the `text_column`
    of each row, as `labelled_text` reads them. `format="conll"` (CoNLL-2003's
    `eng.train`): one text per sentence, its words (first column) joined by
    spaces. `format` overrides what the name says (`txt`, `tsv`, `csv`,
    `jsonl`, `conll`).

    Returns:
        `(texts, label_ids, label_names)`: cleaned `str` texts; with
        `label_column`, an int32 array and the names in id order (`labels`
        if given), else None and None.

    Raises:
        DataError: naming the file (and line) for a missing or empty file,
            bad UTF-8, a missing column, or a label column in a `.txt` file.
    """
    path = os.fspath(path)
    name = path[:-3] if path.endswith(".gz") else path
    if format not in (None, *FORMATS):
        raise DataError(f"format must be one of {list(FORMATS)}. Received: {format!r}")
    if format == "conll":
        if label_column:
            raise DataError(f"{path}: a CoNLL file has no label column")
        return _conll_sentences(path), None, None
    if format == "txt" or (format is None and name.endswith(TEXT_SUFFIXES)):
        if label_column:
            raise DataError(
                f"{path}: a plain text file has no label column {label_column!r}; "
                "give a .tsv, .csv or .jsonl file to condition on labels"
            )
        lines = read_lines(path)
        texts = [line for line in lines if line.strip()]
        if not texts:
            raise DataError(f"{path}: no text, only blank lines")
        if len(texts) < len(lines):
            print(f"{path}: skipped {len(lines) - len(texts)} blank lines")
        return _cleaned(texts), None, None
    try:
        fmt = format or _infer_format(path)
    except ValueError as error:
        raise DataError(f"{path}: {error}, txt or conll") from None
    if label_column:
        dataset, names = labelled_text(path, text_column, label_column, labels, fmt)
        texts, ids = labelled_arrays(dataset)
        return [t.decode("utf-8") for t in texts], ids, names
    texts = []
    for number, record in _records(path, fmt):
        if text_column not in record:
            raise DataError(
                f"{path}:{number}: no column {text_column!r}; found {sorted(record)}"
            )
        texts.append(str(record[text_column]))
    if not texts:
        raise DataError(f"{path}: no data rows")
    return _cleaned(texts), None, None


def texts_from_hf(
    name,
    config=None,
    split="train",
    text_column="text",
    label_column=None,
    data_files=None,
    labels=None,
):
    """`read_texts` for a Hugging Face dataset (or local files through its
    `text`, `csv` or `json` builders and `data_files`)."""
    records = load_hf_split(name, config, split, data_files)
    where = f"{name} ({split})"
    for column in (text_column, label_column):
        if column and column not in records.column_names:
            raise DataError(
                f"{where}: no column {column!r}; columns are {records.column_names}"
            )
    texts = [str(t) for t in records[text_column]]
    if not label_column:
        return _cleaned(texts), None, None
    values = records[label_column]
    feature = records.features[label_column]
    if hasattr(feature, "int2str"):  # a ClassLabel: names from the dataset
        values = [feature.int2str(v) for v in values]
        labels = labels or feature.names
    if labels is None:
        labels = sorted({str(v) for v in values})
    index = {str(n): i for i, n in enumerate(labels)}
    for row, value in enumerate(values):
        if str(value) not in index:
            raise DataError(f"{where} row {row}: label {value!r} is not in {labels}")
    ids = np.array([index[str(v)] for v in values], np.int32)
    return _cleaned(texts), ids, [str(n) for n in labels]


def piece_ids(tokenizer, texts) -> list[list[int]]:
    """The SentencePiece ids of each text (without BOS/EOS)."""
    processor = sentencepiece.SentencePieceProcessor(model_proto=tokenizer.model)
    return processor.encode(list(texts))


def _ragged(rows):
    lengths = np.array([len(row) for row in rows], np.int64)
    values = np.concatenate([np.asarray(r, np.int32) for r in rows] or [[]])
    return tf.RaggedTensor.from_row_lengths(values.astype(np.int32), lengths)


def windows(pieces, bos_id, eos_id, max_length, labels=None):
    """`[BOS] + ids + [EOS]` of each text, cut into windows of at most
    `max_length` inputs (see the module docstring).

    Returns:
        `(inputs, targets, window_labels)`: lists of int lists, and the label
        of each window's text (None without labels).
    """
    inputs, targets, window_labels = [], [], []
    for row, ids in enumerate(pieces):
        sequence = [bos_id, *ids, eos_id]
        for start in range(0, len(sequence) - 1, max_length):
            window = sequence[start : start + max_length + 1]
            inputs.append(window[:-1])
            targets.append(window[1:])
            if labels is not None:
                window_labels.append(int(labels[row]))
    return inputs, targets, (window_labels if labels is not None else None)


def language_model_batches(
    pieces,
    bos_id,
    eos_id,
    max_length=128,
    batch_size=32,
    labels=None,
    shuffle=False,
    seed=0,
):
    """Batches of `(ids, targets)`, or `((ids, label), targets)` with labels.

    Windows are bucketed by length (padded to their bucket's bound, 0 as
    padding) and, with `shuffle`, reshuffled every epoch (seeded).

    Returns:
        `(batches, windows_count)`.
    """
    inputs, targets, window_labels = windows(pieces, bos_id, eos_id, max_length, labels)
    dataset = rows_dataset(_ragged(inputs), _ragged(targets))
    if window_labels is not None:
        label_data = tf.data.Dataset.from_tensor_slices(
            np.array(window_labels, np.int32)
        )
        dataset = tf.data.Dataset.zip((dataset, label_data)).map(
            lambda pair, label: ((pair[0], label), pair[1])
        )
    dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.apply(
        bucket_by_length(
            length_boundaries(max_length),
            batch_size=batch_size,
            length_fn=lambda element: tf.shape(element[1])[0],
        )
    )
    logger.info("%d windows from %d texts", len(inputs), len(pieces))
    return dataset.prefetch(tf.data.AUTOTUNE), len(inputs)


def word_count(texts) -> int:
    """Whitespace-separated words plus one end per text: the denominator of
    perplexity per word (the end of a text is predicted like a word)."""
    return sum(len(text.split()) + 1 for text in texts)


def load_splits(
    train=None,
    valid=None,
    text_column="text",
    label_column=None,
    dataset=None,
    dataset_config=None,
    data_files=None,
    builtin=None,
    valid_fraction=0.05,
    seed=0,
    format=None,
):
    """Train and validation texts (and labels) from files, a dataset, or the
    built-in reviews.

    Args:
        train, valid: Comma-separated files (see `read_texts`); without
            `valid`, a seeded `valid_fraction` of train is carved off.
        text_column, label_column: Columns; with `label_column` the texts
            come with label ids.
        dataset, dataset_config, data_files: A Hugging Face dataset (its
            `train` and, if any, `validation` splits), when no `train`.
        builtin: `(folder, train_size, seed)`: with neither, the built-in
            reviews are written there (`builtin.write_text_corpus`, or
            `write_sentiment_corpus` with labels) and read back.
        format: The files' format, as `read_texts` takes it.

    Returns:
        `((texts, labels), (texts, labels), label_names)`; labels and names
        are None without `label_column`.
    """
    from seq2seq.data import builtin as corpora

    def read(paths, names=None):
        parts = [
            read_texts(p, text_column, label_column, names, format)
            for p in paths.split(",")
        ]
        labels = None if label_column is None else np.concatenate([p[1] for p in parts])
        return [t for p in parts for t in p[0]], labels, parts[0][2]

    if train:
        train = read(train)
        valid = read(valid, train[2]) if valid else None
    elif dataset:
        options = dict(text_column=text_column, label_column=label_column)
        options["data_files"] = data_files
        train = texts_from_hf(dataset, dataset_config, **options)
        try:
            valid = texts_from_hf(
                dataset, dataset_config, "validation", labels=train[2], **options
            )
        except MissingSplitError:
            valid = None
    else:
        folder, size, corpus_seed = builtin
        write = corpora.write_sentiment_corpus
        if not label_column:
            write = corpora.write_text_corpus
        files = write(folder, size, size // 6, corpus_seed)
        train = read(files["train"])
        valid = read(files["valid"], train[2])
    if valid is None:
        labels = train[1] if train[1] is not None else np.zeros(len(train[0]), np.int32)
        (texts, kept), (carved, carved_labels) = carve_validation(
            train[0], labels, valid_fraction, seed
        )
        print(
            f"validation: a seeded {valid_fraction:.0%} of train, {len(carved)} texts"
        )
        labelled = train[1] is not None
        valid = (list(carved), carved_labels if labelled else None)
        train = (list(texts), kept if labelled else None, train[2])
    return train[:2], valid[:2], train[2]
