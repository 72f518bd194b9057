"""What every recipe trains with: configuration, set-up, schedules, the loop."""

from seq2seq.training.averaging import average_last_epochs, average_weights
from seq2seq.training.callbacks import EvaluationCallback
from seq2seq.training.config import (
    ConfigError,
    TrainingConfig,
    option,
    parse_config,
)
from seq2seq.training.distribute import is_chief, make_strategy, setup, split_cpu
from seq2seq.training.layerwise import (
    FineTuningConfig,
    LayerwiseAdam,
    fine_tuning_optimizer,
    layerwise_rules,
)
from seq2seq.training.schedules import WarmupInverseSqrt
from seq2seq.training.state import StateError
from seq2seq.training.trainer import NonFiniteLossError, Trainer, count_batches

__all__ = [
    "ConfigError",
    "EvaluationCallback",
    "FineTuningConfig",
    "LayerwiseAdam",
    "NonFiniteLossError",
    "StateError",
    "Trainer",
    "TrainingConfig",
    "WarmupInverseSqrt",
    "average_last_epochs",
    "average_weights",
    "count_batches",
    "fine_tuning_optimizer",
    "is_chief",
    "layerwise_rules",
    "make_strategy",
    "option",
    "parse_config",
    "setup",
    "split_cpu",
]
