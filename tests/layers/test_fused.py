"""The fused BPTT path equals the generic loop, values and gradients."""

import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq import layers
from seq2seq.layers import fused
from tests.layers.helpers import ragged_batch
from tests.subprocess_script import run_json_script

ATOL = 1e-5
FUSED_LAYERS = {"lstm": layers.LSTM, "gru": layers.GRU}


def _run(layer, x, mask, initial_state, weights):
    """Outputs and gradients w.r.t. inputs, initial states and weights."""
    x = tf.constant(x)
    initial = [tf.constant(s) for s in initial_state] if initial_state else None
    with tf.GradientTape() as tape:
        tape.watch(x)
        if initial:
            tape.watch(initial)
        outputs = layer(x, initial_state=initial, mask=mask, training=True)
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        loss = sum(tf.reduce_sum(o * w) for o, w in zip(outputs, weights, strict=True))
    sources = [x, *(initial or []), *layer.trainable_weights]
    return outputs, tape.gradient(loss, sources)


def _assert_paths_agree(make_layer, x, mask=None, initial_state=None, seed=0):
    fast, reference = make_layer(fused=True), make_layer(fused=False)
    fast(x[:1])
    reference(x[:1])
    reference.set_weights(fast.get_weights())
    probe = fast(x, initial_state=initial_state, mask=mask)
    probe = list(probe) if isinstance(probe, (list, tuple)) else [probe]
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=p.shape).astype("float32") for p in probe]
    got = _run(fast, x, mask, initial_state, weights)
    expected = _run(reference, x, mask, initial_state, weights)
    for a, b in zip(got[0] + got[1], expected[0] + expected[1], strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=1e-5)
    # Inference: the forward-only fused loop against the generic one.
    inferred, reference_inferred = (
        layer(x, initial_state=initial_state, mask=mask, training=False)
        for layer in (fast, reference)
    )
    for a, b in zip(inferred, reference_inferred, strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=1e-5)


@pytest.mark.parametrize("kind", sorted(FUSED_LAYERS))
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_fused_equals_generic(rng, kind, masked, go_backwards, dropout):
    x, mask = ragged_batch(rng)
    layer_cls = FUSED_LAYERS[kind]

    def make_layer(fused):
        return layer_cls(
            5,
            fused=fused,
            return_sequences=True,
            return_state=True,
            go_backwards=go_backwards,
            dropout=dropout,
            recurrent_dropout=dropout,
            seed=7,  # the same masks on both paths
            bias_initializer="random_normal",
        )

    _assert_paths_agree(make_layer, x, mask if masked else None)


@pytest.mark.parametrize("kind", sorted(FUSED_LAYERS))
def test_fused_equals_generic_with_initial_state_and_zero_padding(rng, kind):
    x, mask = ragged_batch(rng)
    layer_cls = FUSED_LAYERS[kind]
    num_states = 2 if kind == "lstm" else 1
    initial = [rng.normal(size=(4, 5)).astype("float32") for _ in range(num_states)]

    def make_layer(fused):
        return layer_cls(
            5,
            fused=fused,
            return_sequences=True,
            return_state=True,
            zero_output_for_mask=True,
        )

    _assert_paths_agree(make_layer, x, mask, initial)


@pytest.mark.parametrize("kind", sorted(FUSED_LAYERS))
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_fused_equals_generic_with_gaps_empty_rows_and_initial_state(
    rng, kind, zero_output_for_mask, go_backwards
):
    """Leading gaps, holes, an all-padding row, and a non-zero initial state."""
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    mask = np.array(
        [
            [0, 1, 1, 0, 1, 0],
            [0, 0, 0, 0, 0, 0],
            [1, 1, 1, 1, 1, 1],
            [0, 0, 1, 1, 0, 0],
        ],
        bool,
    )
    num_states = 2 if kind == "lstm" else 1
    initial = [rng.normal(size=(4, 5)).astype("float32") for _ in range(num_states)]

    def make_layer(fused):
        return FUSED_LAYERS[kind](
            5,
            fused=fused,
            return_sequences=True,
            return_state=True,
            zero_output_for_mask=zero_output_for_mask,
            go_backwards=go_backwards,
            recurrent_dropout=0.2,
            seed=2,
        )

    _assert_paths_agree(make_layer, x, mask, initial)
    # Training (fused) and inference (generic) agree without dropout too.
    layer = FUSED_LAYERS[kind](5, return_sequences=True, return_state=True)
    trained = layer(x, initial_state=initial, mask=mask, training=True)
    inferred = layer(x, initial_state=initial, mask=mask, training=False)
    for a, b in zip(trained, inferred, strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL)


