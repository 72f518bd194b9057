"""Reference implementations and data for the layer tests."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from seq2seq import layers

# Our layer, Keras's layer, and the keyword arguments both take.
LAYER_PAIRS = {
    "simple_rnn": (layers.SimpleRNN, keras.layers.SimpleRNN, {}),
    "lstm": (layers.LSTM, keras.layers.LSTM, {}),
    "gru": (layers.GRU, keras.layers.GRU, {}),
    "gru_reset_before": (layers.GRU, keras.layers.GRU, {"reset_after": False}),
}

LENGTHS = np.array([6, 3, 1, 5])


def ragged_batch(rng, lengths=LENGTHS, features=3, time=None):
    """Random `[batch, time, features]` inputs and the right-padded mask."""
    time = time or int(max(lengths))
    x = rng.normal(size=(len(lengths), time, features)).astype("float32")
    mask = np.arange(time)[None, :] < np.asarray(lengths)[:, None]
    x[~mask] = 0.0
    return x, mask


def copy_keras_weights(ours, theirs, x):
    """Builds both layers on `x` and copies Keras's weights into ours."""
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())


def hand_loop(cell, x, initial_states):
    """Runs `cell` over `x` one step at a time in Python: the reference."""
    states = [np.asarray(s) for s in initial_states]
    outputs = []
    for t in range(x.shape[1]):
        output, states = cell(x[:, t], states)
        states = states if isinstance(states, (list, tuple)) else [states]
        states = [np.asarray(s) for s in states]
        outputs.append(np.asarray(output))
    return np.stack(outputs, axis=1), states


def zeros_states(cell, batch):
    sizes = cell.state_size if isinstance(cell.state_size, list) else [cell.state_size]
    return [np.zeros((batch, size), "float32") for size in sizes]


def reversed_prefix_outputs(make_layer, weights, x, row, length):
    """Outputs of a forward layer over row `row`'s valid prefix, reversed.

    The reference for a backward direction: `make_layer()` builds a forward
    `return_sequences` layer that gets `weights`; its outputs are returned in
    the order it computed them (last valid step first).
    """
    layer = make_layer()
    layer(x[:1])
    layer.set_weights(weights)
    return np.asarray(layer(x[row : row + 1, :length][:, ::-1])[0])


@keras.saving.register_keras_serializable(package="tests")
class MinimalGatedUnit(keras.layers.Layer):
    """A user's cell, the README's: the minimal gated unit (Zhou et al. 2016).

    f(t) = sigmoid(W_f x(t) + U_f h(t-1) + b_f)
    n(t) = tanh(W_n x(t) + U_n (f(t) * h(t-1)) + b_n)
    h(t) = (1 - f(t)) * h(t-1) + f(t) * n(t)

    Only `state_size` (a plain int, no `output_size`) and `call`; its weights
    are named as the built-in cells' (the f block, then the n block), so the
    diagnostics read its gates once it is registered with `gate_names=("f",
    "n")`.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        width = 2 * self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], width), name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width), name="recurrent_kernel"
        )
        self.bias = self.add_weight(shape=(width,), name="bias", initializer="zeros")

    def call(self, inputs, states):
        h = states[0]
        x_f, x_n = ops.split(ops.matmul(inputs, self.kernel) + self.bias, 2, axis=-1)
        U_f, U_n = ops.split(self.recurrent_kernel, 2, axis=-1)
        f = ops.sigmoid(x_f + ops.matmul(h, U_f))
        n = ops.tanh(x_n + ops.matmul(f * h, U_n))
        h = (1 - f) * h + f * n
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}
