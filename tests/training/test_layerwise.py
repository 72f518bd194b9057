"""Discriminative learning rates and gradual unfreezing: `LayerwiseAdam`
against Keras's own Adam, with copied weights and the same gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq.models import SequenceTagger, TextClassifier, transfer
from seq2seq.training import (
    ConfigError,
    FineTuningConfig,
    LayerwiseAdam,
    fine_tuning_optimizer,
    layerwise_rules,
)


def variables_and_gradients(seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=(3, 2)), rng.normal(size=(2,)), rng.normal(size=(4,))]
    variables = [
        keras.Variable(v.astype(np.float32), name=f"v{i}") for i, v in enumerate(values)
    ]
    gradients = [
        [tf.constant(rng.normal(size=v.shape).astype(np.float32)) for v in values]
        for _ in range(4)
    ]
    return variables, gradients


def run(optimizer, variables, gradients):
    """The variables' values after each update."""
    optimizer.build(variables)
    values = []
    for step in gradients:
        optimizer.apply_gradients(zip(step, variables, strict=True))
        values.append([v.numpy().copy() for v in variables])
    return values


def test_multipliers_and_starts_equal_plain_adam_per_variable():
    """v0 at 0.5x the rate from update 0, v1 at 0.25x from update 2, v2 at
    the full rate: each equals Keras's Adam at that rate on its own, where
    a frozen variable's Adam still sees (but does not apply) the gradients."""
    variables, gradients = variables_and_gradients()
    start = [v.numpy().copy() for v in variables]
    rules = [([variables[0].path], 0.5, 0), ([variables[1].path], 0.25, 2)]
    got = run(LayerwiseAdam(0.01, rules), variables, gradients)

    def plain(index, rate):
        (variable,) = [keras.Variable(start[index])]
        return run(
            keras.optimizers.Adam(rate), [variable], [[g[index]] for g in gradients]
        )

    for step, values in enumerate(plain(0, 0.005)):
        np.testing.assert_allclose(got[step][0], values[0], rtol=1e-6)
    for step, values in enumerate(plain(2, 0.01)):
        np.testing.assert_allclose(got[step][2], values[0], rtol=1e-6)
    # v1: unchanged by updates 0 and 1, then Adam's step with the moments of
    # all four gradients (as Keras's Adam at 0.25x would take it from there).
    np.testing.assert_array_equal(got[0][1], start[1])
    np.testing.assert_array_equal(got[1][1], start[1])
    reference = plain(1, 0.0025)
    delta = [
        reference[i][0] - (reference[i - 1][0] if i else start[1]) for i in range(4)
    ]
    np.testing.assert_allclose(got[2][1], start[1] + delta[2], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got[3][1], got[2][1] + delta[3], rtol=1e-5, atol=1e-7)


def test_no_rules_is_keras_adam():
    variables, gradients = variables_and_gradients(1)
    twins = [keras.Variable(v.numpy()) for v in variables]
    got = run(LayerwiseAdam(0.01), variables, gradients)
    expected = run(keras.optimizers.Adam(0.01), twins, gradients)
    for a, b in zip(got[-1], expected[-1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_config_round_trip_and_bad_rules():
    optimizer = LayerwiseAdam(0.01, [(["a/kernel"], 0.5, 3)])
    again = LayerwiseAdam.from_config(optimizer.get_config())
    assert again.rules == [(["a/kernel"], 0.5, 3)]
    with pytest.raises(ValueError, match="multiplier=-1.0, start=0"):
        LayerwiseAdam(0.01, [(["a"], -1.0, 0)])


def test_rules_from_groups_decay_and_unfreeze_top_down():
    variables, _ = variables_and_gradients()
    rules = layerwise_rules([[variables[0]], [variables[1]], [variables[2]]], 2.0, 10)
    assert rules == [
        ([variables[0].path], 0.25, 20),
        ([variables[1].path], 0.5, 10),
        ([variables[2].path], 1.0, 0),
    ]
    with pytest.raises(ValueError, match="decay must be >= 1"):
        layerwise_rules([[variables[0]]], 0.5)


def classifier():
    model = TextClassifier(20, 2, embedding_size=4, units=3, num_layers=2)
    model(np.ones((2, 5), np.int32))
    return model


def test_groups_cover_every_trainable_variable_once():
    model = classifier()
    groups = transfer.fine_tuning_groups(model)
    assert len(groups) == 4  # embedding, 2 encoder layers, the head
    assert [v.path for v in groups[0]] == [model.embedding.embeddings.path]
    assert groups[-1] and all("encoder" not in v.path for v in groups[-1])
    paths = [v.path for group in groups for v in group]
    assert sorted(paths) == sorted(v.path for v in model.trainable_variables)
    # A tagger: word, character and casing inputs below, scores and CRF on top.
    tagger = SequenceTagger(20, 10, 3, 8, 4, 4, units=8, dropout=0.0)
    tagger.build()
    inputs, layer, top = transfer.fine_tuning_groups(tagger)
    assert {v.path.split("/")[1] for v in inputs} >= {"word_embedding"}
    assert len(inputs) > 1  # characters and casing too
    assert any("crf" in v.path or "transitions" in v.path for v in top)
    paths = [v.path for group in (inputs, layer, top) for v in group]
    assert sorted(paths) == sorted(v.path for v in tagger.trainable_variables)


def test_fine_tuning_optimizer_unfreezes_by_epochs():
    """7 batches an epoch: groups unfreeze every 7 updates, or every 4 when
    2 batches make an update (the last update of an epoch takes 1)."""
    model = classifier()
    epoch = tf.data.Dataset.range(7).batch(1)
    config = FineTuningConfig(layer_decay=2.0, unfreeze_every=1)
    config.learning_rate, config.accumulate_steps = 0.01, 1
    optimizer = fine_tuning_optimizer(config, transfer.fine_tuning_groups(model), epoch)
    assert isinstance(optimizer, LayerwiseAdam)
    starts = [start for _, _, start in optimizer.rules]
    assert starts == [21, 14, 7, 0]
    assert [m for _, m, _ in optimizer.rules] == [0.125, 0.25, 0.5, 1.0]
    config.accumulate_steps = 2
    optimizer = fine_tuning_optimizer(config, transfer.fine_tuning_groups(model), epoch)
    assert [start for _, _, start in optimizer.rules] == [12, 8, 4, 0]
    plain = FineTuningConfig()
    plain.learning_rate = 0.01
    assert type(fine_tuning_optimizer(plain, [], epoch)) is keras.optimizers.Adam
    bad = FineTuningConfig(layer_decay=0.5)
    bad.learning_rate = 0.01
    with pytest.raises(ConfigError, match="layer_decay must be >= 1, received 0.5"):
        fine_tuning_optimizer(bad, [], epoch)
