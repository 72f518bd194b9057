"""`token_cross_entropy`'s hand-written gradient against autodiff."""

import numpy as np
import pytest
import tensorflow as tf

from seq2seq.models.losses import projected_cross_entropy, token_cross_entropy


def _autodiff_reference(labels, logits, epsilon):
    log_probs = tf.nn.log_softmax(logits)
    losses = -tf.gather(log_probs, labels, batch_dims=labels.shape.rank)
    return (1 - epsilon) * losses - epsilon * tf.reduce_mean(log_probs, axis=-1)


@pytest.mark.parametrize("epsilon", [0.0, 0.1])
@pytest.mark.parametrize("shape", [(7,), (2, 3), (0,)])
def test_values_and_gradients_equal_autodiff(rng, epsilon, shape):
    vocabulary = 11
    # Large logits: the max-shift must keep the exponentials finite.
    logits = tf.constant(rng.normal(scale=30.0, size=(*shape, vocabulary)), tf.float32)
    labels = tf.constant(rng.integers(0, vocabulary, size=shape), tf.int32)
    upstream = tf.constant(rng.uniform(0.5, 2.0, size=shape), tf.float32)
    results = []
    for function in (token_cross_entropy, _autodiff_reference):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            losses = function(labels, logits, epsilon)
            total = tf.reduce_sum(losses * upstream)
        results.append((losses.numpy(), tape.gradient(total, logits).numpy()))
    (losses, gradient), (expected_losses, expected_gradient) = results
    assert losses.shape == shape and np.all(np.isfinite(losses))
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(gradient, expected_gradient, atol=1e-6)


def test_bfloat16_logits_give_a_float32_loss_and_a_bfloat16_gradient(rng):
    logits = tf.constant(rng.normal(size=(4, 9)), tf.bfloat16)
    labels = tf.constant([1, 2, 3, 8])
    with tf.GradientTape() as tape:
        tape.watch(logits)
        losses = token_cross_entropy(labels, logits, 0.1)
        total = tf.reduce_sum(losses)
    gradient = tape.gradient(total, logits)
    assert losses.dtype == tf.float32 and gradient.dtype == tf.bfloat16
    expected = _autodiff_reference(labels, tf.cast(logits, tf.float32), 0.1)
    np.testing.assert_allclose(losses.numpy(), expected.numpy(), rtol=1e-5)


@pytest.mark.parametrize("epsilon", [0.0, 0.1])
@pytest.mark.parametrize("tokens", [9, 0])
def test_projected_cross_entropy_equals_projection_then_loss(rng, epsilon, tokens):
    vocabulary, size = 13, 5
    inputs = tf.constant(rng.normal(scale=3.0, size=(tokens, size)), tf.float32)
    weights = tf.constant(rng.normal(size=(vocabulary, size)), tf.float32)
    bias = tf.constant(rng.normal(size=vocabulary), tf.float32)
    # Repeated labels: their gradient rows must add up.
    labels = tf.constant(rng.integers(0, 4, size=tokens), tf.int32)
    upstream = tf.constant(rng.uniform(0.5, 2.0, size=tokens), tf.float32)

    def reference(labels, inputs, weights, bias, epsilon):
        logits = tf.matmul(inputs, weights, transpose_b=True) + bias
        return _autodiff_reference(labels, logits, epsilon)

    results = []
    for function in (projected_cross_entropy, reference):
        with tf.GradientTape() as tape:
            tape.watch([inputs, weights, bias])
            losses = function(labels, inputs, weights, bias, epsilon)
            total = tf.reduce_sum(losses * upstream)
        gradients = tape.gradient(total, [inputs, weights, bias])
        results.append([losses.numpy(), *[g.numpy() for g in gradients]])
    names = ["loss", "inputs", "weights", "bias"]
    for got, expected, name in zip(*results, names, strict=True):
        assert got.shape == expected.shape, name
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=name)


def test_bfloat16_matmuls_stay_close_to_float32(rng):
    """`matmul_dtype="bfloat16"`: within bfloat16's rounding of float32."""
    tokens, vocabulary, size = 64, 50, 16
    inputs = tf.constant(rng.normal(size=(tokens, size)), tf.float32)
    weights = tf.constant(rng.normal(scale=0.3, size=(vocabulary, size)), tf.float32)
    bias = tf.constant(rng.normal(size=vocabulary), tf.float32)
    labels = tf.constant(rng.integers(0, vocabulary, size=tokens), tf.int32)
    results = []
    for dtype in (None, "bfloat16"):
        with tf.GradientTape() as tape:
            tape.watch([inputs, weights, bias])
            losses = projected_cross_entropy(
                labels, inputs, weights, bias, 0.1, matmul_dtype=dtype
            )
            total = tf.reduce_mean(losses)
        gradients = tape.gradient(total, [inputs, weights, bias])
        assert losses.dtype == tf.float32
        assert [g.dtype for g in gradients] == [tf.float32] * 3
        results.append([losses.numpy(), *[g.numpy() for g in gradients]])
    exact, rounded = results
    np.testing.assert_allclose(rounded[0], exact[0], rtol=2e-2)
    for got, expected in zip(rounded[1:], exact[1:], strict=True):
        scale = np.abs(expected).max()
        assert np.abs(got - expected).max() < 2e-2 * scale
    # Not the float32 computation under another name.
    assert np.abs(rounded[0] - exact[0]).max() > 0
