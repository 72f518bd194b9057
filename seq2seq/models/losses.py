"""Sequence losses."""

from __future__ import annotations

import tensorflow as tf


def token_cross_entropy(labels, logits, label_smoothing=0.0):
    """Label-smoothed cross-entropy of each token: `[...]` from `[..., V]`.

    With label smoothing ε (Szegedy et al. 2016) the target distribution puts
    1 - ε on the label and spreads ε uniformly over the vocabulary:

        loss = -(1 - ε) log p(y) - (ε / V) sum_v log p(v)
             = logsumexp(z) - (1 - ε) z_y - ε mean_v(z_v)

    Computed in float32 whatever the logits' dtype, with a hand-written
    gradient, `softmax(z) - target`: autodiff through `log_softmax`, a gather
    and a mean makes about three times as many passes over the `[tokens, V]`
    logits, which on a CPU made the loss slower than the projection's matmul.
    TensorFlow's fused `softmax_cross_entropy_with_logits` needs the smoothed
    targets as a dense `[tokens, V]` tensor, and its sparse twin takes no
    smoothing. A test holds values and gradients to the autodiff reference.
    """
    logits = tf.cast(logits, tf.float32)
    labels = tf.cast(labels, tf.int32)
    vocabulary = tf.shape(logits)[-1]
    losses = _smoothed_cross_entropy(
        tf.reshape(logits, [-1, vocabulary]), tf.reshape(labels, [-1]), label_smoothing
    )
    return tf.reshape(losses, tf.shape(labels))


def _smoothed_cross_entropy(logits, labels, epsilon):
    """`token_cross_entropy` of `[n, V]` logits and `[n]` labels."""
    rows = tf.stack([tf.range(tf.shape(labels)[0]), labels], axis=1)

    @tf.custom_gradient
    def forward(logits):
        peak = tf.stop_gradient(tf.reduce_max(logits, axis=-1, keepdims=True))
        exp = tf.exp(logits - peak)
        total = tf.reduce_sum(exp, axis=-1, keepdims=True)
        losses = tf.squeeze(peak + tf.math.log(total), -1)
        losses -= (1.0 - epsilon) * tf.gather_nd(logits, rows)
        if epsilon:
            losses -= epsilon * tf.reduce_mean(logits, axis=-1)

        def gradient(upstream):
            d_logits = exp * (upstream[:, None] / total)  # softmax * upstream
            if epsilon:
                size = tf.cast(tf.shape(logits)[-1], logits.dtype)
                d_logits -= (epsilon / size) * upstream[:, None]
            return tf.tensor_scatter_nd_sub(d_logits, rows, (1.0 - epsilon) * upstream)

        return losses, gradient

    return forward(logits)


def sequence_cross_entropy(labels, logits, label_smoothing=0.0, pad_id=0):
    """Mean token cross-entropy over the non-padding labels.

    Args:
        labels: `[batch, time]` int ids; `pad_id` marks padding.
        logits: `[batch, time, vocabulary]`.
        label_smoothing: ε in [0, 1), see `token_cross_entropy`.
        pad_id: The padding id, excluded from the mean.

    Returns:
        A scalar: the sum over valid tokens divided by their number (0 when
        there are none).
    """
    losses = token_cross_entropy(labels, logits, label_smoothing)
    valid = tf.cast(tf.not_equal(labels, pad_id), tf.float32)
    return tf.math.divide_no_nan(tf.reduce_sum(losses * valid), tf.reduce_sum(valid))


def scale_for_replicas(loss):
    """`loss / num_replicas_in_sync` of the current `tf.distribute` strategy.

    Gradients are *summed* over replicas, so a replica's share of a mean loss
    is its own mean divided by the replica count; with one replica the loss is
    unchanged. Keras applies the same scaling to compiled losses
    (`keras.src.losses.loss.scale_loss_for_distribution`, not public), and
    divides it back out for the logged loss, so a model that overrides
    `compute_loss` must scale too: without it, `fit` under
    `MirroredStrategy` on 2 replicas takes steps twice as large.
    `seq2seq.models.SequenceModel.compute_loss` does it for every head.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas == 1:
        return loss
    return loss * tf.cast(1.0 / replicas, loss.dtype)
