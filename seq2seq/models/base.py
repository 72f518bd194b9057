"""The base of every head: it owns the loss contract."""

from __future__ import annotations

import keras
import tensorflow as tf

from seq2seq.models.losses import scale_for_replicas


class SequenceModel(keras.Model):
    """A `keras.Model` whose subclasses provide only their task loss.

        compute_loss = (task_loss + sum of regularisation losses) / replicas

    `compute_loss` adds the layers' regularisation losses (`self.losses`) to
    `task_loss(...)` and divides by the number of replicas in sync (see
    `scale_for_replicas`), so gradients summed over replicas are those of the
    global batch's mean: under `MirroredStrategy` with 2 replicas a head takes
    the same step as on one device. A head that overrode `compute_loss` and
    forgot the scaling would silently step twice too far, so subclasses may
    not override it: they implement `task_loss`.

    >>> class Regressor(SequenceModel):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.dense = keras.layers.Dense(1)
    ...     def call(self, x):
    ...         return self.dense(x)
    ...     def task_loss(self, x, y, y_pred, sample_weight=None):
    ...         return tf.reduce_mean(tf.square(y_pred - y))
    >>> model = Regressor()
    >>> model.compile(optimizer="sgd")
    >>> history = model.fit(np.ones((4, 3)), np.zeros((4, 1)), verbose=0)
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for owned in ("compute_loss", "training_loss"):
            if owned in vars(cls):
                raise TypeError(
                    f"{cls.__name__} overrides {owned}, which SequenceModel owns "
                    "(task loss + regularisation, scaled for replicas). Implement "
                    "task_loss(x, y, y_pred, sample_weight) (and optionally "
                    "batch_task_loss) instead."
                )

    def task_loss(self, x, y, y_pred, sample_weight=None):
        """The mean task loss of this replica's batch: a float scalar.

        Args:
            x: The model's inputs.
            y: The targets.
            y_pred: `self(x)`.
            sample_weight: Optional weights, as given to `fit`.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement task_loss(x, y, y_pred, "
            "sample_weight)"
        )

    def batch_task_loss(self, x, y, sample_weight=None, training=True):
        """The task loss of a batch from its inputs: `task_loss(x, y, self(x))`.

        A head overrides it when it can compute the same value more cheaply
        than through its full output (the translator projects only the
        target tokens).
        """
        y_pred = self(x, training=training)
        return self.task_loss(x, y, y_pred, sample_weight)

    def _contract(self, loss):
        if self.losses:
            loss = loss + tf.cast(tf.add_n(self.losses), loss.dtype)
        return scale_for_replicas(loss)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        return self._contract(self.task_loss(x, y, y_pred, sample_weight))

    def training_loss(self, x, y, sample_weight=None, training=True):
        """`compute_loss(x, y, self(x))` through `batch_task_loss`: what
        `seq2seq.training.Trainer` minimises."""
        return self._contract(self.batch_task_loss(x, y, sample_weight, training))
