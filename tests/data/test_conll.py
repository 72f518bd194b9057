"""CoNLL files and tag schemes: conversions, brute force, and errors."""

import itertools

import pytest

from seq2seq.data import DataError, conll_dataset, read_conll
from seq2seq.tagging_schemes import convert_tags, spans_to_tags, tags_to_spans

# One sentence in each scheme: "Hans Peter | Müller lives in New York ."
# (two adjacent PER entities, then a LOC).
IOB1 = ["I-PER", "I-PER", "B-PER", "O", "O", "I-LOC", "I-LOC", "O"]
IOB2 = ["B-PER", "I-PER", "B-PER", "O", "O", "B-LOC", "I-LOC", "O"]
IOBES = ["B-PER", "E-PER", "S-PER", "O", "O", "B-LOC", "E-LOC", "O"]
SPANS = [("PER", 0, 2), ("PER", 2, 3), ("LOC", 5, 7)]
BY_SCHEME = {"iob1": IOB1, "iob2": IOB2, "iobes": IOBES}


@pytest.mark.parametrize("source, target", itertools.product(BY_SCHEME, BY_SCHEME))
def test_conversions_between_schemes(source, target):
    assert tags_to_spans(BY_SCHEME[source], source) == SPANS
    assert convert_tags(BY_SCHEME[source], source, target) == BY_SCHEME[target]


def _all_span_sets(length, kinds=("A", "B")):
    """Every set of non-overlapping typed spans over `length` tokens."""
    if length == 0:
        yield []
        return
    for rest in _all_span_sets(length - 1, kinds):  # token 0 outside any span
        yield [(k, s + 1, e + 1) for k, s, e in rest]
    for size in range(1, length + 1):
        for kind in kinds:
            for rest in _all_span_sets(length - size, kinds):
                yield [(kind, 0, size)] + [(k, s + size, e + size) for k, s, e in rest]


@pytest.mark.parametrize("scheme", sorted(BY_SCHEME))
def test_every_span_set_round_trips_through_every_scheme(scheme):
    count = 0
    for length in range(6):
        for spans in _all_span_sets(length):
            tags = spans_to_tags(spans, length, scheme)
            assert tags_to_spans(tags, scheme) == spans
            for other in BY_SCHEME:
                assert convert_tags(tags, scheme, other) == spans_to_tags(
                    spans, length, other
                )
            count += 1
    assert count == 1 + 3 + 11 + 41 + 153 + 571  # sum over lengths 0..5


@pytest.mark.parametrize(
    "tags, scheme, problem",
    [
        (["X-PER"], "iob2", "fits no IOB2 tag"),
        (["B-"], "iob1", "fits no IOB1 tag"),
        (["S-PER"], "iob2", "fits no IOB2 tag"),
        (["O", "I-PER"], "iob2", "does not continue"),
        (["B-PER", "I-LOC"], "iobes", "unclosed PER"),
        (["O", "E-LOC"], "iobes", "does not continue"),
        (["B-PER"], "iobes", "not closed"),
        (["B-PER", "O"], "iobes", "unclosed PER"),
        (["B-PER", "B-LOC", "E-LOC"], "iobes", "unclosed PER"),
        (["B-PER", "I-PER", "O"], "iobes", "unclosed PER"),
    ],
)
def test_tags_that_fit_no_scheme_raise(tags, scheme, problem):
    with pytest.raises(ValueError, match=problem):
        tags_to_spans(tags, scheme)


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