@pytest.mark.parametrize("kind", sorted(FUSED_LAYERS))
def test_fused_under_mixed_bfloat16_is_as_close_to_float32_as_generic(rng, kind):
    x, mask = ragged_batch(rng)
    reference = FUSED_LAYERS[kind](5, return_sequences=True, fused=False)
    reference(x[:1])
    gradients = {}
    for name, use_fused, dtype in (
        ("float32", False, "float32"),
        ("fused", True, "mixed_bfloat16"),
        ("generic", False, "mixed_bfloat16"),
    ):
        layer = FUSED_LAYERS[kind](
            5, return_sequences=True, fused=use_fused, dtype=dtype
        )
        layer(x[:1])
        layer.set_weights(reference.get_weights())
        with tf.GradientTape() as tape:
            outputs = tf.cast(layer(x, mask=mask, training=True), tf.float32)
            loss = tf.reduce_sum(outputs * np.linspace(-1, 1, 5, dtype="float32"))
        gradients[name] = tape.gradient(loss, layer.trainable_weights)
    for name in ("fused", "generic"):
        for low, exact in zip(gradients[name], gradients["float32"], strict=True):
            error = np.abs(np.asarray(low, "float32") - exact).max()
            assert error <= 0.02 * np.abs(exact).max(), (name, error)


@pytest.mark.parametrize("kind", sorted(FUSED_LAYERS))
def test_fused_equals_generic_last_output_without_bias(rng, kind):
    x, mask = ragged_batch(rng)

    def make_layer(fused):
        return FUSED_LAYERS[kind](5, fused=fused, use_bias=False)

    _assert_paths_agree(make_layer, x, mask)


def test_fused_equals_generic_bidirectional_and_stacked(rng):
    x, mask = ragged_batch(rng)

    def make_layer(fused):
        return keras.Sequential(
            [
                keras.Input((None, 3)),
                keras.layers.Masking(0.0),
                layers.Bidirectional(
                    layers.LSTM(
                        5, return_sequences=True, fused=fused, dropout=0.2, seed=1
                    )
                ),
                layers.GRU(4, return_sequences=True, fused=fused),
                layers.Bidirectional(layers.GRU(3, fused=fused), merge_mode="sum"),
            ]
        )

    fast, reference = make_layer(True), make_layer(False)
    reference.set_weights(fast.get_weights())
    weights = rng.normal(size=(4, 3)).astype("float32")
    results = []
    for model in (fast, reference):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x, training=True) * weights)
        results.append(tape.gradient(loss, model.trainable_weights))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=1e-5)


@pytest.mark.parametrize("kind", sorted(FUSED_LAYERS))
def test_fused_under_xla_with_dynamic_shapes(rng, kind):
    layer = FUSED_LAYERS[kind](5, return_sequences=True)
    reference = FUSED_LAYERS[kind](5, return_sequences=True, fused=False)
    layer(np.zeros((1, 1, 3), "float32"))
    reference(np.zeros((1, 1, 3), "float32"))
    reference.set_weights(layer.get_weights())

    def gradients(model, x, mask):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(x, mask=mask, training=True)))
        return tape.gradient(loss, model.trainable_weights)

    step = tf.function(
        lambda x, mask: gradients(layer, x, mask),
        jit_compile=True,
        input_signature=[
            tf.TensorSpec([None, None, 3], tf.float32),
            tf.TensorSpec([None, None], tf.bool),
        ],
    )
    for lengths in ([6, 3, 1, 5], [2, 9], [1]):
        x, mask = ragged_batch(rng, np.array(lengths))
        for a, b in zip(step(x, mask), gradients(reference, x, mask), strict=True):
            np.testing.assert_allclose(a, b, atol=ATOL, rtol=1e-5)


@pytest.mark.parametrize("kind", sorted(FUSED_LAYERS))
@pytest.mark.parametrize("jit_compile", [False, True])
def test_fused_runs_an_empty_batch(kind, jit_compile):
    """A serving batch of no strings: shapes `[0, time, units]`, no error."""
    layer = FUSED_LAYERS[kind](8, return_sequences=True, return_state=True)
    layer(tf.zeros((1, 1, 3)))
    num_states = 2 if kind == "lstm" else 1
    for training in (False, True):
        run = tf.function(
            lambda x, training=training: layer(x, training=training),
            jit_compile=jit_compile,
        )
        outputs, *states = run(tf.zeros((0, 4, 3)))
        assert outputs.shape == (0, 4, 8)
        assert [s.shape for s in states] == [(0, 8)] * num_states


