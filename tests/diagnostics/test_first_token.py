"""The first-token task and its pieces (seq2seq.diagnostics.first_token)."""

import keras
import numpy as np
import pytest

from seq2seq import layers
from seq2seq.diagnostics import first_token


def test_task_fixed_length():
    tokens, labels = first_token.first_token_task(50, 9, vocabulary=5, seed=3)
    assert tokens.shape == (50, 9) and tokens.dtype == labels.dtype == np.int32
    assert tokens.min() == 1 and tokens.max() == 4  # 0 is padding, never drawn
    np.testing.assert_array_equal(labels, tokens[:, 0] - 1)
    again, _ = first_token.first_token_task(50, 9, vocabulary=5, seed=3)
    np.testing.assert_array_equal(tokens, again)


def test_task_right_padded_to_random_lengths():
    tokens, labels = first_token.first_token_task(200, 12, 8, seed=0, min_length=4)
    lengths = (tokens != 0).sum(axis=1)
    assert lengths.min() >= 4 and lengths.max() <= 12 and len(set(lengths)) > 4
    for row, length in zip(tokens, lengths, strict=True):
        assert np.all(row[:length] > 0) and np.all(row[length:] == 0)
    np.testing.assert_array_equal(labels, tokens[:, 0] - 1)


@pytest.mark.parametrize(
    "make, block, shape",
    [
        (
            lambda init: layers.LSTM(3, unit_forget_bias=False, bias_initializer=init),
            1,
            (12,),
        ),
        (lambda init: layers.GRU(3, bias_initializer=init), 0, (2, 9)),
    ],
)
def test_gate_bias_initializer_opens_one_gate(make, block, shape):
    layer = make(first_token.gate_bias_initializer(block, 4.0))
    layer.build((None, 5, 2))
    bias = layer.cell.bias.numpy()
    assert bias.shape == shape
    expected = np.zeros(shape, "float32")
    (expected if len(shape) == 1 else expected[0])[block * 3 : (block + 1) * 3] = 4.0
    np.testing.assert_array_equal(bias, expected)


def test_sgd_from_here_puts_the_weights_back():
    keras.utils.set_random_seed(0)
    layer = layers.SimpleRNN(4)
    model = first_token.first_token_model(layer, 5, 3, steps=6)
    probe = first_token.first_token_task(16, 6, 5, seed=1)
    before = [w.numpy().copy() for w in model.trainable_weights]
    moved = first_token.sgd_from_here(model, probe, 2, 0.5)
    clipped = first_token.sgd_from_here(model, probe, 2, 0.5, clip_norm=1e-3)
    for weight, start in zip(model.trainable_weights, before, strict=True):
        np.testing.assert_array_equal(weight.numpy(), start)
    assert moved["update_norm"] > clipped["update_norm"] > 0
    assert clipped["update_norm"] <= 2 * 0.5 * 1e-3 * (1 + 1e-5)  # 2 steps of ≤ lr·c
