"""A linear-chain conditional random field.

Written here because Keras 3 has no CRF: TensorFlow Addons (whose
`tfa.text.crf_*` functions were the usual choice) reached end of life, its
ops do not support Keras 3 layers, and keras-hub has none. This one is a
plain Keras layer with weights, masks and XLA support.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from seq2seq import validation
from seq2seq.layers import masking


@keras.saving.register_keras_serializable(package="seq2seq")
class CRF(keras.layers.Layer):
    """A linear-chain CRF: the sequence loss and Viterbi decoding of a tagger.

    The score of a tag path `y` for potentials `x` (one score per token and
    tag, from the layer below) is

        s(x, y) = start[y_1] + sum_t x[t, y_t]
                  + sum_{t>1} transitions[y_{t-1}, y_t] + end[y_n]

    and `p(y | x) = exp(s(x, y)) / Z(x)`, with the log-partition `log Z(x)`
    summed over every path by the forward algorithm in log space.
    Forbidden transitions (see `seq2seq.tagging_schemes`'s
    `transition_constraints`) score `masking.mask_fill_value(dtype)` in the
    potentials' dtype (finite, and exp of it is 0), in training and in
    decoding alike, so the model never spends probability on them and Viterbi
    never picks them.

    Masks: boolean `[batch, time]`, True at real tokens, right-padded. A
    sequence ends at its last valid step (that is where `end` applies);
    padded steps add nothing. A sequence with no valid step has score 0,
    `log Z = 0` and decodes to all zeros.

    Args:
        num_tags: Number of tags.
        allowed_transitions: Optional `[num_tags, num_tags]` booleans,
            `[i][j]` True if tag j may follow tag i.
        allowed_start: Optional `[num_tags]` booleans: tags that may begin a
            sequence.
        allowed_end: Optional `[num_tags]` booleans: tags that may end one.

    Call arguments:
        potentials: `[batch, time, num_tags]` float scores.
        mask: Optional boolean `[batch, time]`.

    Returns:
        `(tags, scores)`: the Viterbi path `[batch, time]` int32 (0 at padded
        steps) and its score `[batch]`.

    >>> crf = CRF(5)
    >>> potentials = keras.random.normal((2, 7, 5))
    >>> mask = tf.sequence_mask([7, 4], 7)
    >>> tags, scores = crf(potentials, mask=mask)
    >>> tags.shape, scores.shape
    (TensorShape([2, 7]), TensorShape([2]))
    >>> crf.negative_log_likelihood(potentials, tags, mask).shape  # [batch]
    TensorShape([2])
    """

    def __init__(
        self,
        num_tags,
        allowed_transitions=None,
        allowed_start=None,
        allowed_end=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_tags = validation.positive_int("num_tags", num_tags)
        self.allowed_transitions = self._check(
            "allowed_transitions", allowed_transitions, (num_tags, num_tags)
        )
        self.allowed_start = self._check("allowed_start", allowed_start, (num_tags,))
        self.allowed_end = self._check("allowed_end", allowed_end, (num_tags,))
        self.supports_masking = True

    @staticmethod
    def _check(name, value, shape):
        if value is None:
            return None
        value = (
            [[bool(v) for v in row] for row in value]
            if len(shape) == 2
            else [bool(v) for v in value]
        )
        received = (
            (len(value), *{len(row) for row in value})
            if len(shape) == 2
            else (len(value),)
        )
        if received != shape:
            raise ValueError(
                f"{name} must have shape {shape}. Received a value of shape {received}"
            )
        return value

    def build(self, potentials_shape=None, mask_shape=None):
        n = self.num_tags
        self.transitions = self.add_weight(
            name="transitions",
            shape=(n, n),
            initializer=keras.initializers.RandomUniform(-0.1, 0.1),
        )
        self.start_transitions = self.add_weight(
            name="start_transitions", shape=(n,), initializer="zeros"
        )
        self.end_transitions = self.add_weight(
            name="end_transitions", shape=(n,), initializer="zeros"
        )

    def scores(self, dtype=None):
        """`(transitions, start, end)` in `dtype`, forbidden entries filled.

        A forbidden entry is replaced by `masking.mask_fill_value(dtype)`
        after the cast, so it stays finite in float16 too.

        Args:
            dtype: The dtype of the potentials (default: the weights').
        """
        if not self.built:  # the methods may be used without calling the layer
            self.build()
            self.built = True
        dtype = dtype or self.dtype
        weights = (self.transitions, self.start_transitions, self.end_transitions)
        allowed = (self.allowed_transitions, self.allowed_start, self.allowed_end)
        return tuple(
            tf.cast(weight, dtype)
            if allowed is None
            else masking.fill_masked(tf.cast(weight, dtype), tf.constant(allowed))
            for weight, allowed in zip(weights, allowed, strict=True)
        )

    @staticmethod
    def _prepare(potentials, mask):
        potentials = tf.convert_to_tensor(potentials)
        shape = tf.shape(potentials)
        if mask is None:
            mask = tf.ones(shape[:2], tf.bool)
        mask = tf.cast(mask, tf.bool)
        # Batches shorter than two steps get padded steps: the recursions need
        # a first step, and a scan over zero steps with an unknown batch size
        # cannot be stacked in a graph. Padded steps change no result.
        missing = tf.maximum(2 - shape[1], 0)
        potentials = tf.pad(potentials, [[0, 0], [0, missing], [0, 0]])
        mask = tf.pad(mask, [[0, 0], [0, missing]])
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        return potentials, mask, lengths

    def log_partition(self, potentials, mask=None):
        """`log Z(x)` `[batch]`, by the forward algorithm in log space."""
        potentials, mask, lengths = self._prepare(potentials, mask)
        transitions, start, end = self.scores(potentials.dtype)
        alpha = start + potentials[:, 0]

        def forward(alpha, step):
            scores, valid = step
            # alpha'[j] = logsumexp_i(alpha[i] + transitions[i, j]) + x[t, j]
            moved = tf.reduce_logsumexp(alpha[:, :, None] + transitions[None], axis=1)
            return tf.where(valid[:, None], moved + scores, alpha)

        steps = (
            tf.transpose(potentials[:, 1:], [1, 0, 2]),
            tf.transpose(mask[:, 1:]),
        )
        alpha = tf.foldl(forward, steps, initializer=alpha)
        log_z = tf.reduce_logsumexp(alpha + end, axis=1)
        return tf.where(lengths > 0, log_z, tf.zeros_like(log_z))

    def sequence_score(self, potentials, tags, mask=None):
        """`s(x, y)` `[batch]` of the given tag paths `[batch, time]`."""
        potentials, mask, lengths = self._prepare(potentials, mask)
        transitions, start, end = self.scores(potentials.dtype)
        tags = tf.cast(tags, tf.int32)
        valid = tf.cast(mask, potentials.dtype)
        unary = tf.gather(potentials, tags, axis=2, batch_dims=2)
        score = tf.reduce_sum(unary * valid, axis=1)
        pairs = tf.gather_nd(transitions, tf.stack([tags[:, :-1], tags[:, 1:]], -1))
        score += tf.reduce_sum(pairs * valid[:, 1:], axis=1)
        last = tf.gather(tags, tf.maximum(lengths - 1, 0), axis=1, batch_dims=1)
        has_tokens = tf.cast(lengths > 0, potentials.dtype)
        score += (tf.gather(start, tags[:, 0]) + tf.gather(end, last)) * has_tokens
        return score

    def log_likelihood(self, potentials, tags, mask=None):
        """`log p(y | x)` `[batch]`."""
        return self.sequence_score(potentials, tags, mask) - self.log_partition(
            potentials, mask
        )

    def negative_log_likelihood(self, potentials, tags, mask=None):
        """The training loss per sequence, `-log p(y | x)` `[batch]`."""
        return -self.log_likelihood(potentials, tags, mask)

    def decode(self, potentials, mask=None):
        """Viterbi: the best path `[batch, time]` (int32) and its score."""
        time = tf.shape(potentials)[1]
        potentials, mask, lengths = self._prepare(potentials, mask)
        transitions, start, end = self.scores(potentials.dtype)
        batch = tf.shape(potentials)[0]
        identity = tf.tile(tf.range(self.num_tags)[None], [batch, 1])

        def forward(carry, step):
            delta, _ = carry
            scores, valid = step
            candidates = delta[:, :, None] + transitions[None]
            best_previous = tf.argmax(candidates, axis=1, output_type=tf.int32)
            moved = tf.reduce_max(candidates, axis=1) + scores
            # A padded step keeps delta and points each tag back to itself.
            return (
                tf.where(valid[:, None], moved, delta),
                tf.where(valid[:, None], best_previous, identity),
            )

        steps = (
            tf.transpose(potentials[:, 1:], [1, 0, 2]),
            tf.transpose(mask[:, 1:]),
        )
        delta0 = start + potentials[:, 0]
        deltas, backpointers = tf.scan(forward, steps, initializer=(delta0, identity))
        final = deltas[-1] + end
        best_last = tf.argmax(final, axis=1, output_type=tf.int32)
        best_score = tf.reduce_max(final, axis=1)

        def backward(tag, pointers):
            return tf.gather(pointers, tag, axis=1, batch_dims=1)

        # Walk back from the last step: tags[t-1] = pointers[t][tags[t]].
        earlier = tf.scan(backward, backpointers, initializer=best_last, reverse=True)
        tags = tf.concat([tf.transpose(earlier), best_last[:, None]], axis=1)
        tags = tf.where(mask, tags, tf.zeros_like(tags))
        tags = tags[:, :time]
        best_score = tf.where(lengths > 0, best_score, tf.zeros_like(best_score))
        return tags, best_score

    def call(self, potentials, mask=None):
        return self.decode(potentials, mask)

    def compute_output_shape(self, potentials_shape, mask_shape=None):
        return (tuple(potentials_shape[:2]), (potentials_shape[0],))

    def compute_mask(self, potentials, mask=None):
        return mask

    def get_config(self):
        return {
            **super().get_config(),
            "num_tags": self.num_tags,
            "allowed_transitions": self.allowed_transitions,
            "allowed_start": self.allowed_start,
            "allowed_end": self.allowed_end,
        }
