"""What every command-line program of the project shares: a quiet start and
one-line errors.

A program imports this module first, before TensorFlow, and runs its `main`
through `run`:

    from seq2seq import cli  # first: TensorFlow starts quietly

    # isort: split
    import keras
    ...

    if __name__ == "__main__":
        cli.run(main)

Importing it imports TensorFlow with its start-up logs hidden (the CUDA,
oneDNN and absl lines a CPU-only machine prints before the program says
anything), unless the command line has `--tf-logs true`. `run(main)` turns a
`DataError` (bad input data) or a `ConfigError` (a bad option value) into one
line, `error: <message>` on stderr, and exit status 2, as argparse does for a
bad flag; every other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys

TF_LOGS_FLAG = "--tf-logs"  # parse_config lists it in --help
_TRUE = ("1", "true", "yes", "on")


def wants_tf_logs(argv) -> bool:
    """Whether `argv` asks for TensorFlow's logs (`--tf-logs true`).

    >>> wants_tf_logs(["--epochs", "1", "--tf-logs", "true"])
    True
    >>> wants_tf_logs(["--tf-logs=no"]), wants_tf_logs([])
    (False, False)
    """
    for index, argument in enumerate(argv):
        if argument.startswith(TF_LOGS_FLAG + "="):
            return argument.split("=", 1)[1].lower() in _TRUE
        if argument == TF_LOGS_FLAG and index + 1 < len(argv):
            return argv[index + 1].lower() in _TRUE
    return False


@contextlib.contextmanager
def _stderr_silenced():
    """Points file descriptor 2 at /dev/null, where C++ code writes too."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no stderr to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def quiet_tensorflow() -> None:
    """Imports TensorFlow without its start-up logs, and keeps it quieter.

    TensorFlow's C++ runtime writes its first lines while it loads (absl's
    "All log messages before absl::InitializeLog() ...", oneDNN's and
    CUDA's notices), before it reads any log level, so the import runs with
    stderr pointed at /dev/null. `TF_CPP_MIN_LOG_LEVEL=3` then hides the
    runtime's later errors about absent GPUs ("failed call to cuInit"), and
    absl's Python logger is set to errors only. Errors that matter still
    reach the program as Python exceptions. Does nothing if TensorFlow is
    already imported.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with _stderr_silenced():
        import tensorflow  # noqa: F401

    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)


def run(main, argv=None):
    """Returns `main(argv)`; bad data or options exit 2 with a one-line error.

    A `DataError` or a `ConfigError` prints `error: <message>` on stderr and
    exits with status 2; any other exception propagates with its traceback.
    """
    from seq2seq.data.files import DataError
    from seq2seq.training.config import ConfigError

    try:
        return main(argv)
    except (DataError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


@contextlib.contextmanager
def options_checked(what: str = "options"):
    """Turns a `ValueError` raised inside into a `ConfigError`.

    For the library calls that check option values (a model's constructor
    saying `cell_type must be one of ...`): inside a command-line program
    those are the user's option errors, to report in one line.
    """
    from seq2seq.data.files import DataError
    from seq2seq.training.config import ConfigError

    try:
        yield
    except (ConfigError, DataError):
        raise
    except ValueError as error:
        raise ConfigError(f"{what}: {error}") from error


if not wants_tf_logs(sys.argv[1:]):
    quiet_tensorflow()
