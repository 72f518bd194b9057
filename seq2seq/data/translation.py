"""The translation input pipeline: string pairs to bucketed id batches."""

from __future__ import annotations

import tensorflow as tf

from seq2seq.data.transforms import LengthFilter, bucket_by_length


def translation_example(tokenizer):
    """`(source, target)` strings -> `((source_ids, target_in), target_out)`.

    `target_in` is BOS + target pieces, `target_out` is target pieces + EOS;
    the source has no BOS/EOS.
    """
    bos = tf.constant([tokenizer.bos_id], tf.int32)
    eos = tf.constant([tokenizer.eos_id], tf.int32)

    def convert(source, target):
        source_ids = tokenizer(source)
        target_ids = tokenizer(target)
        return (
            (source_ids, tf.concat([bos, target_ids], 0)),
            tf.concat([target_ids, eos], 0),
        )

    return convert


def _length(element):
    (source, target_in), _ = element
    return tf.maximum(tf.shape(source)[0], tf.shape(target_in)[0])


def translation_batches(
    pairs,
    tokenizer,
    boundaries=(16, 32, 64, 128),
    tokens_per_batch=4096,
    shuffle_buffer=0,
    seed=0,
    name="pairs",
    pad_to_boundary=True,
):
    """Tokenized, length-filtered, bucketed batches of translation examples.

    Pairs are bucketed by their longer side; `pad_to_boundary` pads every
    batch to its bucket's bound (a bounded set of shapes, for XLA), else
    source and target are each padded to the batch's longest.

    Returns:
        `(dataset, length_filter)`; `length_filter.report()` says how many
        pairs were too long (or empty) for the buckets.
    """
    keep = LengthFilter(max_length=boundaries[-1] - 1, length_fn=_length, name=name)
    dataset = pairs.map(
        translation_example(tokenizer), num_parallel_calls=tf.data.AUTOTUNE
    )
    dataset = dataset.apply(keep).cache()
    if shuffle_buffer:
        dataset = dataset.shuffle(
            shuffle_buffer, seed=seed, reshuffle_each_iteration=True
        )
    dataset = dataset.apply(
        bucket_by_length(
            boundaries,
            tokens_per_batch=tokens_per_batch,
            length_fn=_length,
            pad_to_boundary=pad_to_boundary,
        )
    )
    return dataset.prefetch(tf.data.AUTOTUNE), keep
