"""Checkpoint averaging: the mean of saved weights, by brute force."""

import keras
import numpy as np
import pytest

from seq2seq.training import ConfigError, average_last_epochs, average_weights, setup
from tests.training import tiny_run
from tests.training.test_trainer import tiny_config, train_in_process


class WithCounter(keras.layers.Layer):
    """A dense layer plus an integer variable, which is not averaged."""

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 3))
        self.count = self.add_weight(
            shape=(), dtype="int32", initializer="zeros", trainable=False
        )

    def call(self, x):
        return x @ self.kernel


def saved_models(tmp_path, count):
    """`count` random weight files of one model; returns (model, paths, weights)."""
    model = keras.Sequential([keras.Input((4,)), WithCounter()])
    rng = np.random.default_rng(0)
    paths, kernels = [], []
    for i in range(count):
        kernel = rng.normal(size=(4, 3)).astype(np.float32)
        model.set_weights([kernel, np.int32(10 + i)])
        paths.append(str(tmp_path / f"epoch_{i + 1:03d}.weights.h5"))
        model.save_weights(paths[-1])
        kernels.append(kernel)
    return model, paths, kernels


def test_mean_of_float_weights_last_value_of_others(tmp_path):
    model, paths, kernels = saved_models(tmp_path, 3)
    model.set_weights([np.zeros((4, 3), np.float32), np.int32(0)])
    average_weights(model, paths)
    kernel, count = model.get_weights()
    np.testing.assert_allclose(kernel, np.mean(kernels, axis=0), rtol=1e-6)
    assert kernel.dtype == np.float32
    assert count == 12  # the last file's


def test_last_epochs_are_chosen_from_the_end(tmp_path):
    model, paths, kernels = saved_models(tmp_path, 4)
    assert average_last_epochs(model, str(tmp_path), 4, 2) == [3, 4]
    np.testing.assert_allclose(model.get_weights()[0], (kernels[2] + kernels[3]) / 2)
    # More epochs asked for than were run: those that exist, from epoch 1.
    assert average_last_epochs(model, str(tmp_path), 2, 5) == [1, 2]
    np.testing.assert_allclose(model.get_weights()[0], (kernels[0] + kernels[1]) / 2)


def test_bad_arguments_are_named(tmp_path):
    model, paths, _ = saved_models(tmp_path, 1)
    with pytest.raises(ValueError, match="no checkpoint files"):
        average_weights(model, [])
    missing = str(tmp_path / "epoch_009.weights.h5")
    with pytest.raises(FileNotFoundError, match="epoch_009.weights.h5"):
        average_weights(model, [paths[0], missing])
    with pytest.raises(ValueError, match="count must be >= 1, received 0"):
        average_last_epochs(model, str(tmp_path), 1, 0)


def test_trainer_ends_with_the_mean_of_the_last_epochs(tmp_path, capsys):
    """3 epochs, average_last=2: the final weights are the mean of the
    epoch 2 and epoch 3 checkpoints, which differ from each other."""
    config = tiny_config(tmp_path, epochs=3, average_last=2)
    model, _, _ = train_in_process(config)
    assert "averaged the weights of epochs 2 to 3" in capsys.readouterr().out
    saved = []
    twin = tiny_run.build_model(0.0)
    for epoch in (2, 3):
        twin.load_weights(
            str(tmp_path / "checkpoints" / f"epoch_{epoch:03d}.weights.h5")
        )
        saved.append(twin.get_weights())
    final = model.get_weights()
    differing = 0
    for got, second, third in zip(final, *saved, strict=True):
        if np.issubdtype(got.dtype, np.floating):
            np.testing.assert_allclose(got, (second + third) / 2, rtol=1e-5, atol=1e-7)
            differing += not np.array_equal(second, third)
    assert differing > 0


def test_average_last_below_one_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="average_last must be >= 1, received 0"):
        setup(tiny_config(tmp_path, average_last=0))
