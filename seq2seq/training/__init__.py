"""What every recipe trains with: configuration and callbacks."""

from seq2seq.training.callbacks import EvaluationCallback, standard_callbacks
from seq2seq.training.config import option, parse_config

__all__ = ["EvaluationCallback", "option", "parse_config", "standard_callbacks"]
