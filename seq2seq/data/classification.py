"""The classification input pipeline: labelled strings to bucketed id batches."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seq2seq.data.files import logger
from seq2seq.data.transforms import LengthFilter, bucket_by_length


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


def length_boundaries(max_length, smallest=8):
    """Bucket boundaries 8, 16, 32, ... up to `max_length + 1` (exclusive)."""
    boundaries, bound = [], smallest
    while bound <= max_length:
        boundaries.append(bound)
        bound *= 2
    return sorted({*boundaries, max_length + 1})


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
