"""Diagnostics: ∂L/∂h(k) against NumPy and finite differences, spectral radii,
clipped norms against an optimizer's update, attention maps against stepping."""

import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq import diagnostics, layers
from seq2seq.models import EncoderDecoder


def half_squared_error(targets, predictions):
    return 0.5 * tf.reduce_sum(tf.square(predictions - targets))


def sequence_model(layer, time, features, dtype="float32"):
    """`inputs -> layer -> Dense(1)`: a readout at every step or the last."""
    return keras.Sequential(
        [
            keras.Input((time, features), dtype=dtype),
            layer,
            keras.layers.Dense(1, dtype=dtype, bias_initializer="ones"),
        ]
    )


def probed_gradient(model, layer, x, y, state_index=0, mask=None):
    """∂L/∂ε `[batch, time, size]` through `probe_states`, and the outputs."""
    with (
        tf.GradientTape() as tape,
        diagnostics.probe_states(layer, state_index, tape) as probes,
    ):
        predictions = (
            model(x) if mask is None else model.layers[-1](layer(x, mask=mask))
        )
        loss = half_squared_error(y, predictions)
    return tape.gradient(loss, probes[0]).numpy(), predictions.numpy()


# -- ∂L/∂h(k) -----------------------------------------------------------------


@pytest.mark.parametrize("return_sequences", [True, False])
def test_simple_rnn_gradients_equal_the_numpy_jacobian_product(rng, return_sequences):
    """δ(k) = direct(k) + (δ(k+1) * (1 - h(k+1)²)) W_hh^T, back from the loss."""
    batch, time, features, units = 3, 7, 2, 4
    layer = layers.SimpleRNN(
        units,
        return_sequences=return_sequences,
        dtype="float64",
        recurrent_initializer=keras.initializers.RandomNormal(stddev=0.8),
    )
    model = sequence_model(layer, time, features, "float64")
    x = rng.normal(size=(batch, time, features))
    y = rng.normal(size=(batch, time, 1) if return_sequences else (batch, 1))

    kernel, recurrent_kernel, bias = (w.numpy() for w in layer.cell.weights)
    readout, readout_bias = (w.numpy() for w in model.layers[-1].weights)
    h, states = np.zeros((batch, units)), []
    for t in range(time):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent_kernel + bias)
        states.append(h)
    states = np.stack(states, axis=1)
    residual = states @ readout + readout_bias - (y if return_sequences else 0)
    direct = residual @ readout.T  # ∂L/∂h(t) through the readout at step t
    if not return_sequences:
        direct = np.zeros_like(states)
        direct[:, -1] = (states[:, -1] @ readout + readout_bias - y) @ readout.T
    expected = np.zeros_like(states)
    expected[:, -1] = direct[:, -1]
    for k in range(time - 2, -1, -1):
        jacobian_product = (expected[:, k + 1] * (1 - states[:, k + 1] ** 2)) @ (
            recurrent_kernel.T
        )
        expected[:, k] = direct[:, k] + jacobian_product

    gradient, _ = probed_gradient(model, layer, x, y)
    np.testing.assert_allclose(gradient, expected, rtol=1e-10, atol=1e-12)
    norms = diagnostics.hidden_state_gradients(
        model, layer, x, y, half_squared_error, per_example=True
    )
    np.testing.assert_allclose(norms, np.linalg.norm(expected, axis=-1), rtol=1e-10)
    total = diagnostics.hidden_state_gradients(model, layer, x, y, half_squared_error)
    np.testing.assert_allclose(total, np.linalg.norm(expected, axis=(0, 2)), rtol=1e-10)


