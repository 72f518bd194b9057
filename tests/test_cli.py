"""seq2seq.cli: a quiet TensorFlow start and one-line errors."""

import os
import subprocess
import sys

import pytest

from seq2seq import cli
from seq2seq.data import DataError
from seq2seq.training import ConfigError
from tests.conftest import ROOT


@pytest.mark.parametrize(
    "argv, wanted",
    [
        ([], False),
        (["--tf-logs", "true"], True),
        (["--epochs", "2", "--tf-logs", "YES"], True),
        (["--tf-logs=1"], True),
        (["--tf-logs", "false"], False),
        (["--tf-logs"], False),  # no value: argparse will say so
    ],
)
def test_wants_tf_logs(argv, wanted):
    assert cli.wants_tf_logs(argv) is wanted


@pytest.mark.parametrize("error", [DataError("a.txt:3: bad"), ConfigError("x: bad")])
def test_data_and_option_errors_are_one_line(error, capsys):
    def main(argv):
        raise error

    with pytest.raises(SystemExit) as exit_info:
        cli.run(main, [])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"error: {error}\n"


def test_bugs_keep_their_traceback():
    def main(argv):
        raise ValueError("a bug")  # not data, not options: a real bug

    with pytest.raises(ValueError, match="a bug"):
        cli.run(main, [])
    assert cli.run(lambda argv: argv, ["x"]) == ["x"]


def test_options_checked_turns_value_errors_into_config_errors():
    model_error = pytest.raises(ConfigError, match=r"^model: units must be positive$")
    with model_error, cli.options_checked("model"):
        raise ValueError("units must be positive")
    with pytest.raises(DataError), cli.options_checked():  # data errors stay data
        raise DataError("a.txt: empty")
    with pytest.raises(TypeError), cli.options_checked():
        raise TypeError("a bug")


def _start_tensorflow(*flags):
    """stderr of a fresh process that imports seq2seq.cli, then runs an op."""
    code = (
        "import seq2seq.cli, tensorflow as tf; tf.constant(1.0) + 1.0; "
        "print('ran', flush=True)"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-c", code, *flags],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout == "ran\n", result.stderr
    return result.stderr


def test_tensorflow_starts_quietly_unless_asked():
    assert _start_tensorflow() == ""
    # What is hidden: TensorFlow's own start-up lines (absl's notice at least;
    # oneDNN and CUDA lines where they apply).
    assert "absl::InitializeLog" in _start_tensorflow("--tf-logs", "true")


def test_parse_config_takes_tf_logs_and_names_a_bad_config_file(tmp_path, capsys):
    from seq2seq.training import TrainingConfig, parse_config

    config = parse_config(TrainingConfig, ["--tf-logs", "true", "--epochs", "2"])
    assert config == TrainingConfig(epochs=2)  # the flag is not a field
    for text in ("epochs: [1\n", "- a list\n"):
        (tmp_path / "run.yaml").write_text(text)
        with pytest.raises(SystemExit) as exit_info:
            parse_config(TrainingConfig, ["--config", str(tmp_path / "run.yaml")])
        assert exit_info.value.code == 2
        assert "run.yaml" in capsys.readouterr().err.splitlines()[-1]


def test_import_flag_imports_a_module_or_a_file_before_main(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))  # as PYTHONPATH would
    (tmp_path / "cells_by_name.py").write_text("LOADED = 'by name'\n")
    (tmp_path / "cells_by_path.py").write_text("LOADED = 'by path'\n")
    for name in ("cells_by_name", "cells_by_path"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    def main(argv):
        return [sys.modules[name].LOADED for name in ("cells_by_name", "cells_by_path")]

    argv = ["--epochs", "1", "--import", "cells_by_name"]
    argv += [f"--import={tmp_path / 'cells_by_path.py'}"]
    assert cli.run(main, argv) == ["by name", "by path"]


@pytest.mark.parametrize(
    "value, message",
    [
        ("no_such_cells", "--import no_such_cells: no module named 'no_such_cells'"),
        ("seq2seq.no_such", "--import seq2seq.no_such: no module named 'seq2seq.no_s"),
        ("missing.py", "--import missing.py: no such file"),
        ("my-cells", "--import my-cells: expected a module name (a.b.c) or a .py"),
        ("json.py", "--import json.py: no such file"),
    ],
)
def test_a_bad_import_is_a_one_line_error(value, message, capsys, tmp_path):
    def main(argv):
        raise AssertionError("main must not run")

    with pytest.raises(SystemExit) as exit_info:
        cli.run(main, ["--import", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1, err


def test_a_module_whose_own_import_fails_keeps_its_traceback(tmp_path):
    (tmp_path / "broken_cells.py").write_text("import no_such_dependency\n")
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency"):
        cli.import_module(str(tmp_path / "broken_cells.py"))
    assert "broken_cells" not in sys.modules
    (tmp_path / "json.py").write_text("")
    with pytest.raises(ConfigError, match="a module 'json' is already imported"):
        cli.import_module(str(tmp_path / "json.py"))


def test_parse_config_lists_import_and_drops_it(capsys):
    from seq2seq.training import TrainingConfig, parse_config

    config = parse_config(
        TrainingConfig, ["--import", "a", "--import=b", "--seed", "3"]
    )
    assert config == TrainingConfig(seed=3)  # the flag is not a field
    with pytest.raises(SystemExit):
        parse_config(TrainingConfig, ["--help"])
    assert "--import MODULE" in capsys.readouterr().out
