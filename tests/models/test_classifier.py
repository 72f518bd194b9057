"""TextClassifier: padding, pooling paths, learning, saving; MacroF1Score."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq.evaluation import classification_scores
from seq2seq.layers import SequencePooling
from seq2seq.models import MacroF1Score, TextClassifier

IDS = np.array([[5, 6, 7, 8], [9, 4, 0, 0], [3, 0, 0, 0]], "int32")


def _small(**options):
    options = {"embedding_size": 6, "units": 5, **options}
    return TextClassifier(12, num_classes=3, **options)


@pytest.mark.parametrize(
    "options",
    [
        {"pooling": "last"},
        {"pooling": "mean", "cell_type": "gru", "bidirectional": False},
        {"pooling": "max", "num_layers": 2, "cell_type": "simple_rnn"},
        {"pooling": "attention", "num_layers": 2},
    ],
)
def test_padding_does_not_change_logits(options):
    model = _small(**options)
    logits = model(IDS).numpy()
    assert logits.shape == (3, 3)
    for row, ids in enumerate(IDS):
        alone = model(ids[ids != 0][None]).numpy()[0]
        np.testing.assert_allclose(logits[row], alone, rtol=1e-5, atol=1e-6)
    probabilities = model.probabilities(IDS).numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


def test_last_pooling_is_the_final_state_of_each_direction():
    model = _small(pooling="last")
    model(IDS)
    mask = IDS != 0
    embedded = model.embedding(IDS)
    outputs, _ = model.encoder(embedded, mask=mask)
    forward, backward = outputs[..., :5], outputs[..., 5:]
    # Forward at the last valid token; backward where it finishes: token 0.
    expected = tf.concat(
        [SequencePooling("last")(forward, mask=mask), backward[:, 0]], axis=-1
    )
    np.testing.assert_allclose(
        model(IDS).numpy(), model.head(expected).numpy(), rtol=1e-5, atol=1e-6
    )


def test_attention_weights_are_returned_for_inspection():
    model = _small(pooling="attention")
    logits, weights = model(IDS, return_attention_scores=True)
    np.testing.assert_allclose(logits, model(IDS), rtol=1e-6)
    np.testing.assert_allclose(weights.numpy().sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(weights.numpy()[IDS == 0] == 0.0)
    with pytest.raises(ValueError, match="needs pooling='attention'"):
        _small(pooling="max")(IDS, return_attention_scores=True)


def _keyword_task(rng, count):
    """Class = which of the ids 3, 4, 5 occurs among noise ids 6..19."""
    labels = rng.integers(0, 3, size=count)
    lengths = rng.integers(2, 9, size=count)
    ids = np.zeros((count, 8), "int32")
    for row, (label, length) in enumerate(zip(labels, lengths, strict=True)):
        ids[row, :length] = rng.integers(6, 20, size=length)
        ids[row, rng.integers(0, length)] = 3 + label
    return ids, labels.astype("int32")


def test_learns_a_small_separable_task(rng):
    x, y = _keyword_task(rng, 384)
    x_valid, y_valid = _keyword_task(rng, 200)
    model = TextClassifier(20, num_classes=3, embedding_size=8, units=8)
    model.compile(
        optimizer=keras.optimizers.Adam(0.02),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    predicted = model.predict(x_valid, verbose=0).argmax(axis=-1)
    assert np.mean(predicted == y_valid) >= 0.95


def test_config_and_keras_file_round_trip(tmp_path):
    model = _small(pooling="attention", cell_type="gru", dropout=0.1)
    expected = model(IDS).numpy()
    config = model.get_config()
    assert TextClassifier.from_config(config).get_config() == config
    model.save(tmp_path / "classifier.keras")
    reloaded = keras.models.load_model(tmp_path / "classifier.keras")
    assert isinstance(reloaded, TextClassifier)
    np.testing.assert_allclose(reloaded(IDS).numpy(), expected, rtol=1e-6)


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        TextClassifier(10, num_classes=1)
    with pytest.raises(ValueError, match=r"pooling must be one of .*'sum'"):
        TextClassifier(10, pooling="sum")


def test_macro_f1_against_a_hand_computation():
    labels = [0, 0, 0, 1, 1, 2, 2, 2]
    predicted = [0, 0, 1, 1, 2, 2, 2, 0]
    # class 0: TP 2, FP 1, FN 1 -> 4/6; class 1: TP 1, FP 1, FN 1 -> 2/4;
    # class 2: TP 2, FP 1, FN 1 -> 4/6.
    hand = (4 / 6 + 2 / 4 + 4 / 6) / 3
    scores = classification_scores(labels, predicted, 3)
    assert scores["macro_f1"] == pytest.approx(hand)
    assert scores["accuracy"] == pytest.approx(5 / 8)
    metric = MacroF1Score(3)
    logits = np.eye(3, dtype="float32")[predicted] * 2.0 - 1.0
    metric.update_state(np.array(labels[:5]), logits[:5])  # two batches
    metric.update_state(np.array(labels[5:]), logits[5:])
    assert float(metric.result()) == pytest.approx(hand, rel=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    # A class never present nor predicted scores 0, as in scikit-learn.
    assert classification_scores([0, 1], [0, 1], 3)["macro_f1"] == pytest.approx(2 / 3)
