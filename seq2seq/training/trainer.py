"""The training loop every recipe shares.

`Trainer.fit` trains any compiled-loss or `compute_loss`-owning Keras model
on a `tf.data` dataset, one process or many, and survives being killed:

- **Distribution**: under any `tf.distribute` strategy (see
  `seq2seq.training.setup`). Each global batch is split over the replicas,
  and every replica's loss is weighted by its share of the batch's
  examples, so the update equals the one-device update on the whole batch
  (an empty share, from a batch smaller than the replica count, adds
  nothing).
- **XLA**: the forward and backward pass are compiled per replica; the
  gradient all-reduce and the optimizer update run outside XLA. (Keras's
  own `fit(jit_compile=True)` fails under `MirroredStrategy` on logical CPU
  devices: its compiled step reads variables of another device.)
- **Clipping**: by the global norm of the *all-reduced* gradients, as on one
  device (Keras's `global_clipnorm` clips each replica's part before the
  all-reduce, and counts a repeated embedding row once per occurrence).
- **Gradient accumulation**: `accumulate_steps = k` pools the gradients of
  k consecutive batches, weighted by their examples, into one update: the
  update of one k times larger batch. When an epoch's batch count is not a
  multiple of k, its last update pools the remaining batches the same way:
  the update of one batch of their examples (a mean over those examples
  alone, so it weighs as much as a full update, as a partial last batch
  does). (Keras's `gradient_accumulation_steps` averages per-batch means
  instead, and fails under `MirroredStrategy`.)
- **Resume**: the state (model, optimizer, dropout seed generators, epoch,
  batch, update, loss so far, history, early stopping) is written
  atomically every `checkpoint_every` updates and at each epoch's end (see
  `seq2seq.training.state`). The data position is replayed, not stored: the
  training stream is `train.repeat()`, whose shuffles are seeded, and a
  resumed run skips the batches already trained on. With deterministic
  ops, a run killed at any point and resumed ends exactly as an
  uninterrupted one.
- **Non-finite loss**: training stops with `NonFiniteLossError` naming the
  update, epoch and batch, before anything is saved, so the last state and
  the epoch checkpoints hold finite weights. The weights are checked for
  finiteness again before each save.
- **Dynamic loss scaling** (`mixed_float16`, where Keras wraps the
  optimizer in a `LossScaleOptimizer`): a finite loss whose scaled
  gradients overflow is expected; the optimizer skips that update and
  halves the scale, and the trainer counts it (`skipped_updates` in the
  epoch logs) and goes on. A non-finite *loss*, or `max_overflows`
  overflows in a row (the gradients are not finite at any scale), stops
  training as above.
- **Checkpoints for people**: `checkpoints/epoch_NNN.weights.h5` and
  `best.weights.h5`; early stopping on `monitor`, restoring the best
  weights at the end, or with `average_last = N > 1` the mean of the last
  N epochs' weights (`seq2seq.training.averaging`); TensorBoard logs;
  Keras's progress bar.
"""

from __future__ import annotations

import math
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf

from seq2seq.training import state as state_io
from seq2seq.training.averaging import average_last_epochs
from seq2seq.training.distribute import is_chief


class NonFiniteLossError(RuntimeError):
    """The loss, the gradients or the weights stopped being finite."""


def training_loss(model, x, y, sample_weight=None):
    """The model's own `training_loss` if it has one (`SequenceModel`'s, which
    lets a head skip work, such as projecting padding), else
    `compute_loss(x, y, model(x))`."""
    own = getattr(model, "training_loss", None)
    if callable(own):
        return own(x, y, sample_weight=sample_weight, training=True)
    y_pred = model(x, training=True)
    return model.compute_loss(
        x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
    )


def count_batches(dataset) -> int:
    """The number of batches in one pass of `dataset` (iterating if unknown)."""
    known = int(dataset.cardinality())
    if known >= 0:
        return known
    if known == tf.data.INFINITE_CARDINALITY:
        raise ValueError("the training dataset is infinite; give one epoch of data")
    return int(dataset.reduce(np.int64(0), lambda count, _: count + 1))