def hand_loss(layer, readout, x, mask, y, state_index, where=None, delta=0.0):
    """The loss from a Python loop over the cell, `delta` added at `where`.

    `where = (k, b, j)` perturbs unit j of example b's state `state_index`
    after step k (and the output, when that state is h): the state the
    driver carries, so at a padded step it is the carried one.
    """
    cell = layer.cell
    states = [np.zeros((x.shape[0], size)) for size in cell.state_size]
    output = np.zeros((x.shape[0], cell.units))
    for t in range(x.shape[1]):
        new_output, new_states = cell(x[:, t], states)
        valid = mask[:, t : t + 1]
        states = [
            np.where(valid, np.asarray(n), o)
            for n, o in zip(new_states, states, strict=True)
        ]
        output = np.where(valid, np.asarray(new_output), output)
        if where is not None and where[0] == t:
            _, b, j = where
            states[state_index][b, j] += delta
            if state_index == 0:
                output[b, j] += delta
    prediction = np.asarray(readout(output))
    return 0.5 * np.sum((prediction - y) ** 2)


@pytest.mark.parametrize(
    ("kind", "state_index"),
    [(layers.LSTM, 0), (layers.LSTM, 1), (layers.GRU, 0)],
    ids=["lstm_h", "lstm_c", "gru_h"],
)
def test_gated_gradients_equal_finite_differences_with_a_mask(rng, kind, state_index):
    """Central differences of the loss, perturbing one unit of h(k) (or c(k))."""
    batch, time, features, units = 2, 4, 2, 3
    layer = kind(units, dtype="float64")
    model = sequence_model(layer, time, features, "float64")
    x = rng.normal(size=(batch, time, features))
    y = rng.normal(size=(batch, 1))
    mask = np.array([[True] * 4, [True, True, False, False]])

    gradient, predictions = probed_gradient(model, layer, x, y, state_index, mask)
    readout = model.layers[-1]
    assert hand_loss(layer, readout, x, mask, y, state_index) == pytest.approx(
        0.5 * np.sum((predictions - y) ** 2), rel=1e-12
    )
    numeric = np.zeros_like(gradient)
    step = 1e-6
    for index in np.ndindex(*numeric.shape):
        b, k, j = index  # the gradient is [batch, time, size]
        where = (k, b, j)
        up = hand_loss(layer, readout, x, mask, y, state_index, where, step)
        down = hand_loss(layer, readout, x, mask, y, state_index, where, -step)
        numeric[index] = (up - down) / (2 * step)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-9)
    # The carried state's gradient over the padding is its last valid step's
    # for h (the output is carried too), and zero for c (the final states are
    # not part of the loss).
    expected = gradient[1, 1] if state_index == 0 else np.zeros(units)
    np.testing.assert_allclose(gradient[1, 2:], np.stack([expected] * 2))


@pytest.mark.parametrize("go_backwards", [False, True])
def test_a_padded_row_gives_the_gradients_of_its_unpadded_prefix(rng, go_backwards):
    batch, time, features, units = 3, 6, 2, 4
    layer = layers.GRU(units, return_sequences=True, go_backwards=go_backwards)
    model = keras.Sequential(
        [
            keras.Input((time, features)),
            keras.layers.Masking(0.0),
            layer,
            keras.layers.Dense(1, bias_initializer="ones"),
        ]
    )
    lengths = np.array([6, 3, 1])
    x = rng.normal(size=(batch, time, features)).astype("float32")
    x[np.arange(time)[None, :] >= lengths[:, None]] = 0.0
    y = np.zeros((batch, time, 1), "float32")

    def loss(targets, predictions):  # the padded outputs are not in the loss
        valid = np.arange(predictions.shape[1])[None, :] < lengths[:, None]
        return half_squared_error(
            tf.boolean_mask(targets, valid), tf.boolean_mask(predictions, valid)
        )

    norms = diagnostics.hidden_state_gradients(
        model, layer, x, y, loss, per_example=True
    )
    for row, length in enumerate(lengths):
        alone = diagnostics.hidden_state_gradients(
            model, layer, x[row : row + 1, :length], y[:1, :length], half_squared_error
        )
        np.testing.assert_allclose(norms[row, :length], alone, rtol=1e-5)
        # After the last valid step the state only carries on to the final
        # state, which this loss does not read.
        np.testing.assert_array_equal(norms[row, length:], 0.0)


