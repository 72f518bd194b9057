"""Bidirectional: parity with Keras, padding that stays padding, errors."""

import keras
import numpy as np
import pytest

from seq2seq import layers
from tests.layers.helpers import (
    LAYER_PAIRS,
    LENGTHS,
    copy_keras_weights,
    ragged_batch,
    reversed_prefix_outputs,
)
from tests.layers.layer_contract import assert_layer_contract

ATOL = 1e-5
MERGE_MODES = ["concat", "sum", "ave", "mul", None]


def _pair(kind, merge_mode, **flags):
    ours_cls, keras_cls, kwargs = LAYER_PAIRS[kind]
    ours = layers.Bidirectional(ours_cls(4, **flags, **kwargs), merge_mode=merge_mode)
    theirs = keras.layers.Bidirectional(
        keras_cls(4, **flags, **kwargs), merge_mode=merge_mode
    )
    return ours, theirs


def _flat(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


@pytest.mark.parametrize("merge_mode", MERGE_MODES)
@pytest.mark.parametrize("kind", sorted(LAYER_PAIRS))
def test_parity_with_keras_all_merge_modes_masked(rng, kind, merge_mode):
    x, mask = ragged_batch(rng)
    ours, theirs = _pair(kind, merge_mode, return_sequences=True, return_state=True)
    copy_keras_weights(ours, theirs, x)
    got, expected = _flat(ours(x, mask=mask)), _flat(theirs(x, mask=mask))
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL)


@pytest.mark.parametrize("kind", sorted(LAYER_PAIRS))
def test_parity_with_keras_last_output_unmasked(rng, kind):
    x, _ = ragged_batch(rng)
    ours, theirs = _pair(kind, "concat")
    copy_keras_weights(ours, theirs, x)
    np.testing.assert_allclose(ours(x), theirs(x), atol=ATOL)


def test_backward_direction_reads_each_valid_part_in_reverse(rng):
    x, mask = ragged_batch(rng)
    layer = layers.Bidirectional(
        layers.GRU(4, return_sequences=True, return_state=True), merge_mode=None
    )
    forward, backward, _, backward_state = layer(x, mask=mask)
    assert np.all(forward.numpy()[~mask] == 0) and np.all(backward.numpy()[~mask] == 0)
    weights = layer.backward_layer.get_weights()
    for row, length in enumerate(LENGTHS):
        expected = reversed_prefix_outputs(
            lambda: layers.GRU(4, return_sequences=True), weights, x, row, length
        )[::-1]
        np.testing.assert_allclose(backward[row, :length], expected, atol=ATOL)
        # The backward final state is the state after reading x[0].
        np.testing.assert_allclose(backward_state[row], expected[0], atol=ATOL)


def test_initial_state_splits_forward_then_backward(rng):
    x, mask = ragged_batch(rng)
    ours, theirs = _pair("lstm", "concat", return_state=True)
    copy_keras_weights(ours, theirs, x)
    initial = [rng.normal(size=(4, 4)).astype("float32") for _ in range(4)]
    got = ours(x, initial_state=initial, mask=mask)
    expected = theirs(x, initial_state=initial, mask=mask)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL)


def test_stacked_bidirectional_parity_with_keras(rng):
    x, _ = ragged_batch(rng)

    def stack(module):
        return keras.Sequential(
            [
                keras.Input((None, 3)),
                keras.layers.Masking(0.0),
                module.Bidirectional(module.LSTM(5, return_sequences=True)),
                module.Bidirectional(module.GRU(3), merge_mode="sum"),
            ]
        )

    ours, theirs = stack(layers), stack(keras.layers)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(x), theirs(x), atol=ATOL)


@pytest.mark.parametrize("merge_mode", ["Concat", "max", "", 0])
def test_unknown_merge_mode_raises(merge_mode):
    with pytest.raises(
        ValueError,
        match=rf"merge_mode must be one of.*Received: merge_mode={merge_mode!r}",
    ):
        layers.Bidirectional(layers.LSTM(3), merge_mode=merge_mode)


