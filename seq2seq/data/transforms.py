"""Composable `tf.data` transforms: each returns a function for `ds.apply`.

>>> ds = tf.data.Dataset.from_generator(
...     lambda: ([1] * n for n in (2, 9, 3, 70, 12)),
...     output_signature=tf.TensorSpec([None], tf.int32))
>>> keep = LengthFilter(max_length=63)
>>> ds = ds.apply(keep).apply(bucket_by_length([8, 16, 64], batch_size=2))
>>> [batch.shape for batch in ds.as_numpy_iterator()]
[(2, 7), (2, 15)]
>>> keep.report()
'examples: kept 4, dropped 1 (length outside [1, 63])'
"""

from __future__ import annotations

import tensorflow as tf

from seq2seq.data.files import logger


def _max_length(element):
    """The longest first dimension among the element's tensors."""
    lengths = [tf.shape(t)[0] for t in tf.nest.flatten(element) if t.shape.rank]
    if not lengths:
        raise ValueError("length_fn: the element has no sequence to measure")
    return tf.reduce_max(tf.stack(lengths))


class LengthFilter:
    """Keeps elements whose length is in `[min_length, max_length]`, counting.

    Nothing is dropped silently: `dropped` and `kept` count as the dataset is
    iterated, and `report()` logs and returns the numbers.

    Args:
        max_length: Longest length kept.
        min_length: Shortest length kept (default 1: empty sequences go).
        length_fn: `element -> scalar length`; default the longest sequence
            in the element (for a `(source, target)` pair, the longer side).
        name: Says what was filtered, in the report.

    >>> pairs = tf.data.Dataset.from_tensor_slices(([[1, 2, 0], [3, 0, 0]], [0, 1]))
    >>> keep = LengthFilter(2, length_fn=lambda p: tf.math.count_nonzero(p[0]),
    ...                     name="train pairs")
    >>> len(list(pairs.apply(keep)))  # iterating counts
    2
    >>> keep.report()
    'train pairs: kept 2, dropped 0 (length outside [1, 2])'
    """

    def __init__(self, max_length, min_length=1, length_fn=None, name="examples"):
        if max_length < min_length:
            raise ValueError(
                f"max_length must be >= min_length. Received: max_length="
                f"{max_length}, min_length={min_length}"
            )
        self.max_length, self.min_length = int(max_length), int(min_length)
        self.length_fn = length_fn or _max_length
        self.name = name
        self.kept = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.dropped = tf.Variable(0, dtype=tf.int64, trainable=False)

    def __call__(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        def keep(*element):
            element = element[0] if len(element) == 1 else element
            length = tf.cast(self.length_fn(element), tf.int64)
            ok = tf.logical_and(length >= self.min_length, length <= self.max_length)
            kept = self.kept.assign_add(tf.cast(ok, tf.int64))
            dropped = self.dropped.assign_add(1 - tf.cast(ok, tf.int64))
            with tf.control_dependencies([kept, dropped]):
                return tf.identity(ok)

        return dataset.filter(keep)

    def report(self) -> str:
        kept, dropped = int(self.kept.numpy()), int(self.dropped.numpy())
        message = (
            f"{self.name}: kept {kept}, dropped {dropped} (length outside "
            f"[{self.min_length}, {self.max_length}])"
        )
        (logger.warning if dropped else logger.info)(message)
        return message


def bucket_by_length(
    boundaries,
    batch_size=None,
    tokens_per_batch=None,
    length_fn=None,
    padding_value=0,
    pad_to_boundary=True,
):
    """Batches by length into `len(boundaries)` buckets.

    With `pad_to_boundary` every batch is padded to its bucket's upper bound
    (boundary - 1), so a jit-compiled step sees at most `len(boundaries)`
    time shapes per batch size instead of one per batch. Without it each
    sequence of a batch is padded to the batch's longest (the tightest
    batches; for steps that are not compiled per shape). Elements must be
    shorter than the last boundary: put a
    `LengthFilter(max_length=boundaries[-1] - 1)` first, which also counts
    what it drops.

    Args:
        boundaries: Increasing bucket upper bounds (exclusive).
        batch_size: Examples per batch; or instead
        tokens_per_batch: Padded tokens per batch; each bucket's batch size
            is `tokens_per_batch // (boundary - 1)` (at least 1).
        length_fn: `element -> length`; default the longest sequence.
        padding_value: Value of the padding (0 for ids, "" for strings is
            not supported here: tokenize first).
        pad_to_boundary: Pad to the bucket's bound rather than the batch's
            longest sequence.
    """
    boundaries = [int(b) for b in boundaries]
    if sorted(set(boundaries)) != boundaries or boundaries[0] < 2:
        raise ValueError(
            f"boundaries must increase strictly from at least 2. Received: {boundaries}"
        )
    if (batch_size is None) == (tokens_per_batch is None):
        raise ValueError(
            "pass exactly one of batch_size and tokens_per_batch. Received: "
            f"batch_size={batch_size}, tokens_per_batch={tokens_per_batch}"
        )
    if batch_size is not None:
        sizes = [int(batch_size)] * len(boundaries)
    else:
        sizes = [max(1, int(tokens_per_batch) // (b - 1)) for b in boundaries]
    length_fn = length_fn or _max_length

    def apply(dataset: tf.data.Dataset) -> tf.data.Dataset:
        def element_length(*element):
            return length_fn(element[0] if len(element) == 1 else element)

        def check(*element):
            length = element_length(*element)
            assertion = tf.debugging.assert_less(
                length,
                boundaries[-1],
                message=(
                    f"bucket_by_length: an element is not shorter than the last "
                    f"boundary {boundaries[-1]}; put LengthFilter(max_length="
                    f"{boundaries[-1] - 1}) before it"
                ),
            )
            with tf.control_dependencies([assertion]):
                element = tf.nest.map_structure(tf.identity, element)
            return element[0] if len(element) == 1 else element

        return dataset.map(check).bucket_by_sequence_length(
            element_length,
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[*sizes, 1],  # the last bucket stays empty
            padding_values=None if padding_value == 0 else padding_value,
            pad_to_bucket_boundary=bool(pad_to_boundary),
        )

    return apply


def batch_by_examples(batch_size, padding_value=0):
    """Pads each batch to its own longest element (many shapes under XLA)."""
    values = None if padding_value == 0 else padding_value
    return lambda dataset: dataset.padded_batch(batch_size, padding_values=values)


def shuffle_cache_prefetch(shuffle_buffer=10_000, seed=0, cache=True):
    """Cache (after the expensive maps), a seeded reshuffle per epoch, prefetch."""

    def apply(dataset: tf.data.Dataset) -> tf.data.Dataset:
        if cache:
            dataset = dataset.cache()
        if shuffle_buffer:
            dataset = dataset.shuffle(
                shuffle_buffer, seed=seed, reshuffle_each_iteration=True
            )
        return dataset.prefetch(tf.data.AUTOTUNE)

    return apply
