"""Sequence losses."""

from __future__ import annotations

import tensorflow as tf

from seq2seq.layers.fused import matmul


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


def projected_cross_entropy(
    labels, inputs, weights, bias, label_smoothing=0.0, matmul_dtype=None
):
    """`token_cross_entropy(labels, inputs @ weights^T + bias)`, in one piece.

    The output projection and the loss as one function with one hand-written
    gradient, so that no pass over the `[tokens, V]` logits is spent on the
    backward pass beyond its two matmuls: with `p = softmax(z)` and `s` the
    incoming gradient of each token's loss,

        d inputs  = s * (p W) - (1 - ε) s * W[y] - ε s * mean_v(W_v)
        d weights = p^T (s * inputs) - (1 - ε) sum over tokens of label v of
                    s * inputs, - (ε / V) sum_n s_n inputs_n on every row
        d bias    = p^T s - (1 - ε) sum over tokens of label v of s - ε/V sum s

    (the label and uniform parts of `softmax - target` are low-rank, so they
    are added to the products instead of to `p`, and the bias gradient is
    a matrix-vector product, not a column sum of `p`). The forward pass is
    the matmul, one softmax kernel and two row maxima: `logsumexp(z) =
    max(z) - log(max(p))`, since the largest logit has the largest
    probability, which is at least 1/V and so never underflows. A test holds
    the values and all three gradients to autodiff through
    `token_cross_entropy`.

    Args:
        labels: `[n]` int class ids.
        inputs: `[n, d]` states of the tokens.
        weights: `[V, d]`, a row per class (a tied embedding matrix, or a
            `Dense` kernel transposed).
        bias: `[V]`.
        label_smoothing: ε, as in `token_cross_entropy`.
        matmul_dtype: `None` (the inputs' dtype) or `"bfloat16"`: the three
            matmuls, forward and backward, round their operands to it and
            their results back to float32 (the softmax and the corrections
            stay in float32). On a CPU with AMX or AVX512-BF16 they run
            about 2.4x faster; the logits carry bfloat16's 8 significant
            bits.

    Returns:
        `[n]` float32 losses.
    """
    labels = tf.cast(labels, tf.int32)
    epsilon = label_smoothing

    @tf.custom_gradient
    def forward(inputs, weights, bias):
        logits = tf.nn.bias_add(
            tf.cast(
                matmul(inputs, weights, matmul_dtype, transpose_b=True), tf.float32
            ),
            tf.cast(bias, tf.float32),
        )
        probs = tf.nn.softmax(logits)
        log_normalizer = tf.reduce_max(logits, -1) - tf.math.log(
            tf.reduce_max(probs, -1)
        )
        losses = (
            log_normalizer
            - (1.0 - epsilon) * tf.gather(logits, labels[:, None], batch_dims=1)[:, 0]
        )
        weights32, inputs32 = tf.cast(weights, tf.float32), tf.cast(inputs, tf.float32)
        mean_weights = tf.reduce_mean(weights32, axis=0)
        if epsilon:
            mean_logits = tf.linalg.matvec(inputs32, mean_weights) + tf.reduce_mean(
                tf.cast(bias, tf.float32)
            )
            losses -= epsilon * mean_logits

        def gradient(upstream):
            scale = upstream[:, None]
            scaled_inputs = scale * inputs32
            label_share = (1.0 - epsilon) * upstream
            # Rounded once for both matmuls (a `[tokens, classes]` cast each
            # time otherwise).
            rounded = probs if matmul_dtype is None else tf.cast(probs, matmul_dtype)
            d_inputs = scale * matmul(rounded, weights32, matmul_dtype)
            d_inputs -= label_share[:, None] * tf.gather(weights32, labels)
            d_weights = matmul(rounded, scaled_inputs, matmul_dtype, transpose_a=True)
            classes = tf.shape(weights)[0]
            d_weights -= tf.math.unsorted_segment_sum(
                (1.0 - epsilon) * scaled_inputs, labels, classes
            )
            d_bias = tf.linalg.matvec(probs, upstream, transpose_a=True)
            d_bias -= tf.math.unsorted_segment_sum(label_share, labels, classes)
            if epsilon:
                size = tf.cast(classes, tf.float32)
                d_inputs -= epsilon * scale * mean_weights
                d_weights -= (epsilon / size) * tf.reduce_sum(scaled_inputs, 0)
                d_bias -= (epsilon / size) * tf.reduce_sum(upstream)
            return (
                tf.cast(d_inputs, inputs.dtype),
                tf.cast(d_weights, weights.dtype),
                tf.cast(d_bias, bias.dtype),
            )

        return losses, gradient

    return forward(inputs, weights, bias)


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
