"""recipes/language_model.py end to end, in a fresh process, on a tiny budget."""

import json
import subprocess
import sys

from tests.conftest import ROOT

TINY = [
    "--synthetic-examples", "600", "--epochs", "2", "--units", "32",
    "--embedding-size", "32", "--learning-rate", "0.02", "--batch-size", "16",
    "--dropout", "0", "--output-dropout", "0", "--embedding-dropout", "0",
    "--samples", "2", "--sample-length", "20", "--checkpoint-every", "0",
    "--jit-compile", "false",
]  # fmt: skip


def _run(*argv):
    return subprocess.run(
        [sys.executable, "recipes/language_model.py", *argv],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_conditioned_recipe_beats_the_unigram_model_and_exports(tmp_path):
    output = tmp_path / "run"
    run = _run(*TINY, "--label-column", "label", "--output-dir", str(output))
    assert run.returncode == 0, run.stderr[-3000:]
    scores = json.loads((output / "scores.json").read_text())
    # The unigram model of these pieces has a perplexity near 40; a model that
    # learned nothing would sit near it, a broken one far above.
    assert (
        scores["valid_perplexity_per_piece"]
        < scores["unigram_perplexity_per_piece"] / 2
    )
    assert scores["valid_perplexity_per_word"] > scores["valid_perplexity_per_piece"]
    assert scores["valid_pieces"] > scores["valid_words"] > 0
    assert set(scores["samples"]) == {"negative", "positive"}
    for name in ("language_model.keras", "spm.model", "export/saved_model.pb"):
        assert (output / name).exists(), name
    assert "validation perplexity per piece" in run.stdout
    assert "next words" in run.stdout.split("through the export:")[1]


def test_bad_input_is_one_line_and_exit_status_2(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a good film\n")
    run = _run(
        "--train", str(corpus), "--label-column", "label", "--output-dir", str(tmp_path)
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"error: {corpus}: a plain text file has no label column 'label'; give a "
        ".tsv, .csv or .jsonl file to condition on labels"
    ]
