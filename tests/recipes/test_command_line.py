"""The command-line programs on bad input: one line on stderr, exit status 2.

Each program runs in a fresh process, as a user runs it, on data that fails
while loading (before any training): the message names the file and the
line, and there is no traceback. And a user's module given by `--import`
registers a cell that `--cell-type` then trains.
"""

import os
import subprocess
import sys

import h5py
import pytest

from seq2seq import cli
from tests.conftest import ROOT


def _bad_inputs(folder):
    """`{case: (argv, file the message must name)}`, the files written."""
    (folder / "train.en").write_text("a man\ntwo dogs\n")
    (folder / "train.de").write_text("ein mann\n")  # one line short
    (folder / "train.conll").write_text("EU B-ORG\nrejects\n\n")  # no tag
    (folder / "train.tsv").write_text("text\tlabel\ngood film\tpos\nbad film\tneg\n")
    (folder / "valid.tsv").write_text("text\tlabel\nok film\tneutral\n")
    (folder / "corpus.txt").write_bytes(b"good\n\xff\xfe bad\n")  # not UTF-8
    out = str(folder / "out")
    return {
        "translate: mismatched parallel files": (
            ["recipes/translate.py", "--train-src", str(folder / "train.en")]
            + ["--train-tgt", str(folder / "train.de"), "--output-dir", out],
            "train.de",
        ),
        "ner: a malformed CoNLL line": (
            ["recipes/ner.py", "--train", str(folder / "train.conll")]
            + ["--valid", str(folder / "train.conll"), "--output-dir", out],
            "train.conll:2",
        ),
        "sentiment: a label outside the label set": (
            ["recipes/sentiment.py", "--train", str(folder / "train.tsv")]
            + ["--valid", str(folder / "valid.tsv"), "--output-dir", out],
            "valid.tsv:2: label 'neutral'",
        ),
        "train_sentencepiece: a line that is not UTF-8": (
            ["tokenizers/train_sentencepiece.py", "--input", str(folder / "corpus.txt")]
            + ["--vocab-size", "10", "--model-prefix", out + "/spm"],
            "corpus.txt:2",
        ),
    }


def test_bad_data_is_one_line_and_exit_status_2(tmp_path):
    cases = _bad_inputs(tmp_path)
    # Started together: each spends its few seconds importing TensorFlow.
    processes = {
        name: subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (argv, _) in cases.items()
    }
    for name, process in processes.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 2, (name, out, err)
        assert "Traceback" not in err, (name, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, err)
        assert cases[name][1] in lines[0], (name, err)
    assert not (tmp_path / "out" / "checkpoints").exists()  # nothing trained


def test_without_the_package_installed_says_how_to_install(tmp_path):
    # -S: no site-packages, so neither the installed package nor the
    # repository (the script's folder is recipes/) provides seq2seq.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-S", str(ROOT / "recipes" / "ner.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == ("error: seq2seq is not installed; run: pip install -e .\n")


USER_MODULE = """\
# A user's module: registers the README's minimal gated unit as mgu.
from seq2seq import layers
from tests.layers.helpers import MinimalGatedUnit

layers.register_cell("mgu", MinimalGatedUnit, gate_names=("f", "n"))
"""


def test_a_cell_registered_by_an_imported_module_is_trained_by_name(tmp_path):
    (tmp_path / "my_cells.py").write_text(USER_MODULE)
    # The module imports the test's cell class from the repository's tests.
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    output = tmp_path / "run"
    tiny = ["--synthetic-examples", "120", "--epochs", "1", "--units", "8"]
    tiny += ["--embedding-size", "8", "--batch-size", "32", "--jit-compile", "false"]
    result = subprocess.run(
        [sys.executable, "recipes/sentiment.py", *tiny, "--output-dir", str(output)]
        + ["--import", str(tmp_path / "my_cells.py"), "--cell-type", "mgu"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "3 updates of 1 batch(es)" in result.stdout  # 120 examples, 32 a batch
    # The trained weights are the minimal gated unit's, two blocks of 8 units
    # (f, n) in each direction's kernels (the default LSTM would have four).
    shapes = {}

    def shape_of(name, item):  # returns None, so that every item is visited
        if isinstance(item, h5py.Dataset):
            shapes[name] = item.shape

    with h5py.File(output / "checkpoints" / "best.weights.h5") as weights:
        weights.visititems(shape_of)
    encoder = "encoder/rnn_layers/bidirectional/{}_layer/cell/vars/{}"
    cells = {name: shape for name, shape in shapes.items() if "/cell/" in name}
    assert cells == {
        encoder.format(side, i): shape
        for side in ("forward", "backward")
        for i, shape in enumerate([(8, 16), (8, 16), (16,)])  # W, U, b
    }


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--embedding-size", "8", "--tie-embeddings", "true"],
            "error: options: tie_embeddings needs embedding_size == units. "
            "Received: embedding_size=8, units=16\n",
        ),
        (
            ["--cell-type", "transformer"],
            "error: options: cell_type must be one of",
        ),
        (["--strategy", "mirror"], "error: strategy must be one of"),
    ],
)
def test_bad_option_values_are_one_line(translate, tmp_path, capsys, argv, message):
    tiny = ["--synthetic-examples", "60", "--synthetic-eval-examples", "10"]
    tiny += ["--units", "16", "--embedding-size", "16"]
    with pytest.raises(SystemExit) as exit_info:
        cli.run(translate.main, [*tiny, *argv, "--output-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not (tmp_path / "checkpoints").exists()


def test_untied_embeddings_are_said(translate, tmp_path, capsys, monkeypatch):
    """Unequal sizes and no --tie-embeddings: untied, and the run says so."""
    config = translate.Config(embedding_size=8, units=16, output_dir=str(tmp_path))
    built = {}

    def stop(*args, **kwargs):
        built.update(kwargs)
        raise RuntimeError("stop before training")

    monkeypatch.setattr(translate, "EncoderDecoder", stop)
    monkeypatch.setattr(translate.training, "parse_config", lambda *a, **k: config)
    monkeypatch.setattr(translate, "load_splits", lambda c: _pairs())
    with pytest.raises(RuntimeError, match="stop before training"):
        translate.main([])
    assert built["tie_embeddings"] is False
    assert "output projection tied to the embedding: False" in capsys.readouterr().out


def _pairs():
    import tensorflow as tf

    pairs = tf.data.Dataset.from_tensor_slices((["a b", "c d"] * 20, ["b a"] * 40))
    return pairs, pairs, pairs


@pytest.fixture
def translate(load_recipe):
    return load_recipe("recipes/translate.py")
