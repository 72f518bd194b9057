"""serving.show_examples: examples through an export, a line per example."""

import numpy as np
import pytest
import tensorflow as tf

from seq2seq import serving
from seq2seq.models import TextClassifier
from seq2seq.text import SentencePieceTokenizer


@pytest.mark.parametrize(
    "outputs, text, line",
    [
        (
            {"translations": np.array([b"2020-05-05"])},
            "5 May 2020",
            "5 May 2020  ->  2020-05-05",
        ),
        (
            {
                "tags": np.array([[b"B-PER", b"I-PER", b"O", b"B-LOC", b""]]),
                "lengths": np.array([4]),
            },
            "Peter Blackburn visits Bonn",
            "Peter/B-PER Blackburn/I-PER visits Bonn/B-LOC",
        ),
        (
            {
                "labels": np.array([b"positive"]),
                "probabilities": np.array([[0.125, 0.875]]),
            },
            "x" * 150,
            "positive 0.875  " + "x" * 100,
        ),
    ],
)
def test_each_head_has_its_line(outputs, text, line):
    assert serving._describe(text, outputs, 0) == line


def test_show_examples_runs_the_export(spm_model, tmp_path, capsys):
    tokenizer = SentencePieceTokenizer(spm_model)
    model = TextClassifier(tokenizer.vocabulary_size(), num_classes=2, units=4)
    path = serving.export_classifier(
        model, tokenizer, tmp_path / "export", ["negative", "positive"], 8
    )
    texts = ["the cat sat", "a dog ran in the park"]
    lines = serving.show_examples(path, ["", *texts, ""], defaults=["unused"])
    probabilities = tf.nn.softmax(
        model(serving.source_ids(tokenizer, tf.constant(texts), 8)[0])
    ).numpy()
    names = np.array(["negative", "positive"])[probabilities.argmax(-1)]
    assert lines == [
        f"{name} {p.max():.3f}  {text}"
        for name, p, text in zip(names, probabilities, texts, strict=True)
    ]
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"exported to {path}; through the export:"] + [
        f"  {line}" for line in lines
    ]
    assert serving.show_examples(path, [""], defaults=["a cat"])[0].endswith("a cat")
