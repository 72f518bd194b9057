"""What every recipe trains with: configuration, set-up, the training loop."""

from seq2seq.training.callbacks import EvaluationCallback
from seq2seq.training.config import TrainingConfig, option, parse_config
from seq2seq.training.distribute import is_chief, make_strategy, setup, split_cpu
from seq2seq.training.state import StateError
from seq2seq.training.trainer import NonFiniteLossError, Trainer, count_batches

__all__ = [
    "EvaluationCallback",
    "NonFiniteLossError",
    "StateError",
    "Trainer",
    "TrainingConfig",
    "count_batches",
    "is_chief",
    "make_strategy",
    "option",
    "parse_config",
    "setup",
    "split_cpu",
]