def count_updates(batches, accumulate_steps) -> int:
    """Optimizer updates that `batches` batches make, `accumulate_steps`
    batches an update (the last update may pool fewer): an epoch's, or those
    begun so far in one."""
    return math.ceil(batches / accumulate_steps)


def _rows(batch):
    """Examples in a (per-replica) batch: the first input's leading size."""
    x = keras.utils.unpack_x_y_sample_weight(batch)[0]
    return tf.shape(tf.nest.flatten(x)[0])[0]


class _EpochLogs(keras.callbacks.Callback):
    """Keeps the epoch logs as the callbacks left them.

    `CallbackList` hands its callbacks a copy of the logs, so entries that a
    callback adds (e.g. `EvaluationCallback`'s `val_f1`) are seen here only.
    """

    def __init__(self):
        super().__init__()
        self.logs = {}

    def on_epoch_end(self, epoch, logs=None):
        self.logs = dict(logs or {})


class Trainer:
    """Trains `model` with `optimizer` as `config` (a `TrainingConfig`) says.

    Build the model (call it on a batch) and create the optimizer inside
    `strategy.scope()` first.

    Args:
        model: A built Keras model. Its loss is its compiled `loss` or its
            own `compute_loss`, which must scale by the replica count (see
            `seq2seq.models.losses.scale_for_replicas`).
        optimizer: A Keras optimizer without its own clipping (the trainer
            clips by `config.clip_norm`).
        config: A `seq2seq.training.TrainingConfig`.
        strategy: From `seq2seq.training.setup(config)`.
        metrics: Keras metrics, created outside `strategy.scope()`, reported
            on the validation data.
        loss: A Keras loss for models without their own `compute_loss`.
        monitor: The log entry early stopping and `best.weights.h5` follow.
        mode: `"min"` or `"max"`: which way `monitor` improves.
        verbose: Show Keras's progress bar (on the chief only).
        max_overflows: Under dynamic loss scaling, the number of
            consecutive loss-scale overflows (skipped updates) after which
            training stops: each halves the scale, so 20 take Keras's
            initial 2**15 below 1e-1.
    """

    def __init__(
        self,
        model,
        optimizer,
        config,
        strategy,
        metrics=None,
        loss=None,
        monitor="val_loss",
        mode="min",
        verbose=1,
        max_overflows=20,
    ):
        if not model.built:
            raise ValueError(
                "Trainer: build the model first (call it on a batch inside "
                "strategy.scope()), so that its variables exist"
            )
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', received {mode!r}")
        if optimizer.global_clipnorm or optimizer.clipnorm or optimizer.clipvalue:
            raise ValueError(
                "Trainer: give an optimizer without clipping; it clips the "
                "all-reduced gradients by config.clip_norm itself"
            )
        self.model, self.config, self.strategy = model, config, strategy
        self.monitor, self.mode, self.verbose = monitor, mode, verbose
        self.replicas = strategy.num_replicas_in_sync
        self.chief = is_chief(strategy)
        # The chief's folder: a non-chief worker writes under
        # OUTPUT_DIR/worker_N (see `setup`) but resumes from the chief's state.
        shared = config.output_dir if self.chief else os.path.dirname(config.output_dir)
        self.state_dir = os.path.join(shared, "state")
        self.checkpoint_dir = os.path.join(shared, "checkpoints")
        with strategy.scope():
            # compile only for the loss (if compiled) and the loss-scale
            # wrapping under mixed_float16; this class runs the steps.
            model.compile(optimizer=optimizer, loss=loss, jit_compile=False)
            self.optimizer = model.optimizer
            self.optimizer.build(model.trainable_variables)
        self.loss_scaling = isinstance(
            self.optimizer, keras.optimizers.LossScaleOptimizer
        )
        if max_overflows < 1:
            raise ValueError(f"max_overflows must be >= 1, received {max_overflows}")
        self.max_overflows = max_overflows
        self.metrics = list(metrics or [])
        self._validation_loss = keras.metrics.Mean(name="loss")
        self._gradients = tf.function(
            self._gradients_on_replica,
            jit_compile=bool(config.jit_compile),
            reduce_retracing=True,
        )
        self._evaluate_batch = tf.function(
            self._evaluate_batch_fn,
            jit_compile=bool(config.jit_compile),
            reduce_retracing=True,
        )
        self._steps = {}

    # -- one update --------------------------------------------------------

    def _gradients_on_replica(self, batch, weight):
        """`(weighted loss, gradients)` of one replica's batch (XLA)."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            loss = training_loss(self.model, x, y, sample_weight)
            weighted = tf.cast(loss, tf.float32) * weight
            scaled = self.optimizer.scale_loss(weighted)
        gradients = tape.gradient(scaled, variables)
        return weighted, [
            tf.zeros(v.shape, v.dtype) if g is None else tf.convert_to_tensor(g)
            for g, v in zip(gradients, variables, strict=True)
        ]

    def _no_gradients(self):
        variables = self.model.trainable_variables
        return tf.constant(0.0), [tf.zeros(v.shape, v.dtype) for v in variables]

    def _update_on_replica(self, batches):
        """Pool the gradients of `batches`, clip, apply.

        Returns `(loss, norm, examples)`: this replica's share of the mean
        loss, the global norm before clipping and the update's examples.
        """
        context = tf.distribute.get_replica_context()
        rows = [_rows(batch) for batch in batches]
        total = tf.add_n(rows)
        if self.replicas > 1:
            total = context.all_reduce(tf.distribute.ReduceOp.SUM, total)
        examples = tf.cast(total, tf.float32)
        total = tf.maximum(examples, 1.0)
        loss, gradients = tf.constant(0.0), None
        for batch, count in zip(batches, rows, strict=True):
            # compute_loss divides by the replica count; undo it, then weight
            # by this batch's share of all the examples in the update.
            weight = tf.cast(count, tf.float32) / total * self.replicas
            if self.replicas > 1:
                part_loss, part = tf.cond(
                    count > 0,
                    lambda batch=batch, weight=weight: self._gradients(batch, weight),
                    self._no_gradients,
                )
            else:
                part_loss, part = self._gradients(batch, weight)
            loss += part_loss
            gradients = (
                part
                if gradients is None
                else [a + b for a, b in zip(gradients, part, strict=True)]
            )
        if self.replicas > 1:
            gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
        scale = tf.cast(self.optimizer.scale_loss(tf.constant(1.0)), tf.float32)
        norm = tf.linalg.global_norm(gradients) / scale
        if self.config.clip_norm:
            clip = tf.constant(float(self.config.clip_norm))
            factor = clip / tf.maximum(norm, clip)
            gradients = [g * tf.cast(factor, g.dtype) for g in gradients]
        if self.replicas > 1:
            # The optimizer sums over replicas again: hand it 1/R of the sum.
            gradients = [g / self.replicas for g in gradients]
        self.optimizer.apply_gradients(
            zip(gradients, self.model.trainable_variables, strict=True)
        )
        return loss, norm, examples

    def _step(self, micro_batches):
        """The distributed update over `micro_batches` batches of the stream."""
        if micro_batches not in self._steps:

            @tf.function
            def step(iterator):
                batches = [next(iterator) for _ in range(micro_batches)]
                loss, norm, examples = self.strategy.run(
                    self._update_on_replica, args=(batches,)
                )
                # Every replica holds the same norm and example count.
                mean = tf.distribute.ReduceOp.MEAN
                return (
                    self.strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                    self.strategy.reduce(mean, norm, axis=None),
                    self.strategy.reduce(mean, examples, axis=None),
                )

            self._steps[micro_batches] = step
        return self._steps[micro_batches]

    # -- validation --------------------------------------------------------

    def _evaluate_batch_fn(self, batch):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
        y_pred = self.model(x, training=False)
        loss = self.model.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False
        )
        self._validation_loss.update_state(loss, sample_weight=_rows(batch))
        for metric in self.metrics:
            metric.update_state(y, y_pred, sample_weight=sample_weight)

    def evaluate(self, validation):
        """`{"loss": ..., metric names: ...}` over every batch of `validation`.

        Runs in each process on the whole dataset, outside the strategy
        (Keras's `evaluate` fails under `MultiWorkerMirroredStrategy`), so
        every worker reaches the same early-stopping decision.
        """
        for metric in (self._validation_loss, *self.metrics):
            metric.reset_state()
        for batch in validation:
            self._evaluate_batch(batch)
        return {
            metric.name: float(metric.result())
            for metric in (self._validation_loss, *self.metrics)
        }

    # -- state -------------------------------------------------------------

    def _variables(self):
        return state_io.unique_variables(self.model.variables, self.optimizer.variables)

    def _check_finite_weights(self, where):
        for variable in self.model.trainable_variables:
            if not np.all(np.isfinite(np.asarray(variable.numpy(), np.float32))):
                raise NonFiniteLossError(
                    f"weight {variable.path} became non-finite {where}; nothing "
                    f"was saved. {self._last_good()}"
                )

    def _loss_scale(self):
        return float(self.optimizer.scale_loss(tf.constant(1.0)))

    def _last_good(self):
        found = state_io.latest_state(self.state_dir)
        if found is None:
            return f"No training state had been saved yet in {self.state_dir}."
        path, _, progress = found
        return (
            f"The last good state is {path} (update {progress['update']}, epoch "
            f"{progress['epoch'] + 1}); continue from it with --resume true, "
            "e.g. with a lower learning rate."
        )

    def _save(self, progress):
        self._check_finite_weights(
            f"by update {progress['update']} (epoch {progress['epoch'] + 1})"
        )
        if self.chief:
            state_io.save_state(self.state_dir, self._variables(), progress)

    def _save_weights(self, name):
        if not self.chief:
            return
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        path = os.path.join(self.checkpoint_dir, name)
        staged = path.replace(".weights.h5", f".tmp-{os.getpid()}.weights.h5")
        self.model.save_weights(staged, overwrite=True)
        os.replace(staged, path)

    def _restore(self, steps_per_epoch):
        found = state_io.latest_state(self.state_dir)
        if found is None:
            print(f"resume: no training state in {self.state_dir}; starting afresh")
            return None
        path, arrays, progress = found
        for key, value in (
            ("steps_per_epoch", steps_per_epoch),
            ("accumulate_steps", self.config.accumulate_steps),
        ):
            if progress[key] != value:
                raise state_io.StateError(
                    f"{path}: saved with {key}={progress[key]}, but this run has "
                    f"{key}={value}; resume needs the same data and settings"
                )
        state_io.restore_variables(path, self._variables(), arrays, progress)
        print(
            f"resumed from {path}: epoch {progress['epoch'] + 1}, batch "
            f"{progress['batch']} of {steps_per_epoch}, update {progress['update']}"
        )
        return progress

    def local_model(self):
        """The trained model, for evaluation and export in this process.

        Under one device it is the model itself. Under a multi-device or
        multi-worker strategy, `predict` and `evaluate` would distribute
        again (and wait for workers that may have finished); this returns a
        twin built from the model's config outside the strategy, holding
        the same weights.
        """
        multi_worker = isinstance(
            self.strategy, tf.distribute.MultiWorkerMirroredStrategy
        )
        if self.replicas == 1 and not multi_worker:
            return self.model
        twin = type(self.model).from_config(self.model.get_config())
        # One batch builds it; read only here, so training's start-up (and
        # its shuffle order) pays nothing for it.
        twin(keras.utils.unpack_x_y_sample_weight(next(iter(self._train)))[0])
        twin.set_weights(self.model.get_weights())
        return twin

    # -- the loop ----------------------------------------------------------

    def _stream(self, train, position):
        """An iterator over `train` repeated, from batch `position` on."""
        stream = train.repeat().skip(position)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        stream = stream.with_options(options)
        return iter(self.strategy.experimental_distribute_dataset(stream))

    @staticmethod
    def _improved(value, best, mode):
        if best is None:
            return True
        return value < best if mode == "min" else value > best

    def fit(self, train, validation=None, callbacks=()):
        """Train for `config.epochs` epochs; returns the history dict.

        Args:
            train: One epoch of training batches (a finite `tf.data`
                dataset of `(x, y)` or `(x, y, sample_weight)`), shuffled
                with a seed if at all.
            validation: Batches for `model.evaluate` after every epoch,
                logged with a `val_` prefix.
            callbacks: Keras callbacks, e.g. `EvaluationCallback`; they see
                the epoch logs before early stopping reads them.

        Sets `fit_seconds`, the wall time the call took.
        """
        started = time.perf_counter()
        config = self.config
        steps_per_epoch = count_batches(train)
        self._train = train
        if steps_per_epoch == 0:
            raise ValueError("the training dataset has no batches")
        accumulate = config.accumulate_steps
        epoch_updates = count_updates(steps_per_epoch, accumulate)
        progress = None
        if config.resume:
            progress = self._restore(steps_per_epoch)
        elif self.chief and os.path.isdir(self.state_dir):
            shutil.rmtree(self.state_dir)  # a fresh run must not resume old state
        if progress is None:
            progress = {
                "epoch": 0,
                "batch": 0,
                "update": 0,
                "loss_sum": 0.0,
                "examples": 0.0,
                "skipped": 0,
                "overflows": 0,
                "history": {},
                "best": None,
                "best_epoch": None,
                "wait": 0,
                "stopped": False,
                "steps_per_epoch": steps_per_epoch,
                "accumulate_steps": accumulate,
            }
        # States saved before these entries: a batch weighed as one example.
        progress.setdefault("examples", float(progress["batch"]))
        progress.setdefault("skipped", 0)
        progress.setdefault("overflows", 0)
        print(
            f"training: {steps_per_epoch} batches an epoch, {epoch_updates} "
            f"updates of {accumulate} batch(es), {self.replicas} replica(s), "
            f"dtype policy {keras.config.dtype_policy().name}"
        )

        # Without validation data, early stopping follows the training loss.
        monitor, mode = (
            (self.monitor, self.mode) if validation is not None else ("loss", "min")
        )
        epoch_logs = _EpochLogs()
        extra = [*callbacks, epoch_logs]
        if self.chief:
            extra.append(
                keras.callbacks.TensorBoard(os.path.join(config.output_dir, "logs"))
            )
        callback_list = keras.callbacks.CallbackList(
            extra,
            add_progbar=bool(self.verbose) and self.chief,
            model=self.model,
            verbose=self.verbose,
            epochs=config.epochs,
            steps=epoch_updates,
        )
        self.model.stop_training = False
        callback_list.on_train_begin()
        iterator = None
        while progress["epoch"] < config.epochs and not progress["stopped"]:
            epoch = progress["epoch"]
            if iterator is None:
                iterator = self._stream(
                    train, epoch * steps_per_epoch + progress["batch"]
                )
            callback_list.on_epoch_begin(epoch)
            while progress["batch"] < steps_per_epoch:
                micro = min(accumulate, steps_per_epoch - progress["batch"])
                loss, norm, examples = self._step(micro)(iterator)
                loss, norm, examples = float(loss), float(norm), float(examples)
                where = (
                    f"at update {progress['update'] + 1}, epoch {epoch + 1}, "
                    f"batch {progress['batch'] + micro} of {steps_per_epoch}"
                )
                if not math.isfinite(loss) or (
                    not math.isfinite(norm) and not self.loss_scaling
                ):
                    raise NonFiniteLossError(
                        f"non-finite training loss {loss} (gradient norm {norm}) "
                        f"{where}; training stopped and nothing was saved. "
                        f"{self._last_good()}"
                    )
                if math.isfinite(norm):
                    progress["overflows"] = 0
                else:
                    # A loss-scale overflow: the optimizer skipped this update
                    # and halved its scale.
                    progress["overflows"] += 1
                    progress["skipped"] += 1
                    if progress["overflows"] >= self.max_overflows:
                        raise NonFiniteLossError(
                            f"{progress['overflows']} loss-scale overflows in a "
                            f"row (gradient norm {norm} with a finite loss {loss}, "
                            f"loss scale now {self._loss_scale():g}) {where}: the "
                            "gradients are not finite at any scale; training "
                            f"stopped and nothing was saved. {self._last_good()}"
                        )
                progress["batch"] += micro
                progress["update"] += 1
                # The epoch's loss is the mean over its examples, however
                # they were batched, split or pooled.
                progress["loss_sum"] += loss * examples
                progress["examples"] += examples
                callback_list.on_train_batch_end(
                    count_updates(progress["batch"], accumulate) - 1,
                    {"loss": progress["loss_sum"] / progress["examples"]},
                )
                every = config.checkpoint_every
                mid_epoch = progress["batch"] < steps_per_epoch
                if every and progress["update"] % every == 0 and mid_epoch:
                    self._save(progress)

            logs = {"loss": progress["loss_sum"] / progress["examples"]}
            if self.loss_scaling:
                logs["skipped_updates"] = progress["skipped"]
                if progress["skipped"] and self.chief:
                    print(
                        f"epoch {epoch + 1}: skipped {progress['skipped']} of "
                        f"{epoch_updates} updates on loss-scale overflow "
                        f"(loss scale now {self._loss_scale():g})"
                    )
            if validation is not None:
                scores = self.evaluate(validation)
                logs.update({f"val_{k}": v for k, v in scores.items()})
            callback_list.on_epoch_end(epoch, logs)
            if self.chief:  # wall time with validation and callbacks, not in logs
                print(
                    f"epoch {epoch + 1} done, {time.perf_counter() - started:.0f} s "
                    "into this training run"
                )
            logs = {**logs, **epoch_logs.logs}
            for name, value in logs.items():
                if isinstance(value, (int, float, np.floating)):
                    progress["history"].setdefault(name, []).append(float(value))
            self._save_weights(f"epoch_{epoch + 1:03d}.weights.h5")
            if monitor not in logs:
                raise KeyError(
                    f"monitor={monitor!r} is not among the epoch's logs {sorted(logs)}"
                )
            value = float(logs[monitor])
            if self._improved(value, progress["best"], mode):
                progress.update(best=value, best_epoch=epoch + 1, wait=0)
                self._save_weights("best.weights.h5")
            else:
                progress["wait"] += 1
            progress.update(
                epoch=epoch + 1, batch=0, loss_sum=0.0, examples=0.0, skipped=0
            )
            if progress["wait"] >= config.patience or self.model.stop_training:
                progress["stopped"] = True
                print(
                    f"stopping early: {monitor} has not improved for "
                    f"{progress['wait']} epochs (best {progress['best']:.4f} at "
                    f"epoch {progress['best_epoch']})"
                )
            self._save(progress)
        callback_list.on_train_end()

        best = os.path.join(self.checkpoint_dir, "best.weights.h5")
        last_epoch = progress["epoch"]
        if config.average_last > 1:
            epochs = average_last_epochs(
                self.model, self.checkpoint_dir, last_epoch, config.average_last
            )
            print(f"averaged the weights of epochs {epochs[0]} to {epochs[-1]}")
        elif progress["best_epoch"] not in (None, last_epoch) and os.path.exists(best):
            self.model.load_weights(best)
            print(f"restored the best weights, from epoch {progress['best_epoch']}")
        self.progress = progress
        self.fit_seconds = time.perf_counter() - started
        return progress["history"]
