"""The fused attention decoder equals the generic loop over its cell."""

import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq.models import EncoderDecoder
from seq2seq.models.decoder import AttentionDecoder, AttentionDecoderCell
from tests.subprocess_script import run_json_script

SOURCE = np.array([[3, 4, 5, 6, 0], [7, 8, 0, 0, 0], [1, 2, 3, 4, 5]], np.int32)
# Ragged targets, one of length 1 and one filling the whole width.
TARGET_IN = np.array(
    [[1, 5, 6, 0, 0, 0], [1, 9, 10, 11, 12, 13], [1, 0, 0, 0, 0, 0]], np.int32
)


def _model(**options):
    keras.utils.set_random_seed(1)
    defaults = {"embedding_size": 6, "units": 8, "encoder_layers": 1}
    model = EncoderDecoder(23, 23, **{**defaults, **options})
    model((SOURCE[:1], TARGET_IN[:1]))
    return model


def _seed_generators(model):
    return [v for v in model.variables if "seed_generator" in v.path]


def _logits_and_gradients(model, fused, training, seeds):
    """Logits and the gradients of a random projection of them, with every
    seed generator reset so that both paths draw the same dropout masks."""
    for generator, value in zip(_seed_generators(model), seeds, strict=True):
        generator.assign(value)
    model.decoder.fused = fused
    with tf.GradientTape() as tape:
        logits = model((SOURCE, TARGET_IN), training=training)
        weights = tf.random.stateless_normal(tf.shape(logits), [1, 2])
        loss = tf.reduce_sum(logits * weights)
    gradients = tape.gradient(loss, model.trainable_variables)
    return logits.numpy(), [tf.convert_to_tensor(g).numpy() for g in gradients]


def _assert_paths_agree(model, training=True):
    seeds = [v.numpy() for v in _seed_generators(model)]
    fast = _logits_and_gradients(model, True, training, seeds)
    reference = _logits_and_gradients(model, False, training, seeds)
    np.testing.assert_allclose(fast[0], reference[0], atol=1e-5)
    pairs = zip(model.trainable_variables, fast[1], reference[1], strict=True)
    for variable, a, b in pairs:
        np.testing.assert_allclose(a, b, atol=1e-5, err_msg=variable.path)


CASES = [
    ("lstm", "bahdanau", 1, 0.3),
    ("lstm", "luong_general", 2, 0.3),
    ("lstm", "luong_dot", 2, 0.0),
    ("gru", "bahdanau", 2, 0.3),
    ("gru", "luong_general", 1, 0.0),
    ("gru", "luong_dot", 1, 0.3),
]


@pytest.mark.parametrize(("cell_type", "attention", "layers", "dropout"), CASES)
def test_fused_decoder_equals_generic(cell_type, attention, layers, dropout):
    model = _model(
        cell_type=cell_type,
        attention=attention,
        decoder_layers=layers,
        dropout=dropout,
        bidirectional=attention != "luong_dot",
    )
    assert model.decoder_cell.can_fuse()
    _assert_paths_agree(model, training=True)
    _assert_paths_agree(model, training=False)  # the forward-only loop


def test_fused_decoder_without_input_feeding_and_with_scaled_scores():
    model = _model(
        attention="luong_general", input_feeding=False, decoder_layers=2, dropout=0.2
    )
    model.decoder_cell.attention.scale = True
    _assert_paths_agree(model)


def test_fused_decoder_under_xla_with_dynamic_shapes():
    model = _model(cell_type="gru", decoder_layers=2, dropout=0.0)
    model.decoder.fused = True
    compiled = tf.function(
        lambda s, t: model((s, t), training=True),
        jit_compile=True,
        reduce_retracing=True,
    )
    for source, target in ((SOURCE, TARGET_IN), (SOURCE[:2, :3], TARGET_IN[:2, :4])):
        model.decoder.fused = True
        got = compiled(source, target).numpy()
        model.decoder.fused = False
        expected = model((source, target), training=True).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_fused_decoder_runs_an_empty_batch():
    model = _model()
    logits = model((SOURCE[:0], TARGET_IN[:0]), training=True)
    assert logits.shape == (0, TARGET_IN.shape[1], 23)


