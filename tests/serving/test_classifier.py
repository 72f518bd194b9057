"""The classifier export: a fresh process, saved_model_cli, bad inputs."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from seq2seq import serving
from seq2seq.models import TextClassifier
from seq2seq.text import SentencePieceTokenizer, clean_text
from tests.serving.fresh_process import serve_in_fresh_process

TEXTS = [
    "the cat sat on the mat",
    "",
    "a dog ran in the park " * 220,  # about 5,000 characters
    "日本語 ÆØÅ ẞ",  # characters never seen in training
    "two men<br /><br />play   football ",
]
INVALID_UTF8 = b"\xff\xfe\xfd a man \xc3"
LABELS = ["negative", "neutral", "positive"]
MAX_LENGTH = 40


@pytest.fixture(scope="module")
def exported(spm_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    model_copy = folder / "tiny.model"
    shutil.copy(spm_model, model_copy)
    tokenizer = SentencePieceTokenizer(model_copy)
    model = TextClassifier(
        tokenizer.vocabulary_size(),
        num_classes=3,
        embedding_size=8,
        units=8,
        pooling="attention",
    )
    path = serving.export_classifier(
        model, tokenizer, folder / "saved", LABELS, max_length=MAX_LENGTH
    )
    model_copy.unlink()  # the export must not need the tokenizer file
    return model, tokenizer, path


def _in_process(model, tokenizer, texts):
    text = clean_text(tf.constant(texts, tf.string))
    ids, _ = serving.source_ids(tokenizer, text, MAX_LENGTH)
    return model.probabilities(ids).numpy()


def test_export_runs_in_a_fresh_process_without_seq2seq(exported):
    model, tokenizer, path = exported
    texts = [*TEXTS, INVALID_UTF8]
    full, pair, empty = serve_in_fresh_process(path, [texts, texts[:2], []])
    assert empty["probabilities"] == empty["labels"] == empty["truncated"] == []
    assert empty["dtypes"]["probabilities"] == "float32"
    probabilities = np.array(full["probabilities"])
    assert probabilities.shape == (6, 3)
    assert full["dtypes"]["probabilities"] == "float32"
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    assert full["labels"] == [LABELS[i] for i in probabilities.argmax(axis=1)]
    assert full["truncated"] == [False, False, True, False, False, False]
    expected = _in_process(
        model, tokenizer, [t.encode() for t in TEXTS] + [INVALID_UTF8]
    )
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    np.testing.assert_allclose(pair["probabilities"], expected[:2], atol=1e-5)


def test_cleaning_makes_html_breaks_and_spaces_irrelevant(exported):
    model, tokenizer, _ = exported
    tidy, messy = _in_process(
        model, tokenizer, ["two men play football", " two men<BR/>play\tfootball "]
    )
    np.testing.assert_allclose(tidy, messy, rtol=1e-6)


def test_label_names_must_match_the_classes(exported, tmp_path):
    model, tokenizer, _ = exported
    with pytest.raises(ValueError, match="label_names must name each of the model's 3"):
        serving.export_classifier(model, tokenizer, tmp_path / "x", ["a", "b"])
