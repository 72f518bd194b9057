"""The callbacks every recipe trains with."""

from __future__ import annotations

import os
import shutil

import keras


def standard_callbacks(
    output_dir, monitor="val_loss", mode="min", patience=3, resume=False
):
    """Checkpoints, early stopping, TensorBoard and resumable training.

    - `output_dir/checkpoints/epoch_NNN.weights.h5` after every epoch, and
      `best.weights.h5` for the best `monitor` so far;
    - early stopping after `patience` epochs without improvement, restoring
      the best weights;
    - TensorBoard logs in `output_dir/logs`;
    - `output_dir/backup`: with `resume=True`, a run interrupted at any point
      continues from its last finished epoch (model, optimizer and epoch);
      without it, an old backup is removed and training starts afresh.
    """
    backup = os.path.join(output_dir, "backup")
    if not resume and os.path.isdir(backup):
        shutil.rmtree(backup)
    checkpoints = os.path.join(output_dir, "checkpoints")
    os.makedirs(checkpoints, exist_ok=True)
    return [
        keras.callbacks.BackupAndRestore(backup),
        keras.callbacks.ModelCheckpoint(
            os.path.join(checkpoints, "epoch_{epoch:03d}.weights.h5"),
            save_weights_only=True,
        ),
        keras.callbacks.ModelCheckpoint(
            os.path.join(checkpoints, "best.weights.h5"),
            save_weights_only=True,
            save_best_only=True,
            monitor=monitor,
            mode=mode,
        ),
        keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=patience, restore_best_weights=True
        ),
        keras.callbacks.TensorBoard(os.path.join(output_dir, "logs")),
    ]


class EvaluationCallback(keras.callbacks.Callback):
    """Adds scores computed at the end of every epoch to the epoch's logs.

    For metrics Keras cannot compute batch by batch, such as entity F1 or
    BLEU: `evaluate(model)` returns a dict of floats, logged as
    `prefix + name`, so that checkpointing and early stopping can monitor
    them. Put it *before* `standard_callbacks(...)` in the callback list:
    Keras calls callbacks in order with one logs dict.

    Args:
        evaluate: `model -> {name: float}`; non-float values (e.g. a
            printable report under "report") are printed, not logged.
        prefix: Prepended to each name, e.g. `"val_"`.
    """

    def __init__(self, evaluate, prefix="val_"):
        super().__init__()
        self.evaluate = evaluate
        self.prefix = prefix

    def on_epoch_end(self, epoch, logs=None):
        scores = self.evaluate(self.model)
        if logs is None:
            return
        for name, value in scores.items():
            if isinstance(value, (int, float)):
                logs[self.prefix + name] = float(value)
        if "report" in scores:
            print(f"\nepoch {epoch + 1}:\n{scores['report']}")
