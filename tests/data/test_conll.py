"""CoNLL files: reading, converting to the model's scheme, and errors."""

import pytest

from seq2seq.data import DataError, conll_dataset, read_conll

CONLL = """-DOCSTART- -X- -X- O

Hans NNP B-NP I-PER
Peter NNP I-NP I-PER
Müller NNP I-NP B-PER
lives VBZ B-VP O

-DOCSTART- -X- -X- O

in IN B-PP O
New NNP B-NP I-LOC
York NNP I-NP I-LOC
"""


def test_read_conll_skips_docstart_and_converts(tmp_path):
    path = tmp_path / "eng.train"
    path.write_text(CONLL, encoding="utf-8")
    sentences = read_conll(path, scheme="iob1", convert_to="iob2")
    assert [s.tokens for s in sentences] == [
        ["Hans", "Peter", "Müller", "lives"],
        ["in", "New", "York"],
    ]
    assert [s.tags for s in sentences] == [
        ["B-PER", "I-PER", "B-PER", "O"],
        ["O", "B-LOC", "I-LOC"],
    ]
    chunks = read_conll(path, scheme="iob1", tag_column=2)
    assert chunks[0].tags == ["B-NP", "I-NP", "I-NP", "B-VP"]
    tokens, tags = next(iter(conll_dataset(sentences)))
    assert tokens.numpy().tolist() == [b"Hans", b"Peter", "Müller".encode(), b"lives"]
    assert tags.numpy().tolist() == [b"B-PER", b"I-PER", b"B-PER", b"O"]


def test_conll_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("EU NNP I-ORG\nrejects VBZ\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.txt:2: expected 3 columns .* found 2"):
        read_conll(path, scheme="iob1")
    path.write_text("EU NNP B-ORG\n\nrejects VBZ Q-ORG\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.txt:3: position 0: tag 'Q-ORG' fits no"):
        read_conll(path, scheme="iob2")
    path.write_text("EU NNP O\ncalls VBZ I-ORG\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.txt:2: .*does not continue"):
        read_conll(path, scheme="iob2")
    path.write_text("EU NNP O\nBerlin NNP B-LOC\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.txt:2: .*not closed"):
        read_conll(path, scheme="iobes")
    path.write_text("-DOCSTART- -X- O\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="no sentences"):
        read_conll(path)
    path.write_text("EU NNP O\n", encoding="utf-8")
    with pytest.raises(DataError, match="tag_column=5"):
        read_conll(path, tag_column=5)
    with pytest.raises(ValueError, match="scheme must be one of"):
        read_conll(path, scheme="bio")


def test_conll_from_hf_reads_string_and_class_label_tags(tmp_path):
    import datasets

    from seq2seq.data import conll_from_hf

    rows = {
        "tokens": [["-DOCSTART-"], ["EU", "rejects", "German", "call"], ["Bonn"]],
        "ner_tags": [["O"], ["B-ORG", "O", "B-MISC", "O"], ["B-LOC"]],
    }
    jsonl = tmp_path / "train.jsonl"
    datasets.Dataset.from_dict(rows).to_json(jsonl)
    sentences = conll_from_hf("json", data_files=str(jsonl), convert_to="iobes")
    assert [s.tokens for s in sentences] == rows["tokens"][1:]  # DOCSTART skipped
    assert sentences[0].tags == ["S-ORG", "O", "S-MISC", "O"]

    names = ["O", "B-ORG", "I-ORG", "B-MISC", "B-LOC"]
    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names)),
        }
    )
    ids = [[names.index(t) for t in tags] for tags in rows["ner_tags"]]
    parquet = tmp_path / "train.parquet"
    datasets.Dataset.from_dict(
        {"tokens": rows["tokens"], "ner_tags": ids}, features=features
    ).to_parquet(parquet)
    from_ids = conll_from_hf("parquet", data_files=str(parquet))
    assert [s.tags for s in from_ids] == rows["ner_tags"][1:]

    with pytest.raises(DataError, match="no column 'labels'"):
        conll_from_hf("json", data_files=str(jsonl), tags_column="labels")
