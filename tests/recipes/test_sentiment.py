"""recipes/sentiment.py end to end: the built-in corpus, files, YAML."""

import gzip
import json

import pytest
import tensorflow as tf

from seq2seq.data import DataError
from seq2seq.training import parse_config


@pytest.fixture
def sentiment(load_recipe):
    return load_recipe("recipes/sentiment.py")


TINY = [
    "--synthetic-examples",
    "2000",
    "--epochs",
    "3",
    "--units",
    "16",
    "--embedding-size",
    "16",
    "--batch-size",
    "32",
    "--learning-rate",
    "0.01",
    "--jit-compile",  # XLA is covered by the layer contract; here it only
    "false",  # would spend time compiling each bucket's shapes
]


def test_recipe_learns_the_builtin_corpus_and_exports(sentiment, tmp_path, capsys):
    output = tmp_path / "run"
    scores = sentiment.main(
        [*TINY, "--output-dir", str(output), "--examples", "the plot is not dull .|"]
    )
    printed = capsys.readouterr().out
    for name in (
        "spm.model",
        "scores.json",
        "checkpoints/epoch_001.weights.h5",
        "checkpoints/best.weights.h5",
        "export/saved_model.pb",
        "data/train.jsonl",
    ):
        assert (output / name).exists(), name
    saved = json.loads((output / "scores.json").read_text())
    assert saved["accuracy"] == scores["accuracy"] and scores["examples"] == 333
    assert scores["accuracy"] >= 0.9 and scores["macro_f1"] >= 0.9
    assert set(saved["history"]) >= {"val_accuracy", "val_macro_f1", "loss", "val_loss"}
    assert "train_seconds" in saved and "test accuracy" in printed
    assert "train texts: truncated 0 of 2000" in printed
    assert "positive" in printed.split("through the export:")[1]
    served = tf.saved_model.load(str(output / "export")).signatures["serving_default"]
    result = served(text=tf.constant(["", "the film was great ."]))
    assert [label.decode() for label in result["labels"].numpy()][1] == "positive"


def test_files_are_read_and_validation_is_carved_and_deduplicated(sentiment, tmp_path):
    # SST-2's layout: a header, a space before the tab, duplicate phrases.
    rows = [("a gem of a film ", 1), ("dull and tired ", 0)] * 20
    rows += [(f"phrase number {i} ", i % 2) for i in range(60)]
    tsv = tmp_path / "train.tsv"
    tsv.write_text("sentence\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows))
    config = parse_config(
        sentiment.Config,
        ["--train", str(tsv), "--text-column", "sentence", "--valid-fraction", "0.2"],
    )
    train, valid, test, names = sentiment.load_splits(config)
    assert names == ["0", "1"] and test is valid
    assert len(train[0]) == 80 and not set(valid[0]) & set(train[0])
    assert all(not text.endswith(b" ") for text in train[0])  # cleaned
    # IMDB's layout: gzipped CSV, quoted text with commas and <br />.
    csv_path = tmp_path / "train.csv.gz"
    with gzip.open(csv_path, "wt", encoding="utf-8") as file:
        file.write("id,rating,label,text\n")
        for i in range(10):
            file.write(
                f'{i},{1 + 8 * (i % 2)},{i % 2},"Review {i}, fine.<br /><br />End"\n'
            )
    config = parse_config(
        sentiment.Config, ["--train", str(csv_path), "--valid", str(csv_path)]
    )
    train, valid, _, _ = sentiment.load_splits(config)
    assert train[0][0] == b"Review 0, fine. End" and list(train[1][:3]) == [0, 1, 0]
    assert len(valid[0]) == 10  # a given validation set is used as it is


def test_yaml_config_and_flags(sentiment, tmp_path):
    config_file = tmp_path / "run.yaml"
    config_file.write_text("units: 32\npooling: attention\nbidirectional: false\n")
    config = parse_config(
        sentiment.Config, ["--config", str(config_file), "--units", "48"]
    )
    assert config.units == 48  # flags win over the file
    assert config.pooling == "attention" and config.bidirectional is False
    assert config.epochs == sentiment.Config().epochs


def _hub(monkeypatch, **splits):
    """`datasets.load_dataset` returns these splits, as a hub dataset would."""
    import datasets

    loaded = datasets.DatasetDict(
        {name: datasets.Dataset.from_dict(rows) for name, rows in splits.items()}
    )
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: loaded)


TRAIN_ROWS = {
    "text": [f"review number {i}" for i in range(40)],
    "label": ["pos", "neg"] * 20,
}


def test_a_missing_validation_split_is_carved(sentiment, monkeypatch, capsys):
    _hub(monkeypatch, train=TRAIN_ROWS, test=TRAIN_ROWS)  # as IMDB: no validation
    config = parse_config(sentiment.Config, ["--dataset", "imdb"])
    train, valid, _, names = sentiment.load_splits(config)
    assert names == ["neg", "pos"] and len(train[0]) == 38 and len(valid[0]) == 2
    assert "no validation set given: carved a seeded 5%" in capsys.readouterr().out


@pytest.mark.parametrize(
    "valid_rows, message",
    [
        ({"text": ["fine"], "label": ["neutral"]}, "label 'neutral' is not in"),
        ({"sentence": ["fine"], "label": ["pos"]}, r"no column 'text'"),
    ],
)
def test_a_bad_validation_split_stops_with_its_message(
    sentiment, monkeypatch, capsys, valid_rows, message
):
    _hub(monkeypatch, train=TRAIN_ROWS, validation=valid_rows)
    config = parse_config(sentiment.Config, ["--dataset", "imdb"])
    with pytest.raises(DataError, match=message):
        sentiment.load_splits(config)
    assert "carved" not in capsys.readouterr().out
