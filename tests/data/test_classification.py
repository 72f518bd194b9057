"""Classification batches, truncation counts, the carve, clean-up, the corpus."""

import numpy as np
import pytest
import tensorflow as tf

from seq2seq.data import classification, synthetic
from seq2seq.text import SentencePieceTokenizer, clean_text


def test_batches_truncate_count_and_drop_empty_texts(spm_model):
    tokenizer = SentencePieceTokenizer(spm_model)
    texts = ["the cat sat on the mat " * 5, "a dog", "", "the cat"]
    dataset = tf.data.Dataset.from_tensor_slices((texts, [1, 0, 1, 0]))
    batches, truncation, empty = classification.classification_batches(
        dataset, tokenizer, max_length=10, batch_size=8
    )
    seen = [(ids.numpy(), labels.numpy()) for ids, labels in batches]
    rows = sorted(
        (int(y), int((ids != 0).sum()))
        for b, ys in seen
        for ids, y in zip(b, ys, strict=True)
    )
    assert [label for label, _ in rows] == [0, 0, 1]  # the empty text is gone
    assert max(length for _, length in rows) == 10
    assert all(b.shape[1] in (7, 10) for b, _ in seen)  # bucket bounds - 1
    assert truncation.report() == (
        "examples: truncated 1 of 4 (25.0%) to their first 10 pieces"
    )
    assert "kept 3, dropped 1" in empty.report()


def test_length_boundaries():
    assert classification.length_boundaries(100) == [8, 16, 32, 64, 101]
    assert classification.length_boundaries(64) == [8, 16, 32, 64, 65]


def test_carve_is_seeded_disjoint_and_keeps_file_order():
    texts, labels = [f"t{i}" for i in range(20)], np.arange(20) % 2
    (train, train_y), (valid, valid_y) = classification.carve_validation(
        texts, labels, 0.25, seed=3
    )
    again = classification.carve_validation(texts, labels, 0.25, seed=3)[1][0]
    assert len(valid) == 5 and list(valid) == list(again)
    assert sorted([*train, *valid]) == sorted(texts) and not set(train) & set(valid)
    assert list(train) == sorted(train, key=lambda t: int(t[1:]))
    assert [int(t[1:]) % 2 for t in valid] == list(valid_y)
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\)"):
        classification.carve_validation(texts, labels, 1.0)


def test_clean_text():
    cleaned = clean_text(tf.constant([b"Fun!<br /><br />Yes \xff\t ", b"", b"a <BR>b"]))
    assert cleaned.numpy().tolist() == [b"Fun! Yes \xef\xbf\xbd", b"", b"a b"]


def test_sentiment_reviews_are_seeded_and_balanced():
    reviews = synthetic.sentiment_reviews(400, seed=5)
    assert reviews == synthetic.sentiment_reviews(400, seed=5)
    assert reviews != synthetic.sentiment_reviews(400, seed=6)
    labels = [label for _, label in reviews]
    assert 0.4 < np.mean(labels) < 0.6
    assert any(" not " in text for text, _ in reviews)
    assert any(", but " in text for text, _ in reviews)


def test_full_batches_only_leaves_out_partial_batches(spm_model):
    tokenizer = SentencePieceTokenizer(spm_model)
    dataset = tf.data.Dataset.from_tensor_slices((["a dog"] * 7, [1] * 7))
    batches, _, _ = classification.classification_batches(
        dataset, tokenizer, max_length=10, batch_size=3, full_batches_only=True
    )
    assert [int(ids.shape[0]) for ids, _ in batches] == [3, 3]
