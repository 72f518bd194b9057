"""The three heads under `mixed_bfloat16`: they train and decode under XLA.

Compute runs in bfloat16, weights stay float32. Each model takes a few
updates through `Trainer` (finite losses that fall), then decodes with its
XLA-compiled inference path; the outputs are compared with the same weights
run in float32, which they should mostly agree with.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq.models import EncoderDecoder, SequenceTagger, TextClassifier
from seq2seq.training import Trainer, TrainingConfig


@pytest.fixture
def mixed():
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    yield
    keras.mixed_precision.set_dtype_policy("float32")


def train(model, dataset, tmp_path, epochs=8):
    config = TrainingConfig(epochs=epochs, patience=epochs, output_dir=str(tmp_path))
    model(next(iter(dataset))[0])
    trainer = Trainer(
        model,
        keras.optimizers.Adam(0.02),
        config,
        tf.distribute.get_strategy(),
        verbose=0,
    )
    history = trainer.fit(dataset)
    assert model.compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    return history


def copy_to_float32(model, build_input, make):
    keras.mixed_precision.set_dtype_policy("float32")
    twin = make()
    twin(build_input)
    twin.set_weights(model.get_weights())
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    return twin


def test_encoder_decoder_trains_and_beam_searches(mixed, tmp_path):
    rng = np.random.default_rng(0)
    source = rng.integers(3, 12, (32, 6)).astype("int32")
    target = np.concatenate(
        [np.ones((32, 1), "int32"), source, 2 * np.ones((32, 1), "int32")], 1
    )
    dataset = tf.data.Dataset.from_tensor_slices(
        ((source, target[:, :-1]), target[:, 1:])
    ).batch(8)

    def make():
        return EncoderDecoder(12, 12, embedding_size=16, units=16, dropout=0.0)

    model = make()
    train(model, dataset, tmp_path, epochs=15)
    decode = tf.function(
        lambda ids, m: m.translate(ids, 1, 2, max_length=8, beam_size=3),
        jit_compile=True,
    )
    ids, lengths, _ = model.translate(source[:8], 1, 2, max_length=8, beam_size=3)
    assert ids.dtype == tf.int32 and np.all(lengths.numpy() > 0)
    twin = copy_to_float32(model, (source[:2], target[:2, :-1]), make)
    mixed_ids = decode(tf.constant(source), model)[0].numpy()
    float_ids = decode(tf.constant(source), twin)[0].numpy()
    assert np.mean(mixed_ids == float_ids) > 0.8


def test_tagger_trains_and_viterbi_decodes(mixed, tmp_path):
    rng = np.random.default_rng(1)
    words = rng.integers(1, 10, (32, 7)).astype("int32")
    tags = (words % 3).astype("int32")
    inputs = {
        "words": words,
        "characters": np.ones((32, 7, 3), "int32"),
        "casing": np.ones((32, 7), "int32"),
    }
    dataset = tf.data.Dataset.from_tensor_slices((inputs, tags)).batch(8)

    def make():
        return SequenceTagger(
            10,
            5,
            3,
            word_embedding_size=8,
            character_units=4,
            units=8,
            dropout=0.0,
            word_dropout=0.0,
        )

    model = make()
    train(model, dataset, tmp_path)
    predict = tf.function(model.predict_tags, jit_compile=True)
    predicted = predict(inputs).numpy()
    assert predicted.shape == (32, 7)
    assert np.mean(predicted == tags) > 0.9


def test_classifier_trains_and_predicts(mixed, tmp_path):
    rng = np.random.default_rng(2)
    ids = rng.integers(1, 6, (64, 8)).astype("int32")
    labels = (ids[:, 0] > 3).astype("int32")
    dataset = tf.data.Dataset.from_tensor_slices((ids, labels)).batch(16)
    model = TextClassifier(6, 2, embedding_size=8, units=8, dropout=0.0)
    train(model, dataset, tmp_path, epochs=20)
    probabilities = tf.function(model.probabilities, jit_compile=True)(ids).numpy()
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-2)
    assert np.mean(probabilities.argmax(-1) == labels) > 0.9
