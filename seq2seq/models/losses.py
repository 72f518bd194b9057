"""Sequence losses."""

from __future__ import annotations

import tensorflow as tf


def token_cross_entropy(labels, logits, label_smoothing=0.0):
    """Label-smoothed cross-entropy of each token: `[...]` from `[..., V]`.

    With label smoothing ε (Szegedy et al. 2016) the target distribution puts
    1 - ε on the label and spreads ε uniformly over the vocabulary:

        loss = -(1 - ε) log p(y) - (ε / V) sum_v log p(v)
    """
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32))
    labels = tf.cast(labels, tf.int32)
    losses = -tf.gather(log_probs, labels, batch_dims=labels.shape.rank)
    if label_smoothing:
        uniform = -tf.reduce_mean(log_probs, axis=-1)
        losses = (1.0 - label_smoothing) * losses + label_smoothing * uniform
    return losses


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
