"""Parallel text loaders: exact pairs and loud errors."""

import json
import logging

import pytest

from seq2seq.data import (
    DataError,
    parallel_text_files,
    parallel_text_from_hf,
    parallel_text_tsv,
)


def _pairs(dataset):
    return [(s.numpy().decode(), t.numpy().decode()) for s, t in dataset]


def _write(path, lines, encoding="utf-8"):
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def test_two_files_give_aligned_pairs(tmp_path):
    src = _write(tmp_path / "a.en", ["a man", "zwei", "ünï"])
    tgt = _write(tmp_path / "a.de", ["ein Mann", "two", "uni"])
    assert _pairs(parallel_text_files(src, tgt)) == [
        ("a man", "ein Mann"),
        ("zwei", "two"),
        ("ünï", "uni"),
    ]


def test_different_line_counts_name_both_files_and_counts(tmp_path):
    src = _write(tmp_path / "a.en", ["1", "2", "3"])
    tgt = _write(tmp_path / "a.de", ["1", "2"])
    with pytest.raises(DataError, match=r"a\.en has 3, .*a\.de has 2"):
        parallel_text_files(src, tgt)


def test_non_utf8_gives_the_line_number(tmp_path):
    src = tmp_path / "a.en"
    src.write_bytes(b"fine\nalso fine\nbad \xff byte\n")
    tgt = _write(tmp_path / "a.de", ["1", "2", "3"])
    with pytest.raises(DataError, match=r"a\.en:3: not valid UTF-8"):
        parallel_text_files(src, tgt)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.en").write_bytes(b"")
    tgt = _write(tmp_path / "a.de", ["1"])
    with pytest.raises(DataError, match=r"empty\.en: the file is empty"):
        parallel_text_files(tmp_path / "empty.en", tgt)
    with pytest.raises(DataError, match=r"missing\.en: no such file"):
        parallel_text_files(tmp_path / "missing.en", tgt)


def test_empty_lines_keep_drop_or_error(tmp_path, caplog):
    src = _write(tmp_path / "a.en", ["one", "", "three", "four"])
    tgt = _write(tmp_path / "a.de", ["eins", "zwei", " ", "vier"])
    with pytest.raises(DataError, match=r"a\.de:2: empty source line"):
        parallel_text_files(src, tgt)
    assert len(_pairs(parallel_text_files(src, tgt, empty_lines="keep"))) == 4
    with caplog.at_level(logging.WARNING, logger="seq2seq.data"):
        kept = _pairs(parallel_text_files(src, tgt, empty_lines="drop"))
    assert kept == [("one", "eins"), ("four", "vier")]
    assert "dropped 2 of 4 pairs with an empty side" in caplog.text
    with pytest.raises(ValueError, match=r"Received: empty_lines='skip'"):
        parallel_text_files(src, tgt, empty_lines="skip")


def test_tsv_by_index_and_by_header(tmp_path):
    path = _write(tmp_path / "p.tsv", ["id\tde\ten", "1\tHund\tdog", "2\tKatze\tcat"])
    assert _pairs(parallel_text_tsv(path, "en", "de", header=True)) == [
        ("dog", "Hund"),
        ("cat", "Katze"),
    ]
    plain = _write(tmp_path / "q.tsv", ["dog\tHund", "cat\tKatze"])
    assert _pairs(parallel_text_tsv(plain)) == [("dog", "Hund"), ("cat", "Katze")]
    broken = _write(tmp_path / "r.tsv", ["dog\tHund", "cat"])
    with pytest.raises(
        DataError, match=r"r\.tsv:2: expected 2 tab-separated .* found 1"
    ):
        parallel_text_tsv(broken)
    stray_tab = _write(tmp_path / "s.tsv", ["dog\tHund", "the cat\tdie\tKatze"])
    with pytest.raises(
        DataError, match=r"s\.tsv:2: expected 2 tab-separated .* found 3"
    ):
        parallel_text_tsv(stray_tab)


def test_hugging_face_builder_on_local_json_with_nested_columns(tmp_path):
    path = tmp_path / "train.jsonl"
    rows = [
        {"translation": {"en": "dog", "de": "Hund"}},
        {"translation": {"en": "cat", "de": "Katze"}},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    dataset = parallel_text_from_hf(
        "json", "translation.en", "translation.de", data_files=str(path)
    )
    assert _pairs(dataset) == [("dog", "Hund"), ("cat", "Katze")]
    with pytest.raises(DataError, match=r"no column 'translation.fr'"):
        parallel_text_from_hf(
            "json", "translation.en", "translation.fr", data_files=str(path)
        )
