"""seq2seq: recurrent sequence models on TensorFlow and Keras 3.

`import seq2seq` is light: each subpackage (`seq2seq.layers`,
`seq2seq.models`, ...) is imported on first use, so a command-line program
can import `seq2seq.cli` and quiet TensorFlow before TensorFlow loads.
"""

import importlib
import os

# The package is written for Keras 3's TensorFlow backend.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
_SUBPACKAGES = (
    "cli",
    "data",
    "decoding",
    "diagnostics",
    "evaluation",
    "layers",
    "models",
    "serving",
    "text",
    "training",
)
# Not `cli`: importing it quiets TensorFlow, which a star import should not do.
__all__ = [name for name in _SUBPACKAGES if name != "cli"]


def __getattr__(name):
    """`seq2seq.layers` and the like, imported when first asked for."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f"seq2seq.{name}")
    raise AttributeError(f"module 'seq2seq' has no attribute {name!r}")
