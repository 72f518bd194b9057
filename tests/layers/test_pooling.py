"""SequencePooling: NumPy references on ragged batches, padding, contract."""

import numpy as np
import pytest
import tensorflow as tf

from seq2seq.layers import POOLING_MODES, SequencePooling
from tests.layers.layer_contract import assert_layer_contract

LENGTHS = [5, 2, 3, 1]


def _ragged_batch(rng, time=6, features=4):
    """Padding holds large values, so a leak into any result shows."""
    x = rng.normal(size=(len(LENGTHS), time, features)).astype("float32")
    mask = np.arange(time)[None, :] < np.array(LENGTHS)[:, None]
    x[~mask] = 1e3
    return x, mask


def _attention_reference(layer, row):
    kernel, bias, context = (
        w.numpy() for w in (layer.kernel, layer.bias, layer.context)
    )
    scores = np.tanh(row @ kernel + bias) @ context
    weights = np.exp(scores - scores.max())
    weights /= weights.sum()
    return weights @ row, weights


@pytest.mark.parametrize("mode", POOLING_MODES)
def test_modes_match_numpy_and_ignore_padding(mode, rng):
    x, mask = _ragged_batch(rng)
    layer = SequencePooling(mode)
    pooled = layer(x, mask=mask).numpy()
    for b, length in enumerate(LENGTHS):
        row = x[b, :length]
        expected = {
            "last": lambda row: row[-1],
            "mean": lambda row: row.mean(axis=0),
            "max": lambda row: row.max(axis=0),
            "attention": lambda row: _attention_reference(layer, row)[0],
        }[mode](row)
        np.testing.assert_allclose(pooled[b], expected, rtol=1e-5, atol=1e-6)
        # The example alone, with no padding and no mask, pools the same.
        alone = layer(row[None]).numpy()[0]
        np.testing.assert_allclose(pooled[b], alone, rtol=1e-5, atol=1e-6)


def test_attention_weights_sum_to_one_and_are_zero_on_padding(rng):
    x, mask = _ragged_batch(rng)
    layer = SequencePooling("attention", attention_units=3)
    pooled, weights = layer(x, mask=mask, return_attention_scores=True)
    weights = weights.numpy()
    assert weights.shape == (4, 6) and layer.kernel.shape == (4, 3)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(weights[~mask] == 0.0)
    np.testing.assert_allclose(
        weights[0, :5], _attention_reference(layer, x[0, :5])[1], rtol=1e-5
    )
    np.testing.assert_allclose(pooled.numpy(), layer(x, mask=mask).numpy())


@pytest.mark.parametrize("mode", POOLING_MODES)
def test_a_row_with_no_valid_step_pools_to_zeros(mode, rng):
    x, _ = _ragged_batch(rng)
    mask = np.zeros((4, 6), bool)
    mask[0, :2] = True
    pooled = SequencePooling(mode)(x, mask=mask).numpy()
    assert np.all(np.isfinite(pooled))
    np.testing.assert_array_equal(pooled[1:], 0.0)


def test_pooling_golden_values_on_arange():
    x = np.arange(12, dtype="float32").reshape(2, 3, 2)
    mask = np.array([[True, True, True], [True, True, False]])
    expected = {
        "last": [[4, 5], [8, 9]],
        "mean": [[2, 3], [7, 8]],
        "max": [[4, 5], [8, 9]],
    }
    for mode, values in expected.items():
        np.testing.assert_array_equal(SequencePooling(mode)(x, mask=mask), values)
    # Constant zero scores: attention pooling is the masked mean.
    layer = SequencePooling("attention")
    layer.build(x.shape)
    layer.context.assign(tf.zeros_like(layer.context))
    np.testing.assert_allclose(layer(x, mask=mask), expected["mean"], rtol=1e-6)


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match=r"mode must be one of .*Received: mode='sum'"):
        SequencePooling("sum")
    with pytest.raises(ValueError, match="return_attention_scores needs mode="):
        SequencePooling("mean")(np.ones((1, 2, 3)), return_attention_scores=True)


def test_layer_contract(tmp_path):
    # Attention mode: the one with weights; its mask comes from the Embedding.
    assert_layer_contract(lambda: SequencePooling("attention"), tmp_path, vocabulary=11)
