"""The language-model export: complete and next_words in a fresh process."""

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from seq2seq import decoding, serving
from seq2seq.models import LanguageModel
from seq2seq.text import SentencePieceTokenizer

LABELS = ["negative", "positive"]
MAX_PREFIX = 12
K = 3
PREFIXES = ["the cat sat", "", "a dog ran in the park " * 40, "日本語 ÆØÅ"]
INVALID_UTF8 = b"\xff\xfe a man \xc3"

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the SentencePiece ops)
    signatures = tf.saved_model.load(sys.argv[1]).signatures
    results = []
    for name, texts, labels in json.loads(sys.argv[2]):
        inputs = {"text": tf.constant([bytes.fromhex(t) for t in texts], tf.string)}
        if labels is not None:
            inputs["label"] = tf.constant(labels, tf.string)
        outputs = signatures[name](**inputs)
        results.append({
            k: tf.nest.map_structure(
                lambda b: b.decode("utf-8", "replace"), v.numpy().tolist()
            ) if v.dtype == tf.string else v.numpy().tolist()
            for k, v in outputs.items()
        })
    loaded = sorted(m for m in sys.modules if m.split(".")[0] == "seq2seq")
    print(json.dumps({"results": results, "seq2seq": loaded}))
    """
)


def _serve(path, calls):
    encoded = [
        [
            name,
            [(t if isinstance(t, bytes) else t.encode()).hex() for t in texts],
            labels,
        ]
        for name, texts, labels in calls
    ]
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), json.dumps(encoded)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["seq2seq"] == []
    return report["results"]


@pytest.fixture(scope="module", params=["unconditioned", "conditioned"])
def exported(request, spm_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    copy = folder / "tiny.model"
    shutil.copy(spm_model, copy)
    tokenizer = SentencePieceTokenizer(copy)
    conditioned = request.param == "conditioned"
    model = LanguageModel(
        tokenizer.vocabulary_size(), embedding_size=8, units=8, num_layers=2,
        num_conditions=2 if conditioned else None, condition_every_step=conditioned,
    )  # fmt: skip
    model(
        (tf.ones([1, 1], tf.int32), tf.zeros([1], tf.int32))
        if conditioned
        else tf.ones([1, 1])
    )
    # Sharpen the output so beams differ clearly (random small weights are flat).
    model.output_projection.kernel.assign(model.output_projection.kernel * 20)
    path = serving.export_language_model(
        model, tokenizer, folder / "saved", LABELS if conditioned else None,
        num_completions=K, mode="beam", max_length=6, max_prefix_length=MAX_PREFIX,
        num_words=4, max_word_pieces=3,
    )  # fmt: skip
    copy.unlink()  # the export must not need the tokenizer file
    return model, tokenizer, path, conditioned


def _labels(conditioned, count, label="positive"):
    return [label] * count if conditioned else None


def test_complete_and_next_words_serve_without_seq2seq(exported):
    model, tokenizer, path, conditioned = exported
    texts = [*PREFIXES, INVALID_UTF8]
    labels = _labels(conditioned, len(texts))
    calls = [
        ("complete", texts, labels),
        ("complete", texts[:2], _labels(conditioned, 2)),
        ("complete", [], _labels(conditioned, 0)),
        ("next_words", texts, labels),
    ]
    if conditioned:  # an unknown label; the other label
        calls.append(("complete", ["the cat", "a dog"], ["positive", "bad"]))
        calls.append(("next_words", texts, _labels(conditioned, 5, "negative")))
    full, pair, empty, words, *more = _serve(path, calls)
    assert np.array(full["scores"]).shape == (5, K)
    assert full["truncated"] == [False, False, True, False, False]
    assert full["label_known"] == [True] * 5
    assert pair["completions"] == full["completions"][:2]
    np.testing.assert_allclose(pair["scores"], np.array(full["scores"])[:2], atol=1e-5)
    assert empty["completions"] == [] and empty["scores"] == []
    # Beams come back best first, and equal an in-process beam search.
    assert (np.diff(full["scores"], axis=1) <= 1e-6).all()
    pieces = tokenizer(["the cat sat"])
    read = np.array([[tokenizer.bos_id, *pieces[0].numpy()[:-1]]])
    condition = np.array([1]) if conditioned else None
    ids, lengths, scores = decoding.beam_search(
        model.step, model.prefix_state(read, condition), pieces[0][-1:], 3, 6, K
    )
    continuation = serving.strip_to_ragged(ids[0], lengths[0], tokenizer.eos_id)
    expected = [t.decode() for t in tokenizer.detokenize(continuation).numpy()]
    assert full["completions"][0] == expected
    np.testing.assert_allclose(full["scores"][0], scores[0], atol=1e-4)
    assert all(text.startswith("the cat sat") for text in full["texts"][0])
    probabilities = np.array(words["probabilities"])
    assert probabilities.shape == (5, 4) and len(words["words"][0]) == 4
    assert ((probabilities > 0) & (probabilities <= 1)).all()
    assert (probabilities.sum(axis=1) <= 1 + 1e-5).all()
    assert (np.diff(probabilities, axis=1) <= 1e-6).all()
    if conditioned:
        unknown, negative = more
        assert unknown["label_known"] == [True, False]
        assert np.isfinite(unknown["scores"]).all()
        assert negative["probabilities"] != words["probabilities"]


def test_label_names_must_match_the_classes(spm_model, tmp_path):
    tokenizer = SentencePieceTokenizer(spm_model)
    model = LanguageModel(tokenizer.vocabulary_size(), 8, 8, num_conditions=2)
    with pytest.raises(ValueError, match="label_names must name each of the model's 2"):
        serving.export_language_model(model, tokenizer, tmp_path / "x", ["a"])


def test_sampling_draws_different_texts_per_call(spm_model):
    tokenizer = SentencePieceTokenizer(spm_model)
    model = LanguageModel(tokenizer.vocabulary_size(), embedding_size=8, units=8)
    model(tf.ones([1, 1]))
    server = serving.LanguageModelServer(
        model, tokenizer, num_completions=4, max_length=8, top_p=0.9
    )
    complete = tf.function(lambda text: server.complete(text, tf.fill([1], "")))
    first, second = (complete(tf.constant(["a man"])) for _ in range(2))
    assert first["completions"].shape == (1, 4)
    assert (first["completions"].numpy() != second["completions"].numpy()).any()
    assert (first["scores"].numpy() <= 0).all()
    assert all(t.startswith(b"a man") for t in first["texts"].numpy()[0])
