"""What every command-line program of the project shares: a quiet start,
one-line errors, and user modules imported first.

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
bad flag; every other exception is a bug and keeps its traceback. Before
`main` runs, `run` imports each `--import MODULE` of the command line, so that
a cell the module registers (`seq2seq.layers.register_cell`) is a
`--cell-type` of the program.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import pathlib
import sys

# Both are read here, before `main` parses the command line; parse_config
# lists them in --help.
TF_LOGS_FLAG = "--tf-logs"
IMPORT_FLAG = "--import"
_TRUE = ("1", "true", "yes", "on")


def flag_values(argv, flag) -> list[str]:
    """Every value `argv` gives `flag`, as `flag VALUE` or `flag=VALUE`.

    >>> flag_values(["--import", "cells", "--epochs", "1", "--import=b.py"], "--import")
    ['cells', 'b.py']
    """
    values = []
    for index, argument in enumerate(argv):
        if argument.startswith(flag + "="):
            values.append(argument.split("=", 1)[1])
        elif argument == flag and index + 1 < len(argv):
            values.append(argv[index + 1])
    return values


def wants_tf_logs(argv) -> bool:
    """Whether `argv` asks for TensorFlow's logs (`--tf-logs true`).

    >>> wants_tf_logs(["--epochs", "1", "--tf-logs", "true"])
    True
    >>> wants_tf_logs(["--tf-logs=no"]), wants_tf_logs([])
    (False, False)
    """
    values = flag_values(argv, TF_LOGS_FLAG)
    return bool(values) and values[-1].lower() in _TRUE  # the last wins, as in argparse


def import_module(value: str):
    """Imports `value`, a module name (`my_cells`, `lab.cells`) or a .py file.

    A module must be importable from the program (installed, or on
    `PYTHONPATH`); a file is loaded as a module named after its stem. Errors
    name the flag and the value (a `ConfigError`); an exception raised while
    the module itself runs is the module's and propagates as it is.
    """
    from seq2seq.training.config import ConfigError

    given = f"{IMPORT_FLAG} {value}"
    if value.endswith(".py"):
        name = pathlib.Path(value).stem
        if not os.path.isfile(value):
            raise ConfigError(f"{given}: no such file")
        if not name.isidentifier():
            raise ConfigError(f"{given}: {name!r} is not a module name; rename it")
        if name in sys.modules:
            raise ConfigError(f"{given}: a module {name!r} is already imported")
        spec = importlib.util.spec_from_file_location(name, value)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # as an import does (dataclasses look it up)
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module
    if not all(part.isidentifier() for part in value.split(".")):
        raise ConfigError(f"{given}: expected a module name (a.b.c) or a .py file")
    try:
        return importlib.import_module(value)
    except ModuleNotFoundError as error:
        if error.name is None or not (value + ".").startswith(error.name + "."):
            raise  # the module was found; something it imports is missing
        raise ConfigError(
            f"{given}: no module named {error.name!r} (install it, put its folder "
            "on PYTHONPATH, or give the path of a .py file)"
        ) from None


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

    First imports each `--import MODULE` of `argv` (default: the command
    line), in order. A `DataError` or a `ConfigError` (an unknown `--import`
    module too) prints `error: <message>` on stderr and exits with status 2;
    any other exception propagates with its traceback.
    """
    from seq2seq.data.files import DataError
    from seq2seq.training.config import ConfigError

    try:
        for value in flag_values(sys.argv[1:] if argv is None else argv, IMPORT_FLAG):
            import_module(value)
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