def _op_types(layer, x):
    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, training=True))
        return tape.gradient(loss, layer.trainable_weights)

    return {op.type for op in step.get_concrete_function(x).graph.get_operations()}


def test_training_dispatches_to_the_fused_path_only_when_it_applies():
    """custom_gradient leaves an IdentityN op; the generic loop has none."""
    x = tf.zeros((2, 4, 3))
    assert "IdentityN" in _op_types(layers.LSTM(3), x)
    assert "IdentityN" in _op_types(layers.GRU(3), x)
    for layer in (
        layers.LSTM(3, fused=False),
        layers.GRU(3, reset_after=False),
        layers.LSTM(3, activation="relu"),
        layers.GRU(3, recurrent_activation="hard_sigmoid"),
    ):
        layer(x)  # builds it
        assert not (layer.fused and layer.can_fuse())
        assert "IdentityN" not in _op_types(layer, x)


def test_inference_runs_the_forward_only_fused_loop():
    calls = []

    class RecordingLSTM(layers.LSTM):
        def fused_sequence(self, *args, differentiable=True):
            calls.append(differentiable)
            return super().fused_sequence(*args, differentiable=differentiable)

    layer = RecordingLSTM(3)
    x = tf.zeros((2, 4, 3))
    layer(x, training=True)
    layer(x, training=False)
    layer(x)
    assert calls == [True, False, False]
    assert RecordingLSTM(3, fused=False)(x) is not None and len(calls) == 3
    # The training loop also keeps c, tanh(c), i, f, g and o for its backward
    # pass; the forward-only one keeps only the outputs.
    arrays = {}
    for differentiable in (True, False):
        graph = (
            tf.function(
                lambda x, d=differentiable: fused.lstm_sequence(
                    x,
                    tf.zeros((2, 3)),
                    tf.zeros((2, 3)),
                    None,
                    tf.zeros((3, 12)),
                    tf.zeros((3, 12)),
                    tf.zeros(12),
                    differentiable=d,
                )
            )
            .get_concrete_function(x)
            .graph
        )
        ops = [op.type for op in graph.get_operations()]
        arrays[differentiable] = ops.count("TensorListReserve")
    assert arrays[True] - arrays[False] == 6


@pytest.mark.parametrize("kind", sorted(FUSED_LAYERS))
def test_keras_training_step_runs_the_fused_path_and_matches_generic(rng, kind):
    """`compile(jit_compile=True)` + `train_on_batch`, as users train.

    Keras's compiled step calls the layer with `training=True`, so it runs
    the fused path with its hand-written gradient; the weights after two
    steps equal those the generic loop gives, and Keras's own layer's.
    """
    x, mask = ragged_batch(rng, features=6)  # all-zero steps: `Masking` finds them
    y = rng.normal(size=(*x.shape[:2], 2)).astype("float32")
    calls = []

    class Recording(FUSED_LAYERS[kind]):
        def fused_sequence(self, *args, differentiable=True):
            calls.append(differentiable)
            return super().fused_sequence(*args, differentiable=differentiable)

    def model(layer):
        inputs = keras.Input(x.shape[1:])
        outputs = keras.layers.Dense(2)(layer(keras.layers.Masking()(inputs)))
        result = keras.Model(inputs, outputs)
        # SGD keeps the update linear in the gradient (Adam's first step is
        # its sign, which rounding can flip where a gradient is ~0).
        result.compile(
            optimizer=keras.optimizers.SGD(0.5), loss="mse", jit_compile=True
        )
        return result

    keras_layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind]
    models = {
        "fused": model(Recording(5, return_sequences=True)),
        "generic": model(FUSED_LAYERS[kind](5, return_sequences=True, fused=False)),
        "keras": model(keras_layer(5, return_sequences=True)),
    }
    for m in models.values():
        m.set_weights(models["keras"].get_weights())
    losses = {
        name: [m.train_on_batch(x, y) for _ in range(2)] for name, m in models.items()
    }
    assert calls == [True]  # traced once, in training
    for name in ("generic", "keras"):
        np.testing.assert_allclose(losses["fused"], losses[name], rtol=1e-5)
        for a, b in zip(
            models["fused"].get_weights(), models[name].get_weights(), strict=True
        ):
            np.testing.assert_allclose(a, b, atol=ATOL, rtol=1e-5)
    # The steps changed the weights: the comparison above is not vacuous.
    assert losses["fused"][1] < losses["fused"][0]


