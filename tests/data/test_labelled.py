"""Labelled text: TSV, gzipped CSV, JSONL, Hugging Face builders; bad labels."""

import gzip
import json

import pytest

from seq2seq.data import (
    DataError,
    MissingSplitError,
    labelled_text,
    labelled_text_from_hf,
)


def _rows(dataset):
    return [(t.numpy().decode(), int(y)) for t, y in dataset]


def test_sst2_style_tsv(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text('sentence\tlabel\nit \'s "great" \t1\ndull , flat \t0\n')
    dataset, labels = labelled_text(path, "sentence", "label")
    assert labels == ["0", "1"]
    assert _rows(dataset) == [('it \'s "great" ', 1), ("dull , flat ", 0)]


def test_imdb_style_gzipped_csv_with_quotes_and_newlines(tmp_path):
    path = tmp_path / "train.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as file:
        file.write(
            'id,rating,label,text\n0,3,0,"Bad, really.\nTwo lines."\n1,9,1,Fine\n'
        )
    dataset, labels = labelled_text(path, labels=["0", "1"])
    assert _rows(dataset) == [("Bad, really.\nTwo lines.", 0), ("Fine", 1)]


def test_jsonl_with_a_given_label_set(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(r) for r in [{"t": "yay", "y": "pos"}, {"t": "meh", "y": "neg"}]
        )
    )
    dataset, labels = labelled_text(path, "t", "y", labels=["neg", "pos"])
    assert _rows(dataset) == [("yay", 1), ("meh", 0)]


def test_label_outside_the_set_names_file_and_line(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\ngood\t1\nodd\t2\n")
    with pytest.raises(DataError, match=r"train\.tsv:3: label '2' is not in"):
        labelled_text(path, "sentence", "label", labels=["0", "1"])


def test_bad_rows_and_columns(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\ngood\t1\nno label\n")
    with pytest.raises(DataError, match=r"train\.tsv:3: expected 2 columns"):
        labelled_text(path, "sentence", "label")
    path.write_text("sentence\tlabel\ngood\t1\n")
    with pytest.raises(DataError, match=r"train\.tsv:2: no column 'text'"):
        labelled_text(path)
    jsonl = tmp_path / "x.jsonl"
    jsonl.write_text('{"text": "a", "label": 1}\n{broken\n')
    with pytest.raises(DataError, match=r"x\.jsonl:2: not valid JSON"):
        labelled_text(jsonl)
    with pytest.raises(ValueError, match="cannot tell the format"):
        labelled_text(tmp_path / "data.parquet")


def test_hugging_face_csv_builder(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\ngood,1\nbad,0\n")
    dataset, labels = labelled_text_from_hf(
        "csv", "text", "label", data_files=str(path)
    )
    assert labels == ["0", "1"] and _rows(dataset) == [("good", 1), ("bad", 0)]


def test_integer_labels_sort_numerically(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text(
        "sentence\tlabel\n" + "".join(f"s{v}\t{v}\n" for v in (0, 1, 2, 10, 3))
    )
    dataset, labels = labelled_text(path, "sentence", "label")
    assert labels == ["0", "1", "2", "3", "10"]
    assert [y for _, y in _rows(dataset)] == [0, 1, 2, 4, 3]


def test_a_missing_split_is_its_own_error(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\ngood,1\nbad,0\n")
    files = {"train": str(path), "test": str(path)}
    dataset, _ = labelled_text_from_hf(
        "csv", "text", "label", split="test", data_files=files
    )
    assert _rows(dataset) == [("good", 1), ("bad", 0)]
    with pytest.raises(MissingSplitError, match=r"no split 'validation'; the splits"):
        labelled_text_from_hf(
            "csv", "text", "label", split="validation", data_files=files
        )
    # A slice is passed through to datasets.
    dataset, labels = labelled_text_from_hf(
        "csv", "text", "label", split="train[:1]", data_files=files
    )
    assert labels == ["1"] and _rows(dataset) == [("good", 0)]
