"""Devices, distribution strategy, precision and seeds, set before any model.

`setup(config)` must run first in a training program: logical CPU devices
and `MultiWorkerMirroredStrategy` can only be configured before TensorFlow
initialises its runtime.
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from seq2seq.training.config import ConfigError

STRATEGIES = ("default", "mirrored", "multi-worker")


def split_cpu(num_devices: int):
    """Make `num_devices` logical CPU devices out of the physical CPU.

    Lets `MirroredStrategy` run replicas on a CPU-only machine. Raises a
    `RuntimeError` naming the argument if TensorFlow has already initialised
    its devices (call it first thing in the program).
    """
    if num_devices < 1:
        raise ConfigError(f"num_cpu_devices must be >= 1, received {num_devices}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration()] * num_devices
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == num_devices:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError as error:
        raise RuntimeError(
            f"num_cpu_devices={num_devices}: TensorFlow's devices are already "
            "initialised; call seq2seq.training.setup before any other "
            f"TensorFlow work ({error})"
        ) from None


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The `tf.distribute` strategy called `name` (one of `STRATEGIES`).

    - `default`: no distribution (one device).
    - `mirrored`: `MirroredStrategy` over every local GPU or, without GPUs,
      every logical CPU device (see `split_cpu`).
    - `multi-worker`: `MultiWorkerMirroredStrategy`, its cluster read from
      the `TF_CONFIG` environment variable.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise ConfigError(
                "strategy='multi-worker' needs the TF_CONFIG environment variable "
                '(e.g. {"cluster": {"worker": ["host:port", ...]}, '
                '"task": {"type": "worker", "index": 0}}); it is not set'
            )
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"TF_CONFIG is not valid JSON ({error}): {os.environ['TF_CONFIG']!r}"
            ) from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(
        f"strategy must be one of {', '.join(STRATEGIES)}; received {name!r}"
    )


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes checkpoints, logs and results.

    True without a cluster; in a cluster, for the `chief` task or, when there
    is none, `worker` 0.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def precision_policy(mixed: bool) -> str:
    """`mixed_float16` on a GPU, `mixed_bfloat16` on CPU, else `float32`."""
    if not mixed:
        return "float32"
    return (
        "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
    )


def setup(config) -> tf.distribute.Strategy:
    """Devices, strategy, precision policy and seeds from a `TrainingConfig`.

    Call it before building datasets or models; build the model and its
    optimizer inside `strategy.scope()`. In a cluster, a worker that is not
    the chief gets `config.output_dir` changed to `OUTPUT_DIR/worker_N`, so
    that workers never write the same file. Creates `config.output_dir`.

    Raises:
        ConfigError: a bad option value (`accumulate_steps`, `average_last`, `strategy`,
            `num_cpu_devices`) or `TF_CONFIG`.
    """
    if config.num_cpu_devices:
        split_cpu(config.num_cpu_devices)
    if config.accumulate_steps < 1:
        raise ConfigError(
            f"accumulate_steps must be >= 1, received {config.accumulate_steps}"
        )
    if config.average_last < 1:
        raise ConfigError(f"average_last must be >= 1, received {config.average_last}")
    strategy = make_strategy(config.strategy)
    if not is_chief(strategy):
        # TensorFlow's advice: workers other than the chief write apart (the
        # Trainer still reads the chief's state and checkpoints).
        task = strategy.cluster_resolver.task_id
        config.output_dir = os.path.join(config.output_dir, f"worker_{task}")
    os.makedirs(config.output_dir, exist_ok=True)
    keras.mixed_precision.set_dtype_policy(precision_policy(config.mixed_precision))
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    return strategy
