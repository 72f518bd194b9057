"""The judge of generation control: a classifier export labels a conditioned
language model's samples; the agreement is recounted by brute force."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from seq2seq import evaluation, serving
from seq2seq.data.files import DataError
from seq2seq.models import LanguageModel, TextClassifier
from seq2seq.text import SentencePieceTokenizer
from tests.conftest import ROOT

NAMES = ["negative", "positive"]


@pytest.fixture(scope="module")
def judged(spm_model, tmp_path_factory):
    """A tiny conditioned LM, a tiny classifier export, and 16 samples per label."""
    folder = tmp_path_factory.mktemp("judge")
    shutil.copy(spm_model, folder / "tiny.model")
    tokenizer = SentencePieceTokenizer(folder / "tiny.model")
    classifier = TextClassifier(
        tokenizer.vocabulary_size(), num_classes=2, embedding_size=8, units=8
    )
    # The classifier names its labels in the other order than the language
    # model: the judge must map them by name, not by id.
    path = serving.export_classifier(
        classifier, tokenizer, folder / "export", NAMES[::-1], max_length=16
    )
    model = LanguageModel(
        tokenizer.vocabulary_size(), embedding_size=8, units=8, num_layers=1,
        num_conditions=2,
    )  # fmt: skip
    model((np.array([[tokenizer.bos_id]]), np.array([0])))
    samples = evaluation.sample_texts(
        model, tokenizer, NAMES, 16, 8, seed=5, temperature=1.0, top_p=1.0
    )
    judge = evaluation.load_judge(path, NAMES)
    return path, samples, evaluation.generation_agreement(judge, samples)


def test_agreement_equals_a_recount_one_text_at_a_time(judged):
    path, samples, scores = judged
    assert list(samples) == NAMES
    assert [len(texts) for texts in samples.values()] == [16, 16]
    assert len(set(samples["negative"] + samples["positive"])) > 16  # sampled
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    total = 0
    for label, texts in samples.items():
        agreed = 0
        for text in texts:  # the brute force: one call per text
            given = serve(text=tf.constant([text]))["labels"][0].numpy().decode()
            agreed += given == label
        assert scores["agreed"][label] == agreed
        assert scores["agreement"][label] == pytest.approx(agreed / len(texts))
        total += agreed
    assert scores["overall"] == pytest.approx(total / 32)
    # An untrained classifier splits these samples: the recount is not trivial.
    assert 0 < total < 32
    assert scores["samples_per_label"] == {"negative": 16, "positive": 16}
    assert scores["examples"]["positive"][0]["text"] == samples["positive"][0]
    lines = evaluation.describe_agreement(scores).splitlines()
    assert lines[0].endswith(f"{total / 32:.1%} of 32 samples")
    assert lines[1] == (
        f"  negative: {scores['agreement']['negative']:.1%} "
        f"({scores['agreed']['negative']}/16)"
    )


def test_a_label_the_classifier_does_not_know_is_an_error(judged):
    path = judged[0]
    with pytest.raises(DataError) as error:
        evaluation.load_judge(path, ["negative", "good"])
    assert str(error.value) == (
        f"--judge {path}: the classifier's labels are ['positive', 'negative']; "
        "the language model's labels ['good'] are not among them (labels are "
        "matched by name: give recipes/sentiment.py --label-names to rename)"
    )
    with pytest.raises(DataError, match="not conditioned on a label"):
        evaluation.load_judge(path, None)


def test_recipe_rejects_a_bad_judge_before_training(tmp_path):
    run = subprocess.run(
        [
            sys.executable, "recipes/language_model.py", "--label-column", "label",
            "--judge", str(tmp_path / "missing"), "--output-dir", str(tmp_path),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"error: --judge {tmp_path / 'missing'}: not a SavedModel"
    )
    assert not (tmp_path / "language_model.keras").exists()
