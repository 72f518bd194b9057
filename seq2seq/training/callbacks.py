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
