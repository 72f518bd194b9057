"""Learning-rate schedules."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="seq2seq")
class WarmupInverseSqrt(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak`, then decay as 1/sqrt(step) (Vaswani et al.).

    With `s = step + 1` and `w = warmup_steps`, the rate is
    `peak * min(s / w, sqrt(w / s))`: it climbs linearly to `peak` at step
    `w - 1` and falls as `1 / sqrt(s)` after.

    Args:
        peak: The largest learning rate, reached at the end of the warm-up.
        warmup_steps: Steps of the linear warm-up (at least 1).

    >>> schedule = WarmupInverseSqrt(1e-3, warmup_steps=4)
    >>> [round(float(schedule(step)), 6) for step in (0, 3, 15)]
    [0.00025, 0.001, 0.0005]
    """

    def __init__(self, peak, warmup_steps):
        self.peak, self.warmup_steps = peak, max(int(warmup_steps), 1)

    def __call__(self, step):
        step = tf.cast(step, tf.float32) + 1.0
        warmup = tf.cast(self.warmup_steps, tf.float32)
        return self.peak * tf.minimum(step / warmup, tf.sqrt(warmup / step))

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps}
