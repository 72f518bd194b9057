"""Each cell equals its equations, written independently in NumPy."""

import keras
import numpy as np
import pytest

from seq2seq.layers import GRUCell, LSTMCell, SimpleRNNCell


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_simple_rnn_step(x, h, W_hx, W_hh, b, activation=np.tanh):
    return activation(x @ W_hx + h @ W_hh + b)


def numpy_lstm_step(x, h, c, W, U, b):
    units = h.shape[-1]
    W_i, W_f, W_c, W_o = (W[:, k * units : (k + 1) * units] for k in range(4))
    U_i, U_f, U_c, U_o = (U[:, k * units : (k + 1) * units] for k in range(4))
    b_i, b_f, b_c, b_o = (b[k * units : (k + 1) * units] for k in range(4))
    i = sigmoid(x @ W_i + h @ U_i + b_i)
    f = sigmoid(x @ W_f + h @ U_f + b_f)
    g = np.tanh(x @ W_c + h @ U_c + b_c)
    o = sigmoid(x @ W_o + h @ U_o + b_o)
    c_new = f * c + i * g
    return o * np.tanh(c_new), c_new


def numpy_gru_step(x, h, W, U, b, reset_after):
    units = h.shape[-1]
    W_z, W_r, W_h = (W[:, k * units : (k + 1) * units] for k in range(3))
    U_z, U_r, U_h = (U[:, k * units : (k + 1) * units] for k in range(3))
    if reset_after:
        b_x, b_h = b[0], b[1]
    else:
        b_x, b_h = b, np.zeros_like(b)
    bx_z, bx_r, bx_h = (b_x[k * units : (k + 1) * units] for k in range(3))
    bh_z, bh_r, bh_h = (b_h[k * units : (k + 1) * units] for k in range(3))
    z = sigmoid(x @ W_z + bx_z + h @ U_z + bh_z)
    r = sigmoid(x @ W_r + bx_r + h @ U_r + bh_r)
    if reset_after:
        n = np.tanh(x @ W_h + bx_h + r * (h @ U_h + bh_h))
    else:
        n = np.tanh(x @ W_h + bx_h + (r * h) @ U_h)
    return z * h + (1 - z) * n


