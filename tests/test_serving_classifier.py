"""The classifier export: a fresh process, saved_model_cli, bad inputs."""

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from seq2seq import serving
from seq2seq.models import TextClassifier
from seq2seq.text import SentencePieceTokenizer, clean_text

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

SERVE = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the SentencePiece ops)
    assert "seq2seq" not in sys.modules
    serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
    texts = [t.encode() for t in json.loads(sys.argv[2])] + [bytes.fromhex(sys.argv[3])]
    results = []
    for batch in (texts, texts[:2], []):
        out = serve(text=tf.constant(batch, dtype=tf.string))
        results.append({
            "probabilities": out["probabilities"].numpy().tolist(),
            "dtype": out["probabilities"].dtype.name,
            "labels": [label.decode() for label in out["labels"].numpy()],
            "truncated": out["truncated"].numpy().tolist(),
        })
    print(json.dumps(results))
    """
)


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
    completed = subprocess.run(
        [sys.executable, "-c", SERVE, str(path), json.dumps(TEXTS), INVALID_UTF8.hex()],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    full, pair, empty = json.loads(completed.stdout.strip().splitlines()[-1])
    assert empty == {
        "probabilities": [],
        "dtype": "float32",
        "labels": [],
        "truncated": [],
    }
    probabilities = np.array(full["probabilities"])
    assert probabilities.shape == (6, 3) and full["dtype"] == "float32"
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
