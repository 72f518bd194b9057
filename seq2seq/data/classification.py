"""The classification input pipeline: labelled strings to bucketed id batches."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seq2seq.data.boundaries import length_boundaries
from seq2seq.data.files import logger
from seq2seq.data.transforms import LengthFilter, bucket_by_length
from seq2seq.text.normalize import clean_text

__all__ = [
    "Truncation",
    "carve_validation",
    "carve_validation_without_overlap",
    "classification_batches",
    "label_counts",
    "labelled_arrays",
    "length_boundaries",
]


class Truncation:
    """Cuts id sequences to `max_length`, counting how many it cut.

    `report()` says how many of the examples seen were longer (their tails
    were not read). Applied with `ds.apply` to `(ids, label)` elements.

    Args:
        max_length: Longest sequence kept whole.
        name: Says what was truncated, in the report.
    """

    def __init__(self, max_length, name="examples"):
        self.max_length = int(max_length)
        self.name = name
        self.seen = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.truncated = tf.Variable(0, dtype=tf.int64, trainable=False)

    def __call__(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        def cut(ids, label):
            longer = tf.cast(tf.shape(ids)[0] > self.max_length, tf.int64)
            counted = [self.seen.assign_add(1), self.truncated.assign_add(longer)]
            with tf.control_dependencies(counted):
                return tf.identity(ids[: self.max_length]), label

        return dataset.map(cut)

    def report(self) -> str:
        seen, cut = int(self.seen.numpy()), int(self.truncated.numpy())
        share = cut / max(seen, 1)
        message = (
            f"{self.name}: truncated {cut} of {seen} ({share:.1%}) to their first "
            f"{self.max_length} pieces"
        )
        (logger.warning if cut else logger.info)(message)
        return message


def classification_batches(
    dataset,
    tokenizer,
    max_length=256,
    batch_size=64,
    shuffle_buffer=0,
    seed=0,
    full_batches_only=False,
    name="examples",
):
    """`(text, label)` pairs to `(ids [batch, time], labels [batch])` batches.

    `dataset` is a `tf.data.Dataset` of `(text, label)` pairs, or a pair of
    sequences `(texts, labels)` (as `labelled_arrays` returns).

    Texts are tokenized, cut to `max_length` pieces (counted), and texts
    with no piece at all are dropped (counted); batches are bucketed by
    length so a jit-compiled step sees few shapes. The result is cached, then
    reshuffled every epoch when `shuffle_buffer` is set.

    With `full_batches_only`, each bucket's last, partial batch of an epoch
    is left out, so a jit-compiled training step compiles once per bucket
    rather than again for every odd batch size. That leaves out fewer than
    `batch_size` examples per bucket and epoch, different ones each epoch
    when the data is reshuffled.

    Returns:
        `(batches, truncation, empty_filter)`: report either with `.report()`
        after a pass over the data.
    """
    if isinstance(dataset, tuple):
        texts, labels = dataset
        dataset = tf.data.Dataset.from_tensor_slices(
            (tf.constant(list(texts), tf.string), tf.constant(labels, tf.int32))
        )
    truncation = Truncation(max_length, name=name)
    empty = LengthFilter(max_length, min_length=1, name=f"{name} (empty)")

    def tokenize(text, label):
        return tokenizer(text), label

    ids = dataset.map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
    ids = ids.apply(truncation).apply(empty).cache()
    if shuffle_buffer:
        ids = ids.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    batches = ids.apply(
        bucket_by_length(
            length_boundaries(max_length),
            batch_size=batch_size,
            length_fn=lambda element: tf.shape(element[0])[0],
        )
    )
    if full_batches_only:
        batches = batches.filter(lambda ids, labels: tf.shape(ids)[0] == batch_size)
    return batches.prefetch(tf.data.AUTOTUNE), truncation, empty


def carve_validation(texts, labels, fraction, seed=0):
    """A seeded random split of `(texts, labels)` into train and validation.

    Args:
        texts, labels: Equal-length sequences.
        fraction: Share of the examples for validation, in (0, 1).
        seed: Seed of the permutation.

    Returns:
        `((train_texts, train_labels), (valid_texts, valid_labels))` as NumPy
        arrays, each part in the original order of the file.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1). Received: fraction={fraction!r}")
    texts, labels = np.asarray(texts, dtype=object), np.asarray(labels)
    count = len(texts)
    size = max(1, round(count * fraction))
    if size >= count:
        raise ValueError(
            f"cannot carve {size} validation examples from {count}; pass a "
            "smaller fraction or a validation file"
        )
    chosen = np.zeros(count, bool)
    chosen[np.random.default_rng(seed).permutation(count)[:size]] = True
    return (texts[~chosen], labels[~chosen]), (texts[chosen], labels[chosen])


def carve_validation_without_overlap(train, fraction, seed=0, keep_overlap=False):
    """`carve_validation`, then the carved texts also left in train removed.

    A text that occurs verbatim in both parts (a duplicate in the data) would
    be scored on something the model trained on, so by default it is taken
    out of validation (and stays in train).

    Args:
        train: `(texts, labels)`, equal-length sequences.
        fraction, seed: As `carve_validation`.
        keep_overlap: Keep those texts in validation.

    Returns:
        `(train, valid, report)`: two `(texts, labels)` pairs of arrays and a
        sentence saying what was carved, how many texts overlapped and what
        became of them.
    """
    train, valid = carve_validation(*train, fraction, seed=seed)
    seen = set(train[0])
    overlap = np.array([text in seen for text in valid[0]], bool)
    report = (
        f"no validation set given: carved a seeded {fraction:.0%} of train "
        f"(seed {seed}): {len(valid[0])} examples, {len(train[0])} left to train "
        f"on; {overlap.sum()} of the carved texts also occur verbatim in the rest "
        "of train, " + ("kept" if keep_overlap else "removed from validation")
    )
    if not keep_overlap:
        valid = (valid[0][~overlap], valid[1][~overlap])
    return train, valid, report


def label_counts(labels, label_names) -> str:
    """Says the label names, the number of examples and each label's count.

    >>> label_counts([0, 1, 1], ["negative", "positive"])
    "labels ['negative', 'positive']; train 3 examples, counts [1, 2]"
    """
    counts = np.bincount(labels, minlength=len(label_names)).tolist()
    return f"labels {list(label_names)}; train {len(labels)} examples, counts {counts}"


def labelled_arrays(dataset, batch_size=4096):
    """Cleaned texts and label ids of a `(text, label)` dataset, as arrays.

    The texts go through `seq2seq.text.clean_text` (as the classifier's
    export does at serving time).

    Returns:
        `(texts, labels)`: an object array of `bytes` and an `int32` array.
    """
    texts, labels = [], []
    for text, label in dataset.batch(batch_size):
        texts += list(clean_text(text).numpy())
        labels += list(label.numpy())
    return np.array(texts, dtype=object), np.array(labels, dtype=np.int32)
