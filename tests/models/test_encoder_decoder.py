"""The encoder-decoder: step-by-step equals teacher forcing; it learns."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq.models import EncoderDecoder, sequence_cross_entropy

SOURCE = np.array([[5, 6, 7, 0], [8, 9, 0, 0], [4, 4, 4, 4]])
TARGET_IN = np.array([[2, 4, 5, 0, 0], [2, 7, 0, 0, 0], [2, 9, 8, 7, 6]])


def _stepwise_logits(model, source, target_in):
    state = model.initial_decoding_state(source)
    logits = []
    for t in range(target_in.shape[1]):
        step_logits, state, _ = model.step(tf.constant(target_in[:, t]), state)
        logits.append(step_logits)
    return np.stack(logits, axis=1)


@pytest.mark.parametrize(
    "options",
    [
        {"attention": "bahdanau"},
        {"attention": "luong_dot", "cell_type": "gru", "bidirectional": False},
        {"attention": "luong_general", "input_feeding": False, "bridge": "zero"},
        {
            "tie_embeddings": True,
            "share_embeddings": True,
            "encoder_layers": 2,
            "decoder_layers": 2,
            "cell_type": "simple_rnn",
        },
    ],
    ids=["bahdanau", "luong_dot_gru", "luong_general_no_feeding", "tied_shared_deep"],
)
def test_step_by_step_decoding_equals_the_teacher_forced_pass(options):
    model = EncoderDecoder(20, 20, embedding_size=8, units=8, dropout=0.3, **options)
    full = model((SOURCE, TARGET_IN), training=False).numpy()
    stepwise = _stepwise_logits(model, SOURCE, TARGET_IN)
    valid = TARGET_IN != 0
    np.testing.assert_allclose(stepwise[valid], full[valid], atol=1e-5)


def test_loss_equals_numpy_with_smoothing_and_padding(rng):
    logits = rng.normal(size=(2, 3, 5)).astype("float32")
    labels = np.array([[1, 4, 0], [2, 0, 0]])
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    eps, total, count = 0.1, 0.0, 0
    for b, t in zip(*np.nonzero(labels), strict=True):
        total += (
            -(1 - eps) * log_probs[b, t, labels[b, t]] - eps * log_probs[b, t].mean()
        )
        count += 1
    got = sequence_cross_entropy(labels, logits, label_smoothing=eps)
    np.testing.assert_allclose(got, total / count, rtol=1e-5)
    assert float(sequence_cross_entropy(np.zeros((1, 2), int), logits[:1, :2])) == 0.0


def _copy_task(rng, examples=512):
    """Reverse a sequence of 3-6 tokens in 4..11; BOS=2, EOS=3."""
    lengths = rng.integers(3, 7, size=examples)
    source = np.zeros((examples, 6), np.int32)
    target_in = np.zeros((examples, 7), np.int32)
    target_out = np.zeros((examples, 7), np.int32)
    for row, n in enumerate(lengths):
        tokens = rng.integers(4, 12, size=n)
        source[row, :n] = tokens
        target_in[row, : n + 1] = [2, *tokens[::-1]]
        target_out[row, : n + 1] = [*tokens[::-1], 3]
    return source, target_in, target_out


def test_it_learns_to_reverse_and_greedy_equals_beam_one(rng):
    keras.utils.set_random_seed(0)
    source, target_in, target_out = _copy_task(rng)
    model = EncoderDecoder(
        12, 12, embedding_size=32, units=32, attention="luong_general"
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2, global_clipnorm=1.0), jit_compile=True
    )
    model.fit((source, target_in), target_out, batch_size=64, epochs=25, verbose=0)
    test_source, _, test_out = _copy_task(np.random.default_rng(99), 64)
    ids, lengths, _ = model.translate(tf.constant(test_source), 2, 3, max_length=7)
    exact = np.mean(
        [
            ids[row, : lengths[row]].numpy().tolist()
            == test_out[row][test_out[row] != 0].tolist()
            for row in range(64)
        ]
    )
    assert exact >= 0.9, exact
    beam = model.translate(tf.constant(test_source), 2, 3, max_length=7, beam_size=1)
    np.testing.assert_array_equal(beam[0], ids)
    wide = model.translate(tf.constant(test_source), 2, 3, max_length=7, beam_size=4)
    assert np.all(
        wide[2].numpy()
        >= model.translate(tf.constant(test_source), 2, 3, 7)[2].numpy() - 1e-4
    )


def test_bad_arguments_raise():
    with pytest.raises(
        ValueError, match="tie_embeddings needs embedding_size == units"
    ):
        EncoderDecoder(10, 10, embedding_size=8, units=16, tie_embeddings=True)
    with pytest.raises(ValueError, match="share_embeddings needs one vocabulary"):
        EncoderDecoder(10, 12, share_embeddings=True)
    with pytest.raises(ValueError, match="luong_dot' needs the encoder output size"):
        EncoderDecoder(10, 10, attention="luong_dot", bidirectional=True)
    with pytest.raises(ValueError, match=r"Received: attention='additive'"):
        EncoderDecoder(10, 10, attention="additive")


def test_config_round_trip_and_weights():
    model = EncoderDecoder(20, 21, embedding_size=8, units=8, attention="luong_general")
    expected = model((SOURCE, TARGET_IN)).numpy()
    config = json.loads(json.dumps(model.get_config()))
    rebuilt = EncoderDecoder.from_config(config)
    rebuilt((SOURCE, TARGET_IN))
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt((SOURCE, TARGET_IN)), expected, atol=1e-6)


@pytest.mark.parametrize("tie", [True, False])
def test_training_loss_projects_only_tokens_and_equals_compute_loss(tie):
    """Logits only at non-padding positions: the same loss and gradients."""
    model = EncoderDecoder(
        20,
        20,
        embedding_size=8,
        units=8,
        label_smoothing=0.1,
        decoder_layers=2,
        tie_embeddings=tie,
    )
    target_out = np.array([[4, 5, 3, 0, 0], [7, 3, 0, 0, 0], [9, 8, 7, 6, 3]])
    model((SOURCE, TARGET_IN))

    def loss_and_gradients(loss_fn):
        with tf.GradientTape() as tape:
            loss = loss_fn()
        return loss.numpy(), tape.gradient(loss, model.trainable_variables)

    full = loss_and_gradients(
        lambda: model.compute_loss(
            y=target_out, y_pred=model((SOURCE, TARGET_IN), training=True)
        )
    )
    gathered = loss_and_gradients(
        lambda: model.training_loss((SOURCE, TARGET_IN), target_out)
    )
    expected = sequence_cross_entropy(
        target_out, model((SOURCE, TARGET_IN)), label_smoothing=0.1
    )
    np.testing.assert_allclose(gathered[0], expected, rtol=1e-6)
    np.testing.assert_allclose(gathered[0], full[0], rtol=1e-6)
    for a, b in zip(gathered[1], full[1], strict=True):
        np.testing.assert_allclose(
            tf.convert_to_tensor(a), tf.convert_to_tensor(b), atol=1e-6
        )