def test_subclass_with_its_own_step_is_not_fused():
    class HalvedLSTMCell(layers.LSTMCell):
        def call(self, inputs, states, training=False):
            h, [h, c] = super().call(inputs, states, training)
            return h * 0.5, [h * 0.5, c]

    class HalfLSTM(layers.LSTM):
        cell_class = HalvedLSTMCell

    layer = HalfLSTM(3)
    assert not layer.can_fuse()


def test_fused_functions_match_cell_steps_in_float64(rng):
    """The raw functions against a Python loop over the cells, float64."""
    x = rng.normal(size=(3, 5, 2))
    for cell, run in (
        (layers.LSTMCell(4, dtype="float64"), fused.lstm_sequence),
        (layers.GRUCell(4, dtype="float64"), fused.gru_sequence),
    ):
        cell.build((None, 2))
        cell.bias.assign(rng.normal(size=cell.bias.shape))
        states = [np.zeros((3, 4)) for _ in cell.state_size]
        expected = []
        for t in range(5):
            output, states = cell(x[:, t], states)
            expected.append(output)
        zeros = [np.zeros((3, 4))] * len(cell.state_size)
        weights = [tf.convert_to_tensor(w) for w in cell.weights]
        outputs, *final = run(x, *zeros, None, *weights)
        np.testing.assert_allclose(outputs, np.stack(expected, axis=1), atol=1e-12)
        for a, b in zip(final, states, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-12)


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import keras
    import numpy as np
    from seq2seq import layers

    def build(fused=True):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(20, 8, mask_zero=True),
            layers.Bidirectional(layers.LSTM(6, return_sequences=True, fused=fused)),
            layers.GRU(5, fused=fused),
            keras.layers.Dense(1),
        ])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        return model

    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 20, size=(32, 7))
    tokens[np.arange(7)[None, :] >= rng.integers(2, 8, size=32)[:, None]] = 0
    targets = rng.normal(size=(32, 1)).astype("float32")
    initial = build().get_weights()
    single = build(fused=False)  # one device, the generic loop
    single.set_weights(initial)
    single_loss = single.fit(tokens, targets, batch_size=16, epochs=3, shuffle=False,
                             verbose=0).history["loss"]
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored = build()
    mirrored.set_weights(initial)
    mirrored_loss = mirrored.fit(tokens, targets, batch_size=16, epochs=3,
                                 shuffle=False, verbose=0).history["loss"]
    print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                      "single": single_loss, "mirrored": mirrored_loss}))
    """
)


def test_fused_layers_train_under_mirrored_strategy_on_two_cpus(tmp_path):
    """Fused on two logical CPU replicas gives the generic one-device curve."""
    result = run_json_script(tmp_path, MIRRORED_SCRIPT)
    assert result["replicas"] == 2
    np.testing.assert_allclose(result["mirrored"], result["single"], rtol=1e-4)


@pytest.mark.parametrize("kind", sorted(FUSED_LAYERS))
def test_bfloat16_matmuls_stay_within_bfloat16_rounding_of_float32(rng, kind):
    """`matmul_dtype="bfloat16"`: float32 in and out, the matmuls rounded.

    Outputs and every gradient (inputs, initial states, weights) stay within
    bfloat16's rounding of the float32 fused path, masks and recurrent
    dropout included, and are float32; they are not the float32 numbers
    (the setting reached the matmuls).
    """
    x, mask = ragged_batch(rng)
    batch = x.shape[0]
    states = 2 if kind == "lstm" else 1
    initial = [rng.normal(size=(batch, 5)).astype("float32") for _ in range(states)]
    results, weights = [], None
    for dtype in (None, "bfloat16"):
        layer = FUSED_LAYERS[kind](
            5,
            return_sequences=True,
            recurrent_dropout=0.3,
            seed=3,
            matmul_dtype=dtype,
        )
        layer(x[:1])
        if weights is None:
            weights = layer.get_weights()
        layer.set_weights(weights)
        probe = [np.linspace(-1, 1, 5, dtype="float32")]
        outputs, gradients = _run(layer, x, mask, initial, probe)
        results.append([np.asarray(t) for t in [*outputs, *gradients]])
        assert all(t.dtype == np.float32 for t in results[-1])
        assert layer.get_config()["matmul_dtype"] == dtype
    exact, rounded = results
    for got, expected in zip(rounded, exact, strict=True):
        assert np.abs(got - expected).max() <= 0.02 * np.abs(expected).max()
    assert max(np.abs(g - e).max() for g, e in zip(rounded, exact, strict=True)) > 0


def test_matmul_dtype_is_checked():
    with pytest.raises(ValueError, match="matmul_dtype=.float16."):
        layers.LSTM(4, matmul_dtype="float16")
