"""The masking convention shared by every layer of the package.

A mask is a boolean `[batch, time]` tensor, True where a step is valid.
Batches are right-padded: each row is a valid prefix followed by padding.
"""

from __future__ import annotations

import tensorflow as tf


def sequence_lengths(mask):
    """Length of each row up to its last valid step: `[batch]` int32.

    For a right-padded mask this is the number of valid steps. A mask with
    gaps (a `Masking` layer meeting an all-zero step) counts up to the last
    valid step, so reversing that prefix still reads every valid step, and the
    masked steps inside it carry the state as in the forward direction.

    Args:
        mask: Boolean `[batch, time]`, or None (every step valid), for which
            it returns None: "the whole row".
    """
    if mask is None:
        return None
    positions = tf.range(1, tf.shape(mask)[1] + 1)[tf.newaxis, :]
    return tf.reduce_max(tf.where(mask, positions, 0), axis=1)


def reverse_valid_steps(sequences, lengths):
    """Reverses the first `lengths[b]` steps of each row; padding stays put.

    `[a, b, c, pad, pad]` with length 3 becomes `[c, b, a, pad, pad]`. It is
    its own inverse, so the same call puts a backward pass's outputs back in
    input order. It is a gather, which XLA compiles, rather than
    `tf.reverse_sequence`.

    Args:
        sequences: `[batch, time, ...]`.
        lengths: `[batch]` integer valid lengths, or None to reverse whole
            rows (a plain, cheaper `tf.reverse`).
    """
    if lengths is None:
        return tf.reverse(sequences, axis=[1])
    time_steps = tf.shape(sequences)[1]
    positions = tf.range(time_steps)[tf.newaxis, :]
    lengths = tf.cast(lengths, positions.dtype)[:, tf.newaxis]
    source = tf.where(positions < lengths, lengths - 1 - positions, positions)
    return tf.gather(sequences, source, axis=1, batch_dims=1)
