"""Attention over an encoder's memory: a template and two score functions."""

from __future__ import annotations

import keras
import tensorflow as tf

from seq2seq import validation
from seq2seq.layers import masking


class Attention(keras.layers.Layer):
    """Template for attention: masking, softmax and the context vector.

    Subclasses override `score(query, keys)` only, and may override
    `process_keys(memory)` to precompute what does not depend on the query
    (so a decoder computes it once per source, not once per step).

        scores(t, s) = score(query(t), key(s))
        weights(t, :) = softmax over the valid source positions
        context(t) = sum_s weights(t, s) * memory(s)

    Masks: `memory_mask` is a boolean `[batch, source]` mask, True at valid
    source positions. Masked positions get weight exactly 0; a row with no
    valid position gets all-zero weights and a zero context (never NaN).

    Call arguments:
        query: `[batch, query_size]` (one decoder step) or
            `[batch, target, query_size]` (all steps at once).
        memory: `[batch, source, memory_size]`, the encoder outputs.
        memory_mask: Optional boolean `[batch, source]`.
        processed_keys: Optional result of `process_keys(memory)`.

    Returns:
        `(context, weights)`: `[batch, (target,) memory_size]` and
        `[batch, (target,) source]`.
    """

    def process_keys(self, memory):
        """What the score needs from the memory, computed once. Default: it."""
        return memory

    def score(self, query, keys):
        """`[batch, target, query_size]`, keys -> `[batch, target, source]`."""
        raise NotImplementedError

    def call(self, query, memory, memory_mask=None, processed_keys=None):
        single_step = query.shape.rank == 2
        if single_step:
            query = query[:, tf.newaxis, :]
        keys = self.process_keys(memory) if processed_keys is None else processed_keys
        scores = self.score(query, keys)
        if memory_mask is not None:
            valid = tf.cast(memory_mask, tf.bool)[:, tf.newaxis, :]
            scores = masking.fill_masked(scores, valid)
        weights = tf.nn.softmax(scores, axis=-1)
        if memory_mask is not None:
            weights = tf.where(valid, weights, tf.zeros_like(weights))
        context = tf.matmul(weights, memory)
        if single_step:
            return context[:, 0], weights[:, 0]
        return context, weights


@keras.saving.register_keras_serializable(package="seq2seq")
class BahdanauAttention(Attention):
    """Additive attention (Bahdanau et al. 2015).

        score(q, k) = v^T tanh(W_q q + W_k k)

    `W_k k` is the processed key, computed once per source.

    Args:
        units: Positive integer, the size of the hidden layer of the score.

    >>> attention = BahdanauAttention(16)
    >>> context, weights = attention(np.ones((2, 8)), np.ones((2, 5, 12)))
    >>> context.shape, weights.shape
    (TensorShape([2, 12]), TensorShape([2, 5]))
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = validation.positive_int("units", units)

    def build(self, query_shape, memory_shape, *args, **kwargs):
        self.query_kernel = self.add_weight(
            shape=(query_shape[-1], self.units), name="query_kernel"
        )
        self.key_kernel = self.add_weight(
            shape=(memory_shape[-1], self.units), name="key_kernel"
        )
        self.score_vector = self.add_weight(shape=(self.units,), name="score_vector")

    def process_keys(self, memory):
        # Cast: called outside `__call__` (decoding), Keras does not autocast.
        return tf.einsum("bsd,du->bsu", memory, tf.cast(self.key_kernel, memory.dtype))

    def score(self, query, keys):
        projected = tf.einsum("btd,du->btu", query, self.query_kernel)
        hidden = tf.tanh(projected[:, :, tf.newaxis, :] + keys[:, tf.newaxis, :, :])
        return tf.einsum("btsu,u->bts", hidden, self.score_vector)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="seq2seq")
class LuongAttention(Attention):
    """Multiplicative attention (Luong et al. 2015), `dot` or `general`.

        dot:      score(q, k) = q^T k          (query and memory sizes equal)
        general:  score(q, k) = q^T W_a k      (`W_a k` is the processed key)

    Args:
        score_mode: `"dot"` or `"general"`.
        scale: Divide scores by sqrt(key size), as in scaled dot-product
            attention (off in Luong et al.).

    >>> attention = LuongAttention("general")
    >>> context, weights = attention(np.ones((2, 8)), np.ones((2, 5, 12)))
    """

    SCORE_MODES = ("dot", "general")

    def __init__(self, score_mode: str = "general", scale: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.score_mode = validation.one_of("score_mode", score_mode, self.SCORE_MODES)
        self.scale = bool(scale)

    def build(self, query_shape, memory_shape, *args, **kwargs):
        if self.score_mode == "general":
            self.kernel = self.add_weight(
                shape=(memory_shape[-1], query_shape[-1]), name="kernel"
            )
        elif query_shape[-1] != memory_shape[-1]:
            raise ValueError(
                "score_mode='dot' needs queries and memory of the same size. "
                f"Received: query size {query_shape[-1]}, memory size "
                f"{memory_shape[-1]}; use score_mode='general'"
            )

    def process_keys(self, memory):
        if self.score_mode == "general":
            return tf.einsum("bsd,dq->bsq", memory, tf.cast(self.kernel, memory.dtype))
        return memory

    def score(self, query, keys):
        scores = tf.matmul(query, keys, transpose_b=True)
        if self.scale:
            scores /= tf.sqrt(tf.cast(tf.shape(keys)[-1], scores.dtype))
        return scores

    def get_config(self):
        return {
            **super().get_config(),
            "score_mode": self.score_mode,
            "scale": self.scale,
        }
