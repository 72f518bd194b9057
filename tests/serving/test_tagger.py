"""The tagger export: a fresh process without seq2seq, bad inputs, IOB2 out."""

import numpy as np
import pytest
import tensorflow as tf

from seq2seq import serving
from seq2seq.tagging_schemes import iob2_names, tags_to_spans
from tests.serving.fresh_process import serve_in_fresh_process
from tests.serving.tiny_models import tiny_tagger

TRAIN = [["EU", "rejects", "German", "call"], ["Peter", "Blackburn", "visits", "Bonn"]]
TAGS = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
SENTENCES = [
    "Peter Blackburn visits Bonn",
    "",
    "   ",
    " ".join(["word"] * 1000),  # 1,000 tokens
    "日本語 ÆØÅ Zyxwv",  # words and characters never seen
]
INVALID_UTF8 = b"\xff\xfe Bonn \xc3"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    features, model = tiny_tagger(TRAIN, TAGS)
    path = tmp_path_factory.mktemp("tagger") / "export"
    iob2 = iob2_names(TAGS, "iobes")
    serving.export_tagger(model, features, iob2, path)
    return path, model, features, iob2


def in_process_tags(model, features, iob2, sentences):
    words = [s.split() for s in sentences]
    ids = model.predict_tags(features(tf.ragged.constant(words, dtype=tf.string)))
    return [
        [iob2[t] for t in row[: len(w)]]
        for row, w in zip(ids.numpy(), words, strict=True)
    ]


def test_iob2_names_map_iobes_tag_by_tag():
    assert iob2_names(["O", "B-X", "I-X", "E-X", "S-X"], "iobes") == [
        "O",
        "B-X",
        "I-X",
        "I-X",
        "B-X",
    ]
    with pytest.raises(ValueError, match="scheme must be"):
        iob2_names(["O"], "iob1")


def test_export_runs_in_a_fresh_process_without_seq2seq(exported):
    path, model, features, iob2 = exported
    texts = [*SENTENCES, INVALID_UTF8]
    # A tagger's export needs TensorFlow alone, not even tensorflow_text.
    full, single, empty = serve_in_fresh_process(
        path, [texts, texts[:1], []], text_ops=False
    )

    lengths = [len(s.split()) for s in SENTENCES] + [3]  # the invalid bytes: 3 words
    assert full["lengths"] == lengths
    assert all(len(row) == max(lengths) for row in full["tags"])
    for row, length in zip(full["tags"], lengths, strict=True):
        assert all(tag == "" for tag in row[length:])
        tags_to_spans(row[:length], "iob2")  # valid IOB2, whatever the input
    expected = in_process_tags(model, features, iob2, SENTENCES)
    rows = full["tags"][: len(SENTENCES)]
    for row, want, length in zip(rows, expected, lengths[:-1], strict=True):
        assert row[:length] == want
    assert single["tags"][0][: lengths[0]] == full["tags"][0][: lengths[0]]
    assert empty["tags"] == empty["lengths"] == []


def test_padding_words_do_not_change_the_tags(exported):
    path, model, features, iob2 = exported
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    alone = serve(text=tf.constant([SENTENCES[0]]))["tags"].numpy()[0]
    together = serve(text=tf.constant([SENTENCES[0], SENTENCES[3]]))["tags"].numpy()
    np.testing.assert_array_equal(together[0, : len(alone)], alone)
