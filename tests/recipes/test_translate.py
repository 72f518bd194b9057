"""recipes/translate.py end to end on a tiny built-in corpus."""

import json

import pytest
import tensorflow as tf

from seq2seq.training import parse_config


@pytest.fixture
def translate(load_recipe):
    return load_recipe("recipes/translate.py")


TINY = [
    "--synthetic-examples",
    "400",
    "--synthetic-eval-examples",
    "40",
    "--epochs",
    "1",
    "--units",
    "16",
    "--embedding-size",
    "16",
    "--beam-size",
    "2",
    "--max-length",
    "31",
    "--tokens-per-batch",
    "1024",
]


def test_recipe_trains_evaluates_and_exports(translate, tmp_path, capsys):
    output = tmp_path / "run"
    scores = translate.main(
        [*TINY, "--output-dir", str(output), "--examples", "5 May 2020|"]
    )
    printed = capsys.readouterr().out
    for name in (
        "spm.model",
        "test.hyp",
        "scores.json",
        "checkpoints/epoch_001.weights.h5",
        "checkpoints/best.weights.h5",
        "export/saved_model.pb",
        "data/train.src",
    ):
        assert (output / name).exists(), name
    assert len((output / "test.hyp").read_text().splitlines()) == 40
    saved = json.loads((output / "scores.json").read_text())
    assert set(saved) >= {
        "bleu",
        "chrf",
        "exact_match",
        "bleu_signature",
        "train_seconds",
    }
    assert saved["bleu"] == scores["bleu"]
    assert "nrefs:1" in saved["bleu_signature"] and "test BLEU" in printed
    assert "train pairs: kept 400, dropped 0" in printed
    assert "5 May 2020  ->" in printed  # translated through the export
    served = tf.saved_model.load(str(output / "export")).signatures["serving_default"]
    result = served(text=tf.constant(["", "1 January 1999"]))
    assert result["translations"].shape == (2,)


def test_yaml_config_and_flags(translate, tmp_path):
    config_file = tmp_path / "run.yaml"
    config_file.write_text("units: 32\nattention: luong_general\nresume: true\n")
    config = parse_config(
        translate.Config, ["--config", str(config_file), "--units", "48"]
    )
    assert config.units == 48  # flags win over the file
    assert config.attention == "luong_general" and config.resume is True
    assert config.epochs == translate.Config().epochs
