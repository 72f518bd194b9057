"""tokenizers/train_sentencepiece.py: files, options and its report."""

import json

import pytest
import sentencepiece

from tests.conftest import SENTENCES


@pytest.fixture
def train_sentencepiece(load_recipe):
    return load_recipe("tokenizers/train_sentencepiece.py")


def test_joint_bpe_model_with_user_symbols(train_sentencepiece, tmp_path, capsys):
    english = tmp_path / "train.en"
    german = tmp_path / "train.de"
    long_line = " ".join(["the long review"] * 400)  # over 4192 bytes
    english.write_text("\n".join(SENTENCES * 5 + ["", long_line]))
    german.write_text("\n".join(["ein mann spielt fußball", "zwei hunde im park"] * 15))
    prefix = tmp_path / "out" / "joint"
    train_sentencepiece.main(
        [
            "--input",
            str(english),
            str(german),
            "--vocab-size",
            "60",
            "--model-prefix",
            str(prefix),
            "--model-type",
            "bpe",
            "--user-defined-symbols",
            "<sep>",
        ]
    )
    report = capsys.readouterr().out
    assert (tmp_path / "out" / "joint.model").is_file()
    assert (tmp_path / "out" / "joint.vocab").is_file()
    processor = sentencepiece.SentencePieceProcessor(model_file=f"{prefix}.model")
    assert [processor.id_to_piece(i) for i in range(4)] == [
        "<pad>",
        "<unk>",
        "<s>",
        "</s>",
    ]
    assert "<sep>" in processor.encode("a man <sep> ein mann", out_type=str)
    # Joint: both languages' characters are covered.
    assert processor.unk_id() not in processor.encode("fußball")
    assert "skipped 1 empty line(s)" in report
    pieces = [
        len(p)
        for p in processor.encode(
            SENTENCES * 5
            + [long_line]
            + ["ein mann spielt fußball", "zwei hunde im park"] * 15
        )
    ]
    assert f"vocabulary size: {processor.get_piece_size()}" in report
    # The long line was trained on, not skipped: its words are whole pieces.
    assert processor.encode("review", out_type=str) == ["▁review"]
    assert f"({len(pieces)} sentences): mean {sum(pieces) / len(pieces):.1f}" in report


def test_hugging_face_column_input(train_sentencepiece, tmp_path, capsys):
    rows = tmp_path / "train.jsonl"
    rows.write_text(
        "\n".join(json.dumps({"translation": {"en": s}}) for s in SENTENCES * 5)
    )
    prefix = tmp_path / "hf"
    train_sentencepiece.main(
        [
            "--dataset",
            "json",
            "--data-files",
            str(rows),
            "--column",
            "translation.en",
            "--vocab-size",
            "40",
            "--model-prefix",
            str(prefix),
        ]
    )
    processor = sentencepiece.SentencePieceProcessor(model_file=f"{prefix}.model")
    assert processor.decode(processor.encode(SENTENCES[0])) == SENTENCES[0]
    assert "(30 sentences)" in capsys.readouterr().out


def test_needs_exactly_one_input_kind(train_sentencepiece, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_sentencepiece.main(
            ["--vocab-size", "10", "--model-prefix", str(tmp_path / "x")]
        )
    assert exit_info.value.code == 2  # a usage error, not a crash
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error: give either --input FILE" in message and "--dataset" in message
    assert not list(tmp_path.iterdir())  # and nothing was written