def _randomize(cell, rng, input_size):
    cell.build((None, input_size))
    cell.set_weights([rng.normal(size=w.shape) * 0.5 for w in cell.get_weights()])
    return [w.astype("float64") for w in cell.get_weights()]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_simple_rnn_cell_equals_equation(rng, activation):
    cell = SimpleRNNCell(5, activation=activation, dtype="float64")
    W_hx, W_hh, b = _randomize(cell, rng, 3)
    x, h = rng.normal(size=(4, 3)), rng.normal(size=(4, 5))
    output, [state] = cell(x, [h])
    act = np.tanh if activation == "tanh" else (lambda v: np.maximum(v, 0))
    expected = numpy_simple_rnn_step(x, h, W_hx, W_hh, b, act)
    np.testing.assert_allclose(output, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(state, expected, rtol=1e-12, atol=1e-12)


def test_lstm_cell_equals_equations(rng):
    cell = LSTMCell(5, dtype="float64")
    W, U, b = _randomize(cell, rng, 3)
    x, h, c = rng.normal(size=(4, 3)), rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    output, (h_new, c_new) = cell(x, [h, c])
    expected_h, expected_c = numpy_lstm_step(x, h, c, W, U, b)
    np.testing.assert_allclose(h_new, expected_h, atol=1e-12)
    np.testing.assert_allclose(c_new, expected_c, atol=1e-12)
    np.testing.assert_allclose(output, expected_h, atol=1e-12)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_cell_equals_equations(rng, reset_after):
    cell = GRUCell(5, reset_after=reset_after, dtype="float64")
    W, U, b = _randomize(cell, rng, 3)
    assert b.shape == ((2, 15) if reset_after else (15,))
    x, h = rng.normal(size=(4, 3)), rng.normal(size=(4, 5))
    output, [h_new] = cell(x, [h])
    expected = numpy_gru_step(x, h, W, U, b, reset_after)
    np.testing.assert_allclose(h_new, expected, atol=1e-12)
    np.testing.assert_allclose(output, expected, atol=1e-12)


def test_simple_rnn_golden_running_sum():
    """Linear activation, unit weights: h(t) is the running sum of x."""
    cell = SimpleRNNCell(
        1,
        activation="linear",
        kernel_initializer="ones",
        recurrent_initializer="ones",
        dtype="float64",
    )
    h = np.zeros((1, 1))
    seen = []
    for value in np.arange(1.0, 5.0):
        h, _ = cell(np.array([[value]]), [h])
        seen.append(float(h[0, 0]))
    assert seen == [1.0, 3.0, 6.0, 10.0]


def test_lstm_golden_constant_gates():
    """Zero weights, biases i=f=o=0, c=atanh(0.5): gates are 1/2, g is 1/2.

    c(1) = 0.5 * c0 + 0.5 * 0.5 with c0 = 1 gives 0.75, and
    h(1) = 0.5 * tanh(0.75).
    """
    cell = LSTMCell(
        2,
        kernel_initializer="zeros",
        recurrent_initializer="zeros",
        unit_forget_bias=False,
        dtype="float64",
    )
    cell.build((None, 3))
    bias = np.zeros(8)
    bias[4:6] = np.arctanh(0.5)
    cell.bias.assign(bias)
    h, (_, c) = cell(np.arange(6.0).reshape(2, 3), [np.zeros((2, 2)), np.ones((2, 2))])
    np.testing.assert_allclose(c, np.full((2, 2), 0.75), atol=1e-12)
    np.testing.assert_allclose(h, np.full((2, 2), 0.5 * np.tanh(0.75)), atol=1e-12)


def test_lstm_unit_forget_bias_initialises_forget_block_to_one():
    cell = LSTMCell(3, bias_initializer="zeros")
    cell.build((None, 2))
    np.testing.assert_array_equal(cell.bias.numpy(), [0] * 3 + [1] * 3 + [0] * 6)
    plain = LSTMCell(3, unit_forget_bias=False, bias_initializer="ones")
    plain.build((None, 2))
    np.testing.assert_array_equal(plain.bias.numpy(), [1] * 12)


@pytest.mark.parametrize(
    "ours, theirs, kwargs",
    [
        (SimpleRNNCell, keras.layers.SimpleRNNCell, {}),
        (LSTMCell, keras.layers.LSTMCell, {}),
        (GRUCell, keras.layers.GRUCell, {"reset_after": True}),
        (GRUCell, keras.layers.GRUCell, {"reset_after": False}),
    ],
)
def test_cell_weights_copy_both_ways_with_keras(rng, ours, theirs, kwargs):
    x, h = (
        rng.normal(size=(2, 3)).astype("float32"),
        rng.normal(size=(2, 4)).astype("float32"),
    )
    states = [h, h] if ours is LSTMCell else [h]
    mine, keras_cell = ours(4, **kwargs), theirs(4, **kwargs)
    mine.build((None, 3))
    keras_cell.build((None, 3))
    assert [w.shape for w in mine.get_weights()] == [
        w.shape for w in keras_cell.get_weights()
    ]
    assert [w.name for w in mine.weights] == [w.name for w in keras_cell.weights]
    mine.set_weights(keras_cell.get_weights())
    np.testing.assert_allclose(mine(x, states)[0], keras_cell(x, states)[0], atol=1e-6)
    keras_cell.set_weights([w * 0.5 for w in mine.get_weights()])
    mine.set_weights([w * 0.5 for w in mine.get_weights()])
    np.testing.assert_allclose(mine(x, states)[0], keras_cell(x, states)[0], atol=1e-6)
