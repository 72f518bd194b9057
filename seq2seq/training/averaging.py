"""Checkpoint averaging: a model holding the mean of several epochs' weights.

The mean of the last few epochs' weights usually scores better than any one
of them (the updates' noise averages out), at no training cost: the
`Trainer` already writes `checkpoints/epoch_NNN.weights.h5` every epoch.

Written here because neither Keras nor TensorFlow averages saved weights
(Keras's optimizer EMA, `use_ema`, changes the training run and keeps no
per-epoch copies); OpenNMT-tf's `average_checkpoints` reads the TensorFlow
checkpoints of its own models, not Keras `.weights.h5` files.
"""

from __future__ import annotations

import os

import numpy as np


def average_weights(model, paths):
    """Leaves `model` holding the mean of the weights saved in `paths`.

    Each file is loaded into `model` in turn (so each must fit its
    architecture, as `load_weights` checks). Floating-point variables get
    the mean, computed in float64 and cast back; the others (counters, seed
    states) keep the last file's values.

    Args:
        model: A built Keras model.
        paths: `.weights.h5` files written by `model.save_weights`.

    Raises:
        ValueError: `paths` is empty.
        FileNotFoundError: a file is missing; the message names it.
    """
    paths = list(paths)
    if not paths:
        raise ValueError("average_weights: no checkpoint files given")
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"average_weights: no checkpoint file {path}")
    sums = None
    for path in paths:
        model.load_weights(path)
        weights = model.get_weights()
        if sums is None:
            sums = [np.zeros(w.shape, np.float64) for w in weights]
        for total, weight in zip(sums, weights, strict=True):
            if np.issubdtype(weight.dtype, np.floating):
                total += weight
    model.set_weights(
        [
            (total / len(paths)).astype(weight.dtype)
            if np.issubdtype(weight.dtype, np.floating)
            else weight
            for total, weight in zip(sums, weights, strict=True)
        ]
    )


def average_last_epochs(model, checkpoint_dir, last_epoch, count):
    """Averages the `Trainer`'s checkpoints of epochs `last_epoch - count + 1`
    to `last_epoch` (those that exist from epoch 1 on) into `model`.

    Returns:
        The epoch numbers averaged, in order.
    """
    if count < 1:
        raise ValueError(f"average_last_epochs: count must be >= 1, received {count}")
    epochs = list(range(max(1, last_epoch - count + 1), last_epoch + 1))
    average_weights(
        model,
        [os.path.join(checkpoint_dir, f"epoch_{e:03d}.weights.h5") for e in epochs],
    )
    return epochs