def test_fused_path_runs_only_where_it_applies():
    assert not _model(cell_type="simple_rnn").decoder_cell.can_fuse()

    class OtherScore(keras.layers.Layer):
        pass

    cell = AttentionDecoderCell(4)
    assert cell.can_fuse()
    cell.attention = OtherScore()
    assert not cell.can_fuse()

    model = _model()
    calls = []
    original = model.decoder_cell.fused_sequence

    def recording(*args, **kwargs):
        calls.append(kwargs["differentiable"])
        return original(*args, **kwargs)

    model.decoder_cell.fused_sequence = recording
    model((SOURCE, TARGET_IN), training=True)
    model((SOURCE, TARGET_IN), training=False)
    model.decoder.fused = False
    model((SOURCE, TARGET_IN), training=True)
    assert calls == [True, False]
    assert isinstance(model.decoder, AttentionDecoder)


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, os
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import keras
    import numpy as np
    from seq2seq.models import EncoderDecoder

    def build(fused):
        keras.utils.set_random_seed(0)
        model = EncoderDecoder(20, 20, embedding_size=6, units=8, decoder_layers=2,
                               label_smoothing=0.1)
        model.decoder.fused = fused
        model.compile(optimizer=keras.optimizers.SGD(0.5))
        return model

    rng = np.random.default_rng(0)
    source = rng.integers(3, 20, size=(16, 6)).astype("int32")
    target = rng.integers(3, 20, size=(16, 7)).astype("int32")
    source[np.arange(6)[None, :] >= rng.integers(2, 7, size=16)[:, None]] = 0
    target[np.arange(7)[None, :] >= rng.integers(2, 8, size=16)[:, None]] = 0
    target_in = np.concatenate([np.ones((16, 1), "int32"), target[:, :-1]], 1)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    losses, initial = {}, None
    for fused in (False, True):
        with strategy.scope():
            model = build(fused)
            model((source, target_in))
        if initial is None:
            initial = model.get_weights()
        model.set_weights(initial)
        losses[fused] = model.fit((source, target_in), target, batch_size=8,
                                  epochs=3, shuffle=False, verbose=0).history["loss"]
    print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                      "generic": losses[False], "fused": losses[True]}))
    """
)


def test_fused_decoder_trains_under_mirrored_strategy_on_two_cpus(tmp_path):
    """On two logical CPU replicas the fused decoder gives the generic curve."""
    result = run_json_script(tmp_path, MIRRORED_SCRIPT)
    assert result["replicas"] == 2
    assert result["generic"][-1] < result["generic"][0]  # it trains
    np.testing.assert_allclose(result["fused"], result["generic"], rtol=1e-5)


@pytest.mark.parametrize(
    ("cell_type", "attention"), [("lstm", "bahdanau"), ("gru", "luong_general")]
)
def test_bfloat16_matmuls_in_training_only(cell_type, attention):
    """`EncoderDecoder(matmul_dtype="bfloat16")`, the same weights as float32.

    Training: the loss and every weight's gradient (encoder, decoder,
    attention, embeddings, projection) within bfloat16's rounding of the
    float32 model's, float32, and not equal to them. Inference (the
    teacher-forced logits with `training=False`, and stepwise decoding)
    computes exactly the float32 model's numbers.
    """
    options = {"cell_type": cell_type, "attention": attention, "label_smoothing": 0.1}
    exact, rounded = _model(**options), _model(**options, matmul_dtype="bfloat16")
    rounded.set_weights(exact.get_weights())
    assert rounded.get_config()["matmul_dtype"] == "bfloat16"
    target_out = np.concatenate([TARGET_IN[:, 1:], np.zeros((3, 1), np.int32)], 1)
    results = []
    for model in (exact, rounded):
        with tf.GradientTape() as tape:
            loss = model.batch_task_loss((SOURCE, TARGET_IN), target_out)
        gradients = tape.gradient(loss, model.trainable_variables)
        values = [loss, *(tf.convert_to_tensor(g) for g in gradients)]
        assert all(v.dtype == tf.float32 for v in values)
        results.append([v.numpy() for v in values])
    for index, (got, expected) in enumerate(zip(*results[::-1], strict=True)):
        # (a floor: some gradients are float32 noise around zero)
        scale = max(np.abs(expected).max(), 1e-6)
        assert np.abs(got - expected).max() <= 0.02 * scale, index
    assert any(np.abs(g - e).max() > 0 for g, e in zip(*results, strict=True))

    for model in (exact, rounded):
        model.decoder.fused = True
    np.testing.assert_array_equal(
        rounded((SOURCE, TARGET_IN), training=False),
        exact((SOURCE, TARGET_IN), training=False),
    )
    state = {m: m.initial_decoding_state(SOURCE) for m in (exact, rounded)}
    ids = tf.constant([1, 4, 7], tf.int32)
    for _ in range(3):
        steps = {m: m.step(ids, state[m]) for m in (exact, rounded)}
        np.testing.assert_array_equal(steps[rounded][0], steps[exact][0])
        state = {m: steps[m][1] for m in steps}
        ids = tf.argmax(steps[exact][0], axis=-1, output_type=tf.int32)
