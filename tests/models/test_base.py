"""SequenceModel owns the loss contract: a new head trains the same on one
device and under MirroredStrategy on 2 logical CPUs.

Logical devices need a fresh TensorFlow, so the runs happen in a subprocess
(`python -m tests.models.test_base OUT`, this file's `main`), which saves the
weights of each run; the test compares them array by array.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq import layers
from seq2seq.models import SequenceModel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LEARNING_RATE = 0.5  # large, so a step twice too large shows far above rounding


class SumRegressor(SequenceModel):
    """A new head in a few lines: a GRU, a regularised dense layer, a mean
    squared error. It provides only `task_loss`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rnn = layers.GRU(4)
        self.head = keras.layers.Dense(1, kernel_regularizer=keras.regularizers.L2(0.1))

    def call(self, x, training=False):
        return self.head(self.rnn(x))

    def task_loss(self, x, y, y_pred, sample_weight=None):
        return tf.reduce_mean(tf.square(y_pred - y))


def forgets_the_scaling(model, x, y, y_pred):
    """What a head that wrote its own `compute_loss` without the replica
    scaling would return (the bug the base class rules out)."""
    return model.task_loss(x, y, y_pred) + tf.add_n(model.losses)


def train_one_step(strategy, initial_weights, x, y, unscaled=False):
    with strategy.scope():
        model = SumRegressor()
        model(x[:1])
        model.set_weights(initial_weights)
        if unscaled:  # bypass the base's compute_loss, as a forgetful head would

            def compute_loss(
                x=None, y=None, y_pred=None, sample_weight=None, training=True
            ):
                return forgets_the_scaling(model, x, y, y_pred)

            model.compute_loss = compute_loss
        model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE))
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


def main(output):
    from seq2seq.training import split_cpu

    split_cpu(2)
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(8, 5, 3)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None].astype("float32")
    model = SumRegressor()
    model(x[:1])
    initial = model.get_weights()
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    runs = {
        "initial": initial,
        "one_device": train_one_step(tf.distribute.get_strategy(), initial, x, y),
        "mirrored": train_one_step(mirrored, initial, x, y),
        "unscaled": train_one_step(mirrored, initial, x, y, unscaled=True),
    }
    np.savez(
        output,
        replicas=mirrored.num_replicas_in_sync,
        **{
            f"{run}_{i}": w
            for run, weights in runs.items()
            for i, w in enumerate(weights)
        },
    )


def test_new_head_takes_the_same_step_on_two_replicas_as_on_one(tmp_path):
    output = tmp_path / "weights.npz"
    process = subprocess.run(
        [sys.executable, "-m", "tests.models.test_base", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    saved = np.load(output)
    assert int(saved["replicas"]) == 2
    count = sum(name.startswith("initial_") for name in saved.files)
    assert count == 5  # GRU kernel, recurrent kernel, bias; dense kernel, bias
    for i in range(count):
        initial = saved[f"initial_{i}"]
        one_step = saved[f"one_device_{i}"] - initial
        assert np.abs(one_step).max() > 1e-3  # the step moved every weight
        np.testing.assert_allclose(
            saved[f"mirrored_{i}"], saved[f"one_device_{i}"], rtol=1e-5, atol=1e-6
        )
        # Without the base's scaling the same run steps twice as far.
        np.testing.assert_allclose(
            saved[f"unscaled_{i}"] - initial, 2 * one_step, rtol=1e-4, atol=1e-6
        )


def test_a_head_may_not_override_compute_loss():
    with pytest.raises(TypeError, match="Implement task_loss"):

        class Forgetful(SequenceModel):  # noqa: F841
            def compute_loss(self, x=None, y=None, y_pred=None, **kwargs):
                return 0.0


if __name__ == "__main__":
    main(sys.argv[1])
