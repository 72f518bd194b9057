"""Attention: the equations in NumPy, Keras parity, masks, gradients."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq.layers import BahdanauAttention, LuongAttention


def softmax(x, mask):
    x = np.where(mask, x, -np.inf)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture
def batch(rng):
    query = rng.normal(size=(2, 3, 4))
    memory = rng.normal(size=(2, 5, 4))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    return query, memory, mask


def _numpy_scores(layer, query, memory):
    if isinstance(layer, BahdanauAttention):
        W_q, W_k, v = (
            w.numpy()
            for w in (layer.query_kernel, layer.key_kernel, layer.score_vector)
        )
        hidden = np.tanh((query @ W_q)[:, :, None, :] + (memory @ W_k)[:, None, :, :])
        return hidden @ v
    keys = memory @ layer.kernel.numpy() if layer.score_mode == "general" else memory
    scores = query @ np.swapaxes(keys, 1, 2)
    return scores / np.sqrt(keys.shape[-1]) if layer.scale else scores


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: BahdanauAttention(6, dtype="float64"),
        lambda: LuongAttention("dot", dtype="float64"),
        lambda: LuongAttention("general", dtype="float64"),
        lambda: LuongAttention("general", scale=True, dtype="float64"),
    ],
    ids=["bahdanau", "dot", "general", "general_scaled"],
)
def test_equations_in_numpy_for_sequences_and_single_steps(batch, make_layer):
    query, memory, mask = batch
    layer = make_layer()
    context, weights = layer(query, memory, memory_mask=mask)
    expected_weights = softmax(_numpy_scores(layer, query, memory), mask[:, None, :])
    np.testing.assert_allclose(weights, expected_weights, atol=1e-12)
    np.testing.assert_allclose(context, expected_weights @ memory, atol=1e-12)
    assert np.all(weights.numpy()[0, :, 3:] == 0)  # masked positions: exactly 0
    step_context, step_weights = layer(query[:, 1], memory, memory_mask=mask)
    np.testing.assert_allclose(step_weights, expected_weights[:, 1], atol=1e-12)
    np.testing.assert_allclose(step_context, context[:, 1], atol=1e-12)
    processed = layer.process_keys(memory)
    again, _ = layer(query, memory, memory_mask=mask, processed_keys=processed)
    np.testing.assert_allclose(again, context, atol=1e-12)


def test_luong_dot_equals_keras_attention(rng):
    query = rng.normal(size=(2, 3, 4)).astype("float32")
    memory = rng.normal(size=(2, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    ours, _ = LuongAttention("dot")(query, memory, memory_mask=mask)
    theirs = keras.layers.Attention(score_mode="dot")(
        [query, memory], mask=[None, mask]
    )
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_all_masked_row_gives_zeros_not_nan(batch):
    query, memory, _ = batch
    mask = np.zeros((2, 5), bool)
    context, weights = BahdanauAttention(3, dtype="float64")(
        query, memory, memory_mask=mask
    )
    assert np.all(weights.numpy() == 0) and np.all(context.numpy() == 0)


def test_gradients_equal_finite_differences(batch):
    query, memory, mask = batch
    layer = BahdanauAttention(3, dtype="float64")
    layer(query, memory, memory_mask=mask)

    def loss(q):
        context, _ = layer(q, memory, memory_mask=mask)
        return tf.reduce_sum(context * np.arange(4.0))

    q = tf.constant(query)
    with tf.GradientTape() as tape:
        tape.watch(q)
        value = loss(q)
    analytic = tape.gradient(value, q).numpy()
    numeric = np.zeros_like(query)
    for index in np.ndindex(query.shape):
        up, down = query.copy(), query.copy()
        up[index] += 1e-6
        down[index] -= 1e-6
        numeric[index] = (loss(up) - loss(down)) / 2e-6
    np.testing.assert_allclose(analytic, numeric, atol=1e-7)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"Received: units=0"):
        BahdanauAttention(0)
    with pytest.raises(ValueError, match=r"Received: score_mode='concat'"):
        LuongAttention("concat")
    with pytest.raises(ValueError, match="same size"):
        LuongAttention("dot")(np.ones((1, 3)), np.ones((1, 2, 4)))


def test_configs_round_trip():
    for layer in (BahdanauAttention(7), LuongAttention("dot", scale=True)):
        config = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
        assert (
            keras.saving.deserialize_keras_object(config).get_config()
            == layer.get_config()
        )
