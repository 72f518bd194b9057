"""The RNN driver and the thin layers: parity with Keras, masks, dropout."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq import layers
from tests.layers.helpers import (
    LAYER_PAIRS,
    LENGTHS,
    copy_keras_weights,
    hand_loop,
    ragged_batch,
    reversed_prefix_outputs,
    zeros_states,
)
from tests.layers.layer_contract import assert_layer_contract

ATOL = 1e-5


@pytest.mark.parametrize("kind", sorted(LAYER_PAIRS))
@pytest.mark.parametrize("masked", [False, True])
def test_parity_with_keras_sequences_and_states(rng, kind, masked):
    ours_cls, keras_cls, kwargs = LAYER_PAIRS[kind]
    x, mask = ragged_batch(rng)
    mask = mask if masked else None
    ours = ours_cls(4, return_sequences=True, return_state=True, **kwargs)
    theirs = keras_cls(4, return_sequences=True, return_state=True, **kwargs)
    copy_keras_weights(ours, theirs, x)
    got, expected = ours(x, mask=mask), theirs(x, mask=mask)
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL)


@pytest.mark.parametrize("kind", sorted(LAYER_PAIRS))
def test_parity_with_keras_through_embedding_mask(rng, kind):
    ours_cls, keras_cls, kwargs = LAYER_PAIRS[kind]
    tokens = rng.integers(1, 20, size=(4, 6))
    tokens[np.arange(6)[None, :] >= LENGTHS[:, None]] = 0

    def model(layer_cls):
        inputs = keras.Input((None,), dtype="int32")
        embedded = keras.layers.Embedding(20, 3, mask_zero=True)(inputs)
        return keras.Model(
            inputs, layer_cls(5, return_sequences=False, **kwargs)(embedded)
        )

    ours, theirs = model(ours_cls), model(keras_cls)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(tokens), theirs(tokens), atol=ATOL)


@pytest.mark.parametrize("kind", sorted(LAYER_PAIRS))
def test_masked_final_state_is_the_state_at_the_last_valid_step(rng, kind):
    layer_cls, _, kwargs = LAYER_PAIRS[kind]
    x, mask = ragged_batch(rng)
    layer = layer_cls(4, return_state=True, **kwargs)
    output, *states = layer(x, mask=mask)
    for row, length in enumerate(LENGTHS):
        alone_output, *alone_states = layer(x[row : row + 1, :length])
        np.testing.assert_allclose(output[row], alone_output[0], atol=ATOL)
        for state, alone in zip(states, alone_states, strict=True):
            np.testing.assert_allclose(state[row], alone[0], atol=ATOL)


@pytest.mark.parametrize("kind", sorted(LAYER_PAIRS))
def test_driver_equals_a_hand_written_loop_over_the_cell(rng, kind):
    layer_cls, _, kwargs = LAYER_PAIRS[kind]
    x, _ = ragged_batch(rng)
    layer = layer_cls(4, return_sequences=True, return_state=True, **kwargs)
    outputs, *states = layer(x)
    expected_outputs, expected_states = hand_loop(
        layer.cell, x, zeros_states(layer.cell, len(x))
    )
    np.testing.assert_allclose(outputs, expected_outputs, atol=ATOL)
    for a, b in zip(states, expected_states, strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL)


@pytest.mark.parametrize("kind", sorted(LAYER_PAIRS))
def test_go_backwards_unmasked_equals_keras(rng, kind):
    ours_cls, keras_cls, kwargs = LAYER_PAIRS[kind]
    x, _ = ragged_batch(rng)
    ours = ours_cls(
        4, go_backwards=True, return_sequences=True, return_state=True, **kwargs
    )
    theirs = keras_cls(
        4, go_backwards=True, return_sequences=True, return_state=True, **kwargs
    )
    copy_keras_weights(ours, theirs, x)
    for a, b in zip(ours(x), theirs(x), strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL)


@pytest.mark.parametrize("kind", sorted(LAYER_PAIRS))
def test_go_backwards_masked_reverses_the_valid_prefix(rng, kind):
    """States equal Keras's; outputs are Keras's with the padding moved last."""
    ours_cls, keras_cls, kwargs = LAYER_PAIRS[kind]
    x, mask = ragged_batch(rng)
    time = x.shape[1]
    ours = ours_cls(
        4, go_backwards=True, return_sequences=True, return_state=True, **kwargs
    )
    theirs = keras_cls(
        4, go_backwards=True, return_sequences=True, return_state=True, **kwargs
    )
    copy_keras_weights(ours, theirs, x)
    (outputs, *states), (keras_outputs, *keras_states) = (
        ours(x, mask=mask),
        theirs(x, mask=mask),
    )
    for a, b in zip(states, keras_states, strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL)
    for row, length in enumerate(LENGTHS):
        # Keras reads the padding first, so its valid outputs come last.
        np.testing.assert_allclose(
            outputs[row, :length], keras_outputs[row, time - length :], atol=ATOL
        )
        # Each of ours equals a forward run over the reversed valid prefix.
        expected = reversed_prefix_outputs(
            lambda: ours_cls(4, return_sequences=True, **kwargs),
            ours.get_weights(),
            x,
            row,
            length,
        )
        np.testing.assert_allclose(outputs[row, :length], expected, atol=ATOL)


@pytest.mark.parametrize("kind", sorted(LAYER_PAIRS))
def test_initial_state_parity_with_keras(rng, kind):
    ours_cls, keras_cls, kwargs = LAYER_PAIRS[kind]
    x, mask = ragged_batch(rng)
    ours = ours_cls(4, return_sequences=True, return_state=True, **kwargs)
    theirs = keras_cls(4, return_sequences=True, return_state=True, **kwargs)
    copy_keras_weights(ours, theirs, x)
    num_states = len(ours.cell.state_size)
    initial = [rng.normal(size=(4, 4)).astype("float32") for _ in range(num_states)]
    got = ours(x, initial_state=initial, mask=mask)
    expected = theirs(x, initial_state=initial, mask=mask)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL)


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_padded_outputs_follow_zero_output_for_mask_like_keras(
    rng, zero_output_for_mask
):
    x, mask = ragged_batch(rng)
    ours = layers.LSTM(
        4, return_sequences=True, zero_output_for_mask=zero_output_for_mask
    )
    theirs = keras.layers.LSTM(
        4, return_sequences=True, zero_output_for_mask=zero_output_for_mask
    )
    copy_keras_weights(ours, theirs, x)
    got = ours(x, mask=mask).numpy()
    np.testing.assert_allclose(got, theirs(x, mask=mask), atol=ATOL)
    if zero_output_for_mask:
        assert np.all(got[~mask] == 0)
    else:  # The last valid output is repeated over the padding.
        assert np.allclose(got[1, 3:], got[1, 2])


def test_stacked_layers_parity_with_keras_sequential(rng):
    x, mask = ragged_batch(rng)

    def stack(module):
        return keras.Sequential(
            [
                keras.Input((None, 3)),
                keras.layers.Masking(0.0),
                module.GRU(5, return_sequences=True),
                module.LSTM(4, return_sequences=True),
                module.SimpleRNN(3),
            ]
        )

    ours, theirs = stack(layers), stack(keras.layers)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(x), theirs(x), atol=ATOL)


def test_list_of_cells_is_stacked_like_keras_rnn(rng):
    x, mask = ragged_batch(rng)
    ours = layers.RNN(
        [layers.LSTMCell(5), layers.GRUCell(4), layers.SimpleRNNCell(3)],
        return_sequences=True,
        return_state=True,
    )
    theirs = keras.layers.RNN(
        [
            keras.layers.LSTMCell(5),
            keras.layers.GRUCell(4),
            keras.layers.SimpleRNNCell(3),
        ],
        return_sequences=True,
        return_state=True,
    )
    copy_keras_weights(ours, theirs, x)
    got = ours(x, mask=mask)
    # Keras nests the states per cell; ours are flat: output, h0, c0, h1, h2.
    expected = tf.nest.flatten(theirs(x, mask=mask))
    assert len(got) == len(expected) == 1 + 4
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL)


def _loss_and_gradients(layer, x, mask, weights):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs, *states = layer(x, mask=mask)
        loss = tf.reduce_sum(outputs * weights[0]) + sum(
            tf.reduce_sum(s * w) for s, w in zip(states, weights[1:], strict=True)
        )
    gradients = tape.gradient(loss, [x, *layer.trainable_weights])
    return loss, gradients


@pytest.mark.parametrize("kind", sorted(LAYER_PAIRS))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_gradients_equal_finite_differences_float64(rng, kind, go_backwards):
    layer_cls, _, kwargs = LAYER_PAIRS[kind]
    lengths = np.array([4, 2, 3])
    x, mask = ragged_batch(rng, lengths, features=2)
    x = x.astype("float64")
    layer = layer_cls(
        3,
        return_sequences=True,
        return_state=True,
        go_backwards=go_backwards,
        dtype="float64",
        bias_initializer="random_normal",
        **kwargs,
    )
    outputs, *states = layer(x, mask=mask)
    weights = [rng.normal(size=t.shape) for t in (outputs, *states)]
    _, gradients = _loss_and_gradients(layer, x, mask, weights)

    @tf.function
    def loss_fn(v):
        outputs, *states = layer(v, mask=mask)
        return tf.reduce_sum(outputs * weights[0]) + sum(
            tf.reduce_sum(s * w) for s, w in zip(states, weights[1:], strict=True)
        )

    eps = 1e-6
    numeric_x = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        numeric_x[index] = (loss_fn(up) - loss_fn(down)) / (2 * eps)
    np.testing.assert_allclose(gradients[0], numeric_x, atol=1e-7, rtol=1e-6)
    assert np.all(numeric_x[~mask] == 0)  # padding does not reach the loss

    for variable, analytic in zip(layer.trainable_weights, gradients[1:], strict=True):
        value = variable.numpy()
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            for sign in (1, -1):
                shifted = value.copy()
                shifted[index] += sign * eps
                variable.assign(shifted)
                numeric[index] += sign * float(loss_fn(x)) / (2 * eps)
            variable.assign(value)
        np.testing.assert_allclose(analytic, numeric, atol=1e-7, rtol=1e-6)


def test_input_dropout_uses_one_mask_per_sequence(rng):
    """A dropped input unit is dropped at every step: its gradient is 0 throughout."""
    x = tf.constant(rng.normal(size=(8, 7, 10)).astype("float32"))
    layer = layers.LSTM(6, dropout=0.5, seed=3)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x, training=True))
    dropped = tape.gradient(loss, x).numpy() == 0  # [batch, time, features]
    assert dropped.any() and not dropped.all()
    assert np.array_equal(dropped, np.broadcast_to(dropped[:, :1], dropped.shape))


def test_recurrent_dropout_uses_one_mask_per_sequence():
    """Linear cell, identity weights: h(t) = x(t) + m * s * h(t-1).

    With x = [1, 0, 0, ...] this gives h(t) = (m * s)^(t-1) if and only if
    the same recurrent mask m (scaled by s = 1 / (1 - rate)) is used at every
    step.
    """
    rate, units, steps = 0.5, 64, 5
    layer = layers.SimpleRNN(
        units,
        activation="linear",
        kernel_initializer="identity",
        recurrent_initializer="identity",
        recurrent_dropout=rate,
        seed=11,
        return_sequences=True,
    )
    x = np.zeros((2, steps, units), "float32")
    x[:, 0] = 1.0
    h = layer(x, training=True).numpy()
    kept = h[:, 1] / (1 / (1 - rate))  # m after step 2: 0 or 1
    assert set(np.unique(kept)) == {0.0, 1.0}
    for t in range(1, steps):
        np.testing.assert_allclose(h[:, t], (kept / (1 - rate)) ** t, rtol=1e-6)
    # Inference applies no dropout.
    np.testing.assert_allclose(layer(x, training=False), np.ones_like(h), atol=0)


def test_dropout_masks_are_redrawn_for_each_call():
    layer = layers.GRU(32, dropout=0.5, seed=5)
    x = np.ones((4, 3, 16), "float32")
    first, second = layer(x, training=True), layer(x, training=True)
    assert not np.allclose(first, second)


@pytest.mark.parametrize("layer_cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
@pytest.mark.parametrize("units", [0, -3, 2.5, "8", True])
def test_bad_units_raise_naming_the_argument_and_value(layer_cls, units):
    with pytest.raises(ValueError, match=rf"units.*Received: units={units!r}"):
        layer_cls(units)


@pytest.mark.parametrize(
    "cell_cls", [layers.SimpleRNNCell, layers.LSTMCell, layers.GRUCell]
)
def test_bad_dropout_rates_raise(cell_cls):
    with pytest.raises(ValueError, match=r"Received: dropout=1\.5"):
        cell_cls(4, dropout=1.5)
    with pytest.raises(ValueError, match=r"Received: recurrent_dropout=-0\.1"):
        cell_cls(4, recurrent_dropout=-0.1)


@pytest.mark.parametrize(
    "initial_state",
    [
        [np.zeros((2, 5), "float32")],  # one state where LSTM has two
        [np.zeros((2, 5), "float32"), np.zeros((2, 4), "float32")],  # wrong size
        [np.zeros((3, 4), "float32")] * 2,  # wrong batch
        [np.zeros((4,), "float32")] * 2,  # wrong rank
    ],
)
def test_initial_state_of_the_wrong_shape_raises(initial_state):
    layer = layers.LSTM(4)
    with pytest.raises(
        ValueError, match=r"initial_state.*Received: initial_state with shapes"
    ):
        layer(np.zeros((2, 3, 3), "float32"), initial_state=initial_state)


def test_non_cell_raises():
    with pytest.raises(ValueError, match="cell must be a cell"):
        layers.RNN("lstm")


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: layers.SimpleRNN(4, return_sequences=True, activation="relu"),
        lambda: layers.LSTM(4, dropout=0.1, recurrent_dropout=0.1, seed=1),
        lambda: layers.GRU(4, go_backwards=True, reset_after=False),
        lambda: layers.LSTM(4, return_state=True),
        lambda: layers.RNN(
            [layers.LSTMCell(4), layers.GRUCell(3)], return_sequences=True
        ),
    ],
    ids=["simple_rnn", "lstm_dropout", "gru_backwards", "lstm_state", "stacked"],
)
def test_layer_contract(make_layer, tmp_path):
    assert_layer_contract(make_layer, tmp_path)


def test_layer_contract_with_embedding_mask(tmp_path):
    assert_layer_contract(
        lambda: layers.GRU(4, return_sequences=True), tmp_path, vocabulary=12
    )


def test_thin_layers_expose_cell_arguments_as_attributes():
    layer = layers.GRU(7, reset_after=False, dropout=0.25, activation="relu")
    assert layer.units == 7
    assert layer.reset_after is False
    assert layer.dropout == 0.25
    assert layer.activation is keras.activations.relu
    config = layer.get_config()
    assert config["units"] == 7 and config["reset_after"] is False


def test_encoder_states_feed_a_decoder_in_a_functional_model(rng, tmp_path):
    """The encoder-decoder wiring: states as `initial_state` of another layer."""
    encoder_inputs, decoder_inputs = keras.Input((None, 3)), keras.Input((None, 2))
    _, h, c = layers.LSTM(4, return_state=True)(encoder_inputs)
    decoded = layers.LSTM(4, return_sequences=True)(
        decoder_inputs, initial_state=[h, c]
    )
    model = keras.Model([encoder_inputs, decoder_inputs], decoded)
    source = rng.normal(size=(2, 5, 3)).astype("float32")
    target = rng.normal(size=(2, 4, 2)).astype("float32")
    expected = model([source, target])
    encoder, decoder = (
        layer for layer in model.layers if isinstance(layer, layers.LSTM)
    )
    _, h, c = encoder(source)
    np.testing.assert_allclose(expected, decoder(target, initial_state=[h, c]), atol=0)
    model.save(tmp_path / "seq2seq.keras")
    reloaded = keras.models.load_model(tmp_path / "seq2seq.keras")
    np.testing.assert_allclose(reloaded([source, target]), expected, atol=1e-6)


@pytest.mark.parametrize("kind", sorted(LAYER_PAIRS))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_masks_with_gaps_give_keras_states(rng, kind, go_backwards):
    """`Masking` masks an all-zero step mid-sequence; states still match."""
    ours_cls, keras_cls, kwargs = LAYER_PAIRS[kind]
    x, mask = ragged_batch(rng)
    x[0, 2], x[3, 1] = 0.0, 0.0
    mask[0, 2], mask[3, 1] = False, False
    ours = ours_cls(4, go_backwards=go_backwards, return_state=True, **kwargs)
    theirs = keras_cls(4, go_backwards=go_backwards, return_state=True, **kwargs)
    copy_keras_weights(ours, theirs, x)
    for a, b in zip(ours(x, mask=mask), theirs(x, mask=mask), strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL)
