"""A small real training run through `seq2seq.training`, for the tests.

A bidirectional-LSTM `TextClassifier` with dropout learns whether token 1
outnumbers token 2 in generated id sequences of varied length, batched with
padding after a seeded shuffle. The tests start it as a subprocess (logical
devices and `MultiWorkerMirroredStrategy` need a fresh TensorFlow) with the
training flags under test, kill it, resume it and compare its results:

    python tests/training/tiny_run.py --output-dir DIR [training flags]

It prints `update N` after every update and writes `DIR/result.json`: the
history and a digest of the final weights.
"""

from __future__ import annotations

import dataclasses
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from seq2seq.models import TextClassifier
from seq2seq.training import (
    Trainer,
    TrainingConfig,
    option,
    parse_config,
    setup,
)


@dataclasses.dataclass
class Config(TrainingConfig):
    epochs: int = option(3, "epochs")
    patience: int = option(10, "patience")
    learning_rate: float = option(0.01, "Adam learning rate")
    batch_size: int = option(16, "global batch size")
    dropout: float = option(0.2, "dropout rate")
    explode_at: int = option(
        0, "from this update on, a learning rate of 1e30 (0: never)"
    )
    examples: int = option(480, "training examples")
    output_dir: str = option("runs/tiny", "output folder")


def examples(count, seed):
    """`(ids [count, 12] zero-padded, labels [count])`, lengths 3 to 12."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((count, 12), np.int32)
    labels = np.zeros(count, np.int32)
    for row in range(count):
        length = rng.integers(3, 13)
        ids[row, :length] = rng.integers(1, 8, size=length)
        labels[row] = int((ids[row] == 1).sum() > (ids[row] == 2).sum())
    return ids, labels


def datasets(config):
    train = tf.data.Dataset.from_tensor_slices(examples(config.examples, 1))
    train = train.shuffle(config.examples, seed=config.seed).batch(config.batch_size)
    valid = tf.data.Dataset.from_tensor_slices(examples(96, 2)).batch(32)
    return train, valid


def build_model(dropout):
    model = TextClassifier(8, 2, embedding_size=8, units=8, dropout=dropout)
    model(np.ones((2, 12), np.int32))
    return model


def build_optimizer(config):
    learning_rate = config.learning_rate
    if config.explode_at:  # forces a non-finite loss a few updates later
        learning_rate = keras.optimizers.schedules.PiecewiseConstantDecay(
            [config.explode_at - 1], [config.learning_rate, 1e30]
        )
    return keras.optimizers.Adam(learning_rate)


def weights_digest(model):
    """Sum and sum of squares over every trainable weight."""
    values = np.concatenate(
        [np.ravel(np.asarray(v.numpy(), np.float64)) for v in model.trainable_variables]
    )
    return [float(values.sum()), float((values**2).sum())]


class PrintUpdates(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.updates = 0

    def on_train_batch_end(self, batch, logs=None):
        self.updates += 1
        print(f"update {self.updates}", flush=True)


def main(argv=None):
    config = parse_config(Config, argv)
    strategy = setup(config)
    train, valid = datasets(config)
    with strategy.scope():
        model = build_model(config.dropout)
        optimizer = build_optimizer(config)
    trainer = Trainer(
        model,
        optimizer,
        config,
        strategy,
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        verbose=0,
    )
    history = trainer.fit(train, valid, callbacks=[PrintUpdates()])
    result = {"history": history, "weights": weights_digest(model)}
    if trainer.chief:  # as the recipes do: predict outside the strategy
        ids, labels = examples(96, 2)
        logits = trainer.local_model().predict(ids, verbose=0)
        result["accuracy"] = float(np.mean(np.argmax(logits, -1) == labels))
    if trainer.chief:
        with open(os.path.join(config.output_dir, "result.json"), "w") as file:
            json.dump(result, file)
    return result


if __name__ == "__main__":
    main()