@pytest.mark.parametrize("kind", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_the_probe_changes_no_output_and_always_runs_the_generic_loop(rng, kind):
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    mask = np.arange(5)[None, :] < np.array([[5], [2], [4]])
    layer = kind(4, return_sequences=True, return_state=True, zero_output_for_mask=True)
    layer(x)
    last = kind(4, go_backwards=True, return_state=True)
    last(x)
    for probed_layer in (layer, last):
        for training in (False, True):  # training: LSTM and GRU would fuse
            expected = probed_layer(x, mask=mask, training=training)
            with diagnostics.probe_states(probed_layer) as probes:
                probed = probed_layer(x, mask=mask, training=training)
            assert len(probes) == 1 and probes[0].shape == (3, 5, 4)
            for a, b in zip(probed, expected, strict=True):
                np.testing.assert_allclose(a, b, atol=1e-6)
            assert "inner_loop" not in vars(probed_layer)


def test_the_default_loss_is_the_compiled_models(rng):
    layer = layers.LSTM(4)
    model = sequence_model(layer, 5, 2)
    model.compile(loss="mse")
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    y = rng.normal(size=(3, 1)).astype("float32")
    mse = keras.losses.MeanSquaredError()
    np.testing.assert_allclose(
        diagnostics.hidden_state_gradients(model, layer, x, y),
        diagnostics.hidden_state_gradients(model, layer, x, y, mse),
        rtol=1e-6,
    )
    assert diagnostics.gradient_norms(model, x, y, 1.0).norm == pytest.approx(
        diagnostics.gradient_norms(model, x, y, 1.0, mse).norm, rel=1e-6
    )


def test_bad_arguments_raise():
    layer = layers.LSTM(3)
    model = keras.Sequential([keras.Input((4, 2)), layer])
    with (
        pytest.raises(ValueError, match="state_index must be in"),
        diagnostics.probe_states(layer, 2),
    ):
        pass
    with (
        pytest.raises(ValueError, match="Bidirectional layer pass its"),
        diagnostics.probe_states(keras.layers.LSTM(3)),
    ):
        pass
    inputs = keras.Input((4, 2))
    twice = keras.Model(inputs, keras.layers.Add()([layer(inputs), layer(inputs)]))
    with pytest.raises(ValueError, match="called exactly once"):
        diagnostics.hidden_state_gradients(
            twice, layer, np.zeros((1, 4, 2)), np.zeros((1, 3)), half_squared_error
        )
    with pytest.raises(ValueError, match="clip_norm must be positive"):
        diagnostics.gradient_norms(model, np.zeros((1, 4, 2)), None, 0.0, lambda *_: 0)
    with pytest.raises(ValueError, match="must be built, have a `recurrent_kernel`"):
        diagnostics.spectral_radius(layers.LSTMCell(3))  # not built


# -- spectral radius -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "names"),
    [
        (layers.SimpleRNN, ["W_hh"]),
        (layers.LSTM, ["W_ih", "W_fh", "W_ch", "W_oh"]),
        (layers.GRU, ["W_zh", "W_rh", "W_nh"]),
    ],
)
def test_spectral_radius_is_the_largest_eigenvalue_of_each_block(kind, names):
    units = 5
    layer = kind(units, recurrent_initializer="glorot_normal")
    layer(np.zeros((1, 2, 3), "float32"))
    radii = diagnostics.spectral_radius(layer)
    assert list(radii) == names
    kernel = layer.cell.recurrent_kernel.numpy()
    for index, name in enumerate(names):
        block = kernel[:, index * units : (index + 1) * units]
        assert radii[name] == pytest.approx(max(abs(np.linalg.eigvals(block))))
    assert diagnostics.spectral_radius(layer.cell) == radii
    orthogonal = layers.SimpleRNN(units)  # Keras's default W_hh: radius 1
    orthogonal(np.zeros((1, 2, 3), "float32"))
    assert diagnostics.spectral_radius(orthogonal)["W_hh"] == pytest.approx(1.0)


# -- global norm and clipping ----------------------------------------------------


