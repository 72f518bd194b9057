"""Fine-tuning a pretrained model layer by layer (ULMFiT, Howard & Ruder 2018).

Two of ULMFiT's fine-tuning devices, for a head whose lower layers come
from a language model (`--init-from`):

- **discriminative learning rates**: each layer group below the top trains
  at the learning rate of the group above divided by `decay` (ULMFiT: 2.6),
  so the pretrained layers move less than the new head;
- **gradual unfreezing**: the top group trains from the first update, the
  next one down from update `every`, the next from `2 * every`, ...

`LayerwiseAdam` is Adam with a learning-rate multiplier and a first update
per variable. Keras has no per-variable learning rate (TensorFlow Addons'
`MultiOptimizer` is gone with Addons), and scaling the gradients would not
do it: Adam's step is invariant to the gradient's scale. A frozen variable
keeps its value (its learning rate is 0) while Adam's moments still
follow its gradients, so it starts moving with warm statistics. The
variables, the state (and so `--resume`) are Adam's own.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from seq2seq.training.config import ConfigError, option
from seq2seq.training.trainer import count_batches, count_updates


@keras.saving.register_keras_serializable(package="seq2seq")
class LayerwiseAdam(keras.optimizers.Adam):
    """Adam whose variables have their own rate multiplier and first update.

    Args:
        learning_rate: Adam's learning rate (a float or a schedule): the rate
            of every variable no rule names.
        rules: `(paths, multiplier, start)` triples: the variables whose
            `path` is in `paths` train at `multiplier` times the learning
            rate, from update `start` on (counted from 0, as
            `optimizer.iterations`); before it they do not change. A path
            in two rules takes the first.
        **kwargs: `keras.optimizers.Adam`'s other arguments.
    """

    def __init__(self, learning_rate=0.001, rules=(), **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rules = []
        for paths, multiplier, start in rules:
            if multiplier < 0 or start < 0:
                raise ValueError(
                    "LayerwiseAdam: a rule's multiplier and start must be >= 0, "
                    f"received multiplier={multiplier}, start={start}"
                )
            self.rules.append((list(paths), float(multiplier), int(start)))

    def build(self, variables):
        super().build(variables)
        first = {}
        for paths, multiplier, start in self.rules:
            for path in paths:
                first.setdefault(path, (multiplier, start))
        self._variable_rules = [first.get(v.path, (1.0, 0)) for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        multiplier, start = self._variable_rules[self._get_variable_index(variable)]
        if (multiplier, start) != (1.0, 0):
            learning_rate = ops.cast(learning_rate, variable.dtype) * multiplier
            if start > 0:
                started = ops.greater_equal(self.iterations, start)
                learning_rate = learning_rate * ops.cast(started, variable.dtype)
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {
            **super().get_config(),
            "rules": [[list(p), m, s] for p, m, s in self.rules],
        }


def layerwise_rules(groups, decay=1.0, every=0):
    """`LayerwiseAdam` rules for `groups` of variables, listed bottom to top.

    The top group trains at the full rate from the start; the group `d`
    below it at `decay ** -d` times the rate, from update `d * every` on.

    Args:
        groups: Lists of Keras variables, the lowest group (embeddings)
            first, as `seq2seq.models.transfer.fine_tuning_groups` returns.
        decay: The rate's divisor per group down (>= 1; 1: one rate).
        every: Updates between unfreezing one group and the next one down
            (0: every group trains from the start).
    """
    if decay < 1.0:
        raise ValueError(f"decay must be >= 1, received {decay}")
    if every < 0:
        raise ValueError(f"every must be >= 0, received {every}")
    depth = len(groups) - 1
    return [
        ([v.path for v in group], decay ** -(depth - level), (depth - level) * every)
        for level, group in enumerate(groups)
    ]


@dataclasses.dataclass
class FineTuningConfig:
    """The options of a head that can start from a language model; a
    recipe's `Config` subclasses it beside `TrainingConfig`."""

    init_from: str | None = option(None, "start from a language model's output dir")
    layer_decay: float = option(
        1.0,
        "divide the learning rate by this per layer group below the top "
        "(ULMFiT: 2.6; 1: one rate)",
    )
    unfreeze_every: int = option(
        0,
        "epochs between unfreezing one layer group and the next one down, the "
        "top first (0: all train from the start)",
    )


def fine_tuning_optimizer(config, groups, train):
    """Adam at `config.learning_rate`; a `LayerwiseAdam` over `groups` (bottom
    to top) when `config.layer_decay` or `config.unfreeze_every` asks for it.

    `train` (one epoch of batches) is counted only for `unfreeze_every`, to
    turn epochs into updates as the `Trainer` does (`accumulate_steps`
    batches an update).

    Raises:
        ConfigError: `layer_decay` below 1 or `unfreeze_every` below 0.
    """
    if config.layer_decay < 1.0:
        raise ConfigError(f"layer_decay must be >= 1, received {config.layer_decay}")
    if config.unfreeze_every < 0:
        raise ConfigError(
            f"unfreeze_every must be >= 0, received {config.unfreeze_every}"
        )
    if config.layer_decay == 1.0 and config.unfreeze_every == 0:
        return keras.optimizers.Adam(config.learning_rate)
    every = 0
    if config.unfreeze_every:
        updates = count_updates(count_batches(train), config.accumulate_steps)
        every = config.unfreeze_every * updates
    rules = layerwise_rules(groups, config.layer_decay, every)
    return LayerwiseAdam(config.learning_rate, rules)