@pytest.mark.parametrize(
    "layer", [keras.layers.Dense(3), keras.layers.LSTM(3)], ids=["dense", "keras_lstm"]
)
def test_layers_other_than_ours_raise(layer):
    """Keras's go_backwards flips the padding too, so its layers are refused."""
    with pytest.raises(
        ValueError, match=r"layer must be a seq2seq.layers.RNN.*Received"
    ):
        layers.Bidirectional(layer)


def test_forward_layer_reading_backwards_raises():
    with pytest.raises(ValueError, match=r"Received: layer.go_backwards=True"):
        layers.Bidirectional(layers.LSTM(3, go_backwards=True))


def test_backward_layer_reading_forwards_raises():
    with pytest.raises(
        ValueError, match=r"Received: backward_layer.go_backwards=False"
    ):
        layers.Bidirectional(layers.LSTM(3), backward_layer=layers.LSTM(3))


def test_wrong_number_of_initial_states_raises():
    layer = layers.Bidirectional(layers.LSTM(3))
    with pytest.raises(ValueError, match=r"2 forward then 2 backward.*Received: 3"):
        layer(np.zeros((2, 4, 3), "float32"), initial_state=[np.zeros((2, 3))] * 3)


def test_explicit_backward_layer_of_another_kind(rng):
    x, mask = ragged_batch(rng)
    layer = layers.Bidirectional(
        layers.LSTM(3, return_sequences=True, return_state=True),
        backward_layer=layers.GRU(
            2, go_backwards=True, return_sequences=True, return_state=True
        ),
    )
    outputs = layer(x, mask=mask)
    shapes = [tuple(o.shape) for o in outputs]
    assert shapes == [(4, 6, 5), (4, 3), (4, 3), (4, 2)]
    assert [tuple(s) for s in layer.compute_output_shape(x.shape)] == shapes
    assert len(layer.compute_mask(x, mask)) == len(outputs)
    weights = layer.backward_layer.get_weights()
    for row, length in enumerate(LENGTHS):
        expected = reversed_prefix_outputs(
            lambda: layers.GRU(2, return_sequences=True), weights, x, row, length
        )[::-1]
        np.testing.assert_allclose(outputs[0][row, :length, 3:], expected, atol=ATOL)


def test_masks_with_gaps_match_keras(rng):
    """A `Masking` layer masks an all-zero step mid-sequence: still Keras's."""
    x, mask = ragged_batch(rng)
    x[0, 2] = 0.0  # a gap in the first row
    mask[0, 2] = False
    ours, theirs = _pair("lstm", None, return_sequences=True, return_state=True)
    copy_keras_weights(ours, theirs, x)
    for a, b in zip(ours(x, mask=mask), theirs(x, mask=mask), strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL)


def test_config_round_trip_keeps_two_directions():
    layer = layers.Bidirectional(layers.GRU(3, name="gru"))
    rebuilt = layers.Bidirectional.from_config(layer.get_config())
    for bidirectional in (layer, rebuilt):
        names = [sub.name for sub in bidirectional._layers]
        assert names == ["forward_gru", "backward_gru"]


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: layers.Bidirectional(layers.LSTM(4, return_sequences=True)),
        lambda: layers.Bidirectional(layers.GRU(4), merge_mode="ave"),
        lambda: layers.Bidirectional(
            layers.SimpleRNN(4, return_sequences=True), merge_mode="mul"
        ),
    ],
    ids=["lstm_concat", "gru_ave", "simple_rnn_mul"],
)
def test_layer_contract(make_layer, tmp_path):
    assert_layer_contract(make_layer, tmp_path)


def test_layer_contract_with_embedding_mask(tmp_path):
    assert_layer_contract(
        lambda: layers.Bidirectional(layers.LSTM(4, return_sequences=True)),
        tmp_path,
        vocabulary=12,
    )
