"""Language-model data: files read loudly, windows that drop nothing."""

import json

import numpy as np
import pytest

from seq2seq.data import DataError, builtin, synthetic
from seq2seq.data import language_model as lm_data


def test_text_files_skip_and_count_blank_lines(tmp_path, capsys):
    path = tmp_path / "corpus.txt"
    path.write_text("a  good film\n\n   \nthe end<br />now\n")
    texts, labels, names = lm_data.read_texts(path)
    assert texts == ["a good film", "the end now"] and labels is names is None
    assert "skipped 2 blank lines" in capsys.readouterr().out


def test_conll_sentences_and_labelled_jsonl(tmp_path):
    conll = tmp_path / "eng.train"
    conll.write_text(
        "-DOCSTART- -X- O O\n\nEU NNP I-ORG\nrejects VBZ O\n\nPeter B-PER\n"
    )
    assert lm_data.read_texts(conll, format="conll")[0] == ["EU rejects", "Peter"]
    jsonl = tmp_path / "train.jsonl"
    rows = [{"text": "fine", "label": "pos"}, {"text": "bad", "label": "neg"}]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    texts, labels, names = lm_data.read_texts(jsonl, label_column="label")
    assert texts == ["fine", "bad"] and names == ["neg", "pos"]
    assert labels.tolist() == [1, 0]
    with pytest.raises(DataError, match=r"train.jsonl:1: no column 'body'"):
        lm_data.read_texts(jsonl, text_column="body")
    with pytest.raises(DataError, match=r"eng.train: .*cannot tell the format"):
        lm_data.read_texts(conll)
    with pytest.raises(DataError, match=r"format must be one of .* Received: 'xml'"):
        lm_data.read_texts(conll, format="xml")


def test_windows_make_every_piece_a_target_once():
    pieces = [[5, 6, 7, 8, 9], [4], []]
    inputs, targets, labels = lm_data.windows(pieces, 2, 3, 3, labels=[1, 0, 1])
    assert inputs == [[2, 5, 6], [7, 8, 9], [2, 4], [2]]
    assert targets == [[5, 6, 7], [8, 9, 3], [4, 3], [3]]
    assert labels == [1, 1, 0, 1]
    flat = [t for window in targets for t in window]
    assert len(flat) == sum(len(p) + 1 for p in pieces)
    assert all(len(x) <= 3 for x in inputs)


def test_batches_pad_with_zero_and_carry_labels():
    pieces = [[5, 6, 7], [4, 4], [9]]
    batches, count = lm_data.language_model_batches(
        pieces, 2, 3, max_length=8, batch_size=4, labels=[0, 1, 1]
    )
    ((ids, label), targets), *rest = list(batches)
    assert count == 3 and not rest
    assert ids.shape == targets.shape and sorted(label.numpy()) == [0, 1, 1]
    assert np.all((ids.numpy() == 0) == (targets.numpy() == 0))


def test_builtin_text_corpus_is_the_reviews_text(tmp_path):
    paths = builtin.write_text_corpus(tmp_path, 12, 3, seed=1)
    lines = (tmp_path / "train.txt").read_text().splitlines()
    assert lines == [text for text, _ in synthetic.sentiment_reviews(12, 10)]
    assert set(paths) == {"train", "valid", "test"}


def test_load_splits_carves_validation_with_labels(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text(
        "text\tlabel\n" + "".join(f"text {i}\t{i % 2}\n" for i in range(40))
    )
    (train, valid, names) = lm_data.load_splits(
        str(path), label_column="label", valid_fraction=0.25
    )
    assert names == ["0", "1"] and len(train[0]) == 30 and len(valid[0]) == 10
    assert all(int(t.split()[1]) % 2 == y for t, y in zip(*valid, strict=True))
