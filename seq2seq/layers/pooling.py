"""Pooling a masked sequence to one vector: last step, mean, max or attention."""

from __future__ import annotations

import keras
import tensorflow as tf

from seq2seq import validation
from seq2seq.layers import masking

POOLING_MODES = ("last", "mean", "max", "attention")


@keras.saving.register_keras_serializable(package="seq2seq")
class SequencePooling(keras.layers.Layer):
    """Reduces `[batch, time, features]` to `[batch, features]`.

    Modes:

        last:      h(T_b), the output at the last valid step of row b
        mean:      sum_t m(t) h(t) / sum_t m(t)
        max:       max over valid t of h(t), per feature
        attention: e(t) = v^T tanh(W h(t) + b)   (Yang et al. 2016)
                   a = softmax over valid t of e(t)
                   sum_t a(t) h(t)

    Masks: a boolean `[batch, time]` mask, True at valid (right-padded)
    steps. Padding never changes the result: `mean` and `max` ignore it,
    `last` takes the last valid step, and `attention` gives it exactly zero
    weight. A row with no valid step pools to zeros (and zero attention
    weights), so an empty input gives a finite result. Without a mask every
    step is valid. The output carries no mask.

    Args:
        mode: One of `"last"`, `"mean"`, `"max"`, `"attention"`.
        attention_units: Width of the attention scorer's hidden layer
            (`attention` only; default: the input's feature size).
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        sequences: `[batch, time, features]`.
        mask: Boolean `[batch, time]`, or None.
        return_attention_scores: With `mode="attention"`, also return the
            weights `[batch, time]` (rows sum to 1 over valid steps).

    Returns:
        `[batch, features]`, or `(pooled, weights)` when
        `return_attention_scores`.

    >>> pooling = SequencePooling("attention")
    >>> pooled, weights = pooling(
    ...     tf.ones([2, 5, 8]), mask=tf.sequence_mask([5, 3], 5),
    ...     return_attention_scores=True)
    >>> pooled.shape, weights.shape
    (TensorShape([2, 8]), TensorShape([2, 5]))
    >>> weights[1].numpy().round(4)  # uniform over the 3 valid steps
    array([0.3333, 0.3333, 0.3333, 0.    , 0.    ], dtype=float32)
    """

    def __init__(self, mode="mean", attention_units=None, **kwargs):
        super().__init__(**kwargs)
        self.mode = validation.one_of("mode", mode, POOLING_MODES)
        self.attention_units = (
            None
            if attention_units is None
            else validation.positive_int("attention_units", attention_units)
        )
        self.supports_masking = True

    def build(self, sequences_shape, mask_shape=None):
        if self.mode != "attention":
            return
        features = sequences_shape[-1]
        units = self.attention_units or features
        self.kernel = self.add_weight(
            shape=(features, units), initializer="glorot_uniform", name="kernel"
        )
        self.bias = self.add_weight(shape=(units,), initializer="zeros", name="bias")
        self.context = self.add_weight(
            shape=(units,), initializer="glorot_uniform", name="context"
        )

    def call(self, sequences, mask=None, return_attention_scores=False):
        if return_attention_scores and self.mode != "attention":
            raise ValueError(
                "return_attention_scores needs mode='attention'. Received: "
                f"mode={self.mode!r}"
            )
        if mask is None:
            mask = tf.ones(tf.shape(sequences)[:2], tf.bool)
        mask = tf.cast(mask, tf.bool)
        valid = tf.cast(mask, sequences.dtype)[:, :, tf.newaxis]
        if self.mode == "last":
            lengths = masking.sequence_lengths(mask)
            last = tf.maximum(lengths - 1, 0)
            pooled = tf.gather(sequences, last, axis=1, batch_dims=1)
            # An all-padding row has no last valid step.
            return pooled * tf.cast(lengths > 0, sequences.dtype)[:, tf.newaxis]
        if self.mode == "mean":
            total = tf.reduce_sum(sequences * valid, axis=1)
            return total / tf.maximum(tf.reduce_sum(valid, axis=1), 1.0)
        if self.mode == "max":
            pooled = tf.reduce_max(
                masking.fill_masked(sequences, mask[:, :, tf.newaxis]), axis=1
            )
            any_valid = tf.reduce_any(mask, axis=1)[:, tf.newaxis]
            return tf.where(any_valid, pooled, tf.zeros_like(pooled))
        hidden = tf.tanh(tf.tensordot(sequences, self.kernel, 1) + self.bias)
        scores = tf.tensordot(hidden, self.context, 1)
        scores = masking.fill_masked(scores, mask)
        weights = tf.nn.softmax(scores, axis=-1)
        weights = tf.where(mask, weights, tf.zeros_like(weights))
        pooled = tf.reduce_sum(weights[:, :, tf.newaxis] * sequences, axis=1)
        if return_attention_scores:
            return pooled, weights
        return pooled

    def compute_mask(self, sequences, mask=None):
        return None

    def compute_output_shape(self, sequences_shape, mask_shape=None):
        return (sequences_shape[0], sequences_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "mode": self.mode,
            "attention_units": self.attention_units,
        }