@pytest.mark.parametrize("clip_norm", [0.05, 1e6])
def test_clipping_equals_the_optimizers_global_clipnorm(rng, clip_norm):
    layer = layers.LSTM(4)
    model = sequence_model(layer, 5, 2)
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    y = rng.normal(size=(3, 1)).astype("float32")
    result = diagnostics.gradient_norms(model, x, y, clip_norm, half_squared_error)

    with tf.GradientTape() as tape:
        loss = half_squared_error(y, model(x))
    gradients = [g.numpy() for g in tape.gradient(loss, model.trainable_weights)]
    norm = np.sqrt(sum(np.sum(np.square(g, dtype="float64")) for g in gradients))
    assert result.norm == pytest.approx(norm, rel=1e-6)
    assert result.clipped_norm == pytest.approx(min(norm, clip_norm), rel=1e-6)
    scale = clip_norm / max(norm, clip_norm)
    for ours, exact in zip(result.clipped_gradients, gradients, strict=True):
        np.testing.assert_allclose(ours, exact * scale, rtol=1e-5, atol=1e-8)
    # What SGD(learning_rate=1, global_clipnorm=...) subtracts is exactly the
    # clipped gradient.
    before = [w.numpy() for w in model.trainable_weights]
    optimizer = keras.optimizers.SGD(1.0, global_clipnorm=clip_norm)
    optimizer.apply([tf.constant(g) for g in result.gradients], model.trainable_weights)
    for start, weight, clipped in zip(
        before, model.trainable_weights, result.clipped_gradients, strict=True
    ):
        np.testing.assert_allclose(start - weight.numpy(), clipped, atol=1e-6)


# -- attention maps ---------------------------------------------------------------

SOURCE = np.array([[5, 6, 7, 0], [8, 9, 0, 0], [4, 4, 4, 4]])
TARGET_IN = np.array([[2, 4, 5, 0, 0], [2, 7, 0, 0, 0], [2, 9, 8, 7, 6]])


@pytest.mark.parametrize(
    "options",
    [
        {"attention": "bahdanau"},
        {
            "attention": "luong_general",
            "cell_type": "gru",
            "decoder_layers": 2,
            "input_feeding": False,
        },
    ],
    ids=["bahdanau_lstm", "luong_general_gru_deep"],
)
def test_attention_weights_are_distributions_equal_to_stepping(options):
    model = EncoderDecoder(20, 20, embedding_size=8, units=8, **options)
    weights = diagnostics.attention_weights(model, SOURCE, TARGET_IN)
    assert weights.shape == (3, 5, 4)

    source_valid, target_valid = SOURCE != 0, TARGET_IN != 0
    rows = weights[target_valid]  # [valid target positions, source]
    np.testing.assert_allclose(rows.sum(axis=-1), 1.0, atol=1e-6)
    padding = np.broadcast_to(~source_valid[:, None, :], weights.shape)
    np.testing.assert_array_equal(weights[padding & target_valid[..., None]], 0.0)
    np.testing.assert_array_equal(weights[~target_valid], 0.0)
    assert np.all(weights[target_valid[..., None] & source_valid[:, None, :]] > 0)

    state = model.initial_decoding_state(SOURCE)
    for t in range(TARGET_IN.shape[1]):
        _, state, step_weights = model.step(tf.constant(TARGET_IN[:, t]), state)
        valid = target_valid[:, t]
        np.testing.assert_allclose(
            weights[valid, t], step_weights.numpy()[valid], atol=1e-6
        )


def test_plots_are_written(tmp_path, rng):
    model = EncoderDecoder(20, 20, embedding_size=8, units=8)
    weights = diagnostics.attention_weights(model, SOURCE, TARGET_IN)
    path = diagnostics.plot_attention(
        weights[0], ["▁5", "▁6", "▁7"], ["<s>", "4", "5"], str(tmp_path / "map.png")
    )
    assert pathlib.Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="more labels"):
        diagnostics.plot_attention(weights[0], list("abcde"), ["x"], path)
    flow = diagnostics.plot_gradient_flow(
        {"init": {"LSTM": rng.random(10), "SimpleRNN": np.zeros(10)}},
        str(tmp_path / "flow.png"),
        title="t",
    )
    assert pathlib.Path(flow).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
