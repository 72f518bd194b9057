"""The masking convention shared by every layer of the package.

A mask is a boolean `[batch, time]` tensor, True where a step is valid.
Batches are right-padded: each row is a valid prefix followed by padding.
Scores at masked positions are replaced by `mask_fill_value(dtype)`.
"""

from __future__ import annotations

import tensorflow as tf

# The fill of masked scores for dtypes whose range allows it: exp(-1e9 - s)
# is exactly 0 for any real score s, as it would be for -inf, and it stays
# finite, so a row with no valid position gives a uniform softmax (then
# zeroed) instead of NaN.
_FILL = -1e9


def mask_fill_value(dtype) -> float:
    """The score given to masked positions before a softmax, max or logsumexp.

    `-1e9`, or `-max(dtype) / 8` where `-1e9` does not fit: float16 (largest
    65504) would round -1e9 to -inf, and a row of -inf gives NaN through
    softmax and logsumexp (inf - inf). The eighth leaves room to add a few
    fills (a forbidden CRF start, transition and end) without overflow, and
    exp(fill) underflows to 0 in every float dtype, so a masked position
    never gets weight next to a valid one.

    Args:
        dtype: A float dtype (`tf.float16`, `"bfloat16"`, `tf.float32`, ...).

    Returns:
        A Python float: -1e9 for float32, float64 and bfloat16; -8188.0 for
        float16.

    >>> mask_fill_value(tf.float32), mask_fill_value("float16")
    (-1000000000.0, -8188.0)
    """
    dtype = tf.as_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(
            f"mask_fill_value needs a float dtype. Received: dtype={dtype.name}"
        )
    return max(_FILL, -float(dtype.max) / 8)


def fill_masked(scores, mask):
    """`scores` with `mask_fill_value(scores.dtype)` where `mask` is False.

    Args:
        scores: Float tensor.
        mask: Boolean tensor broadcastable to `scores`.
    """
    fill = tf.constant(mask_fill_value(scores.dtype), scores.dtype)
    return tf.where(mask, scores, fill)


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
