"""seq2seq: recurrent sequence models on TensorFlow and Keras 3."""

import os

# The package is written for Keras 3's TensorFlow backend.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from seq2seq import layers  # noqa: E402

__version__ = "0.1.0"
__all__ = ["layers"]
