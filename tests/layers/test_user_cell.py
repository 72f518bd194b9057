"""A cell written by a user, with only `state_size` and `call`, runs anywhere."""

import keras
import numpy as np
import pytest

from seq2seq import layers
from tests.layers.helpers import (
    LENGTHS,
    MinimalGatedUnit,
    hand_loop,
    ragged_batch,
    zeros_states,
)
from tests.layers.layer_contract import assert_layer_contract

ATOL = 1e-5


class BareStateUnit(MinimalGatedUnit):
    """Returns its new state as a bare tensor, not a list: accepted too."""

    def call(self, inputs, states):
        output, [state] = super().call(inputs, states)
        return output, state


def test_user_cell_in_rnn_equals_hand_loop_and_respects_masks(rng):
    x, mask = ragged_batch(rng)
    layer = layers.RNN(BareStateUnit(5), return_sequences=True, return_state=True)
    outputs, state = layer(x)
    expected, [expected_state] = hand_loop(layer.cell, x, [np.zeros((4, 5), "float32")])
    np.testing.assert_allclose(outputs, expected, atol=ATOL)
    np.testing.assert_allclose(state, expected_state, atol=ATOL)

    _, masked_state = layer(x, mask=mask)
    for row, length in enumerate(LENGTHS):
        _, [alone] = hand_loop(
            layer.cell, x[row : row + 1, :length], [np.zeros((1, 5), "float32")]
        )
        np.testing.assert_allclose(masked_state[row], alone[0], atol=ATOL)


def test_user_cell_in_bidirectional(rng):
    x, mask = ragged_batch(rng)
    layer = layers.Bidirectional(
        layers.RNN(MinimalGatedUnit(3), return_sequences=True), merge_mode=None
    )
    forward, backward = layer(x, mask=mask)
    for row, length in enumerate(LENGTHS):
        prefix = x[row : row + 1, :length]
        expected_forward, _ = hand_loop(
            layer.forward_layer.cell, prefix, [np.zeros((1, 3), "float32")]
        )
        expected_backward, _ = hand_loop(
            layer.backward_layer.cell, prefix[:, ::-1], [np.zeros((1, 3), "float32")]
        )
        np.testing.assert_allclose(
            forward[row, :length], expected_forward[0], atol=ATOL
        )
        np.testing.assert_allclose(
            backward[row, :length], expected_backward[0][::-1], atol=ATOL
        )


def test_user_cell_stacked_with_built_in_cells(rng):
    x, _ = ragged_batch(rng)
    layer = layers.RNN([layers.LSTMCell(4), MinimalGatedUnit(3)], return_state=True)
    output, *states = layer(x)
    _, expected_states = hand_loop(layer.cell, x, zeros_states(layer.cell, len(x)))
    assert [s.shape for s in states] == [(4, 4), (4, 4), (4, 3)]
    for state, expected in zip(states, expected_states, strict=True):
        np.testing.assert_allclose(state, expected, atol=ATOL)
    np.testing.assert_allclose(output, expected_states[-1], atol=ATOL)


class PlainCell:
    """Not a Keras layer: a running sum, `h(t) = h(t-1) + x(t)`."""

    state_size = 2

    def call(self, inputs, states):
        h = states[0] + inputs
        return h, [h]


def test_plain_object_cell_runs(rng):
    x, mask = ragged_batch(rng, features=2)
    output = layers.RNN(PlainCell())(x, mask=mask)
    np.testing.assert_allclose(output, (x * mask[..., None]).sum(axis=1), atol=ATOL)


def test_keras_cell_with_dropout_raises():
    cell = keras.layers.LSTMCell(4, dropout=0.5)
    with pytest.raises(ValueError, match=r"create_dropout_masks.*dropout=0.5"):
        layers.RNN(cell)


def test_user_cell_layer_contract(tmp_path):
    assert_layer_contract(
        lambda: layers.Bidirectional(
            layers.RNN(MinimalGatedUnit(4), return_sequences=True)
        ),
        tmp_path,
    )
