"""Callbacks for the shared training loop."""

from __future__ import annotations

import keras


class EvaluationCallback(keras.callbacks.Callback):
    """Adds scores computed at the end of every epoch to the epoch's logs.

    For metrics Keras cannot compute batch by batch, such as entity F1 or
    BLEU: `evaluate(model)` returns a dict of floats, logged as
    `prefix + name`, so that checkpointing and early stopping can monitor
    them: `Trainer.fit` reads early stopping's `monitor` after the callbacks
    have run.

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
