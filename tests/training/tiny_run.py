"""Small real training runs through `seq2seq.training`, for the tests.

A bidirectional-LSTM `TextClassifier` with dropout learns whether token 1
outnumbers token 2 in generated id sequences of varied length, batched with
padding after a seeded shuffle. The tests start it as a subprocess (logical
devices and `MultiWorkerMirroredStrategy` need a fresh TensorFlow) with the
training flags under test, kill it, resume it and compare its results:

    python tests/training/tiny_run.py --output-dir DIR [training flags]

It prints `update N` after every update and writes `DIR/result.json` (the
history and the accuracy of the final weights) and `DIR/variables.npz`
(every variable of the model and the optimizer, see `save_variables`).

`--batch-sizes 15x,9w,1` trains once per batch size in the same process
(sharing TensorFlow's start-up and the cluster), each run into
`DIR/batch_B`; with `--reference true` each batch size is also trained on
one device (the default strategy, outside `--strategy`) into
`DIR/one/batch_B`. `--sample-weights true` (or a batch size `Bw`) feeds
`(x, y, sample_weight)` batches to a functional model with a compiled loss
(the `TextClassifier` has its own loss); a batch size `Bx` compiles with
XLA even under `--jit-compile false`. `--stall-at K` is the test hook for
kills: after update K the run prints `stalled at update K` and waits to be
killed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from seq2seq.layers import LSTM
from seq2seq.models import TextClassifier
from seq2seq.training import (
    Trainer,
    TrainingConfig,
    option,
    parse_config,
    setup,
)
from seq2seq.training.state import unique_variables


@dataclasses.dataclass
class Config(TrainingConfig):
    epochs: int = option(3, "epochs")
    patience: int = option(10, "patience")
    learning_rate: float = option(0.01, "Adam learning rate")
    batch_size: int = option(16, "global batch size")
    batch_sizes: str = option(
        "", "comma-separated batch sizes, one run each (15w: weighted; 15x: XLA)"
    )
    reference: bool = option(False, "also train each batch size on one device")
    sample_weights: bool = option(False, "(x, y, sample_weight) batches")
    dropout: float = option(0.2, "dropout rate")
    explode_at: int = option(
        0, "from this update on, a learning rate of 1e30 (0: never)"
    )
    stall_at: int = option(0, "after this update, wait to be killed (0: never)")
    examples: int = option(480, "training examples")
    output_dir: str = option("runs/tiny", "output folder")


def examples(count, seed):
    """`(ids [count, 12] zero-padded, labels [count], weights [count])`.

    Lengths 3 to 12; the weights are 0, 0.5, 1 or 3.
    """
    rng = np.random.default_rng(seed)
    ids = np.zeros((count, 12), np.int32)
    labels = np.zeros(count, np.int32)
    for row in range(count):
        length = rng.integers(3, 13)
        ids[row, :length] = rng.integers(1, 8, size=length)
        labels[row] = int((ids[row] == 1).sum() > (ids[row] == 2).sum())
    weights = rng.choice(np.float32([0.0, 0.5, 1.0, 3.0]), size=count)
    return ids, labels, weights


def datasets(config):
    ids, labels, weights = examples(config.examples, 1)
    columns = (ids, labels, weights) if config.sample_weights else (ids, labels)
    train = tf.data.Dataset.from_tensor_slices(columns)
    train = train.shuffle(config.examples, seed=config.seed).batch(config.batch_size)
    valid = tf.data.Dataset.from_tensor_slices(examples(96, 2)[:2]).batch(32)
    return train, valid


def build_model(dropout, compiled_loss=False):
    """The `TextClassifier`, or (`compiled_loss`) a functional twin of it
    that leaves its loss to `Trainer(loss=...)`."""
    if compiled_loss:
        ids = keras.Input((12,), dtype="int32")
        hidden = keras.layers.Embedding(8, 8, mask_zero=True)(ids)
        hidden = LSTM(8)(hidden)
        model = keras.Model(ids, keras.layers.Dense(2)(hidden))
    else:
        model = TextClassifier(8, 2, embedding_size=8, units=8, dropout=dropout)
    model(np.ones((2, 12), np.int32))
    return model


def compiled_loss(config):
    """The loss `Trainer` is given (None: the model's own)."""
    if not config.sample_weights:
        return None
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def build_optimizer(config):
    learning_rate = config.learning_rate
    if config.explode_at:  # forces a non-finite loss a few updates later
        learning_rate = keras.optimizers.schedules.PiecewiseConstantDecay(
            [config.explode_at - 1], [config.learning_rate, 1e30]
        )
    return keras.optimizers.Adam(learning_rate)


def all_variables(model, optimizer):
    """The model's variables, then the optimizer's (slots, step), each once."""
    return unique_variables(model.variables, optimizer.variables)


def save_variables(path, variables):
    """`path` (.npz): variable i's value under `f"{i:03d}"`, their paths
    under `names` (auto-numbered, so they differ between runs)."""
    arrays = {f"{i:03d}": np.asarray(v.numpy()) for i, v in enumerate(variables)}
    np.savez(path, names=np.array([v.path for v in variables]), **arrays)


class PrintUpdates(keras.callbacks.Callback):
    """Prints `update N`; with `stall_at`, stops there until killed."""

    def __init__(self, stall_at=0):
        super().__init__()
        self.updates = 0
        self.stall_at = stall_at

    def on_train_batch_end(self, batch, logs=None):
        self.updates += 1
        print(f"update {self.updates}", flush=True)
        if self.updates == self.stall_at:
            # Called before the trainer saves this update's state (if due):
            # the state on disk is the one saved at an earlier update.
            print(f"stalled at update {self.updates}", flush=True)
            while True:
                time.sleep(1)


def train(config, strategy):
    """One run of `config` under `strategy`: its result dict."""
    keras.utils.set_random_seed(config.seed)
    train_data, valid = datasets(config)
    with strategy.scope():
        model = build_model(config.dropout, compiled_loss=config.sample_weights)
        optimizer = build_optimizer(config)
    trainer = Trainer(
        model,
        optimizer,
        config,
        strategy,
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        loss=compiled_loss(config),
        verbose=0,
    )
    history = trainer.fit(train_data, valid, callbacks=[PrintUpdates(config.stall_at)])
    result = {"history": history, "updates": trainer.progress["update"]}
    if trainer.chief:  # as the recipes do: predict outside the strategy
        ids, labels, _ = examples(96, 2)
        logits = trainer.local_model().predict(ids, verbose=0)
        result["accuracy"] = float(np.mean(np.argmax(logits, -1) == labels))
        os.makedirs(config.output_dir, exist_ok=True)
        with open(os.path.join(config.output_dir, "result.json"), "w") as file:
            json.dump(result, file)
        save_variables(
            os.path.join(config.output_dir, "variables.npz"),
            all_variables(model, trainer.optimizer),
        )
    return result


def main(argv=None):
    config = parse_config(Config, argv)
    base = config.output_dir
    strategy = setup(config)  # a worker other than the chief: base/worker_N
    if not config.batch_sizes:
        return train(config, strategy)
    worker = os.path.relpath(config.output_dir, base)
    for name in config.batch_sizes.split(","):
        folder = os.path.join(base, f"batch_{name}")
        run = dataclasses.replace(
            config,
            batch_size=int(name.rstrip("wx")),
            sample_weights=name.endswith("w"),
            jit_compile=config.jit_compile or name.endswith("x"),
            output_dir=os.path.normpath(f"{folder}/{worker}"),
        )
        train(run, strategy)
        if config.reference:
            one = dataclasses.replace(
                run, output_dir=os.path.join(base, "one", f"batch_{name}")
            )
            train(one, tf.distribute.get_strategy())


if __name__ == "__main__":
    main()
