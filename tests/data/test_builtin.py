"""The built-in corpora as files, bucket boundaries, and the validation carve."""

import json
import types

import numpy as np
import pytest
import tensorflow as tf

from seq2seq.data import (
    builtin,
    classification,
    covering_boundaries,
    length_boundaries,
    read_conll,
    read_lines,
    synthetic,
)


def test_date_corpus_files_hold_the_seeded_splits(tmp_path):
    paths = builtin.write_date_corpus(tmp_path / "data", 30, 7, seed=2)
    assert list(paths) == ["train", "valid", "test"]
    for offset, (name, size) in enumerate((("train", 30), ("valid", 7), ("test", 7))):
        pairs = synthetic.date_pairs(size, seed=2 * 10 + offset)
        sources, targets = (read_lines(path) for path in paths[name])
        assert list(zip(sources, targets, strict=True)) == pairs
    assert read_lines(paths["valid"][0]) != read_lines(paths["test"][0])


def test_write_for_takes_the_folder_sizes_and_seed_from_a_recipes_config(tmp_path):
    config = types.SimpleNamespace(
        output_dir=str(tmp_path / "run"),
        synthetic_examples=30,
        synthetic_eval_examples=7,
        seed=2,
    )
    paths = builtin.write_for(builtin.write_date_corpus, config)
    assert paths["test"] == tuple(
        str(tmp_path / "run/data" / f"test.{s}") for s in ("src", "tgt")
    )
    again = builtin.write_date_corpus(tmp_path / "again", 30, 7, seed=2)
    for name in builtin.SPLITS:
        for path, expected in zip(paths[name], again[name], strict=True):
            assert read_lines(path) == read_lines(expected)


def test_ner_corpus_is_conll_with_names_held_out_of_train(tmp_path):
    paths = builtin.write_ner_corpus(tmp_path, 20, 5, seed=1)
    for offset, name in enumerate(builtin.SPLITS):
        expected = synthetic.ner_sentences(
            20 if name == "train" else 5, seed=10 + offset, held_out_names=offset > 0
        )
        sentences = read_conll(paths[name], "iob2")
        assert [(s.tokens, s.tags) for s in sentences] == [
            (list(tokens), list(tags)) for tokens, tags in expected
        ]


def test_sentiment_corpus_names_its_labels(tmp_path):
    paths = builtin.write_sentiment_corpus(tmp_path, 12, 2, seed=0)
    records = [json.loads(line) for line in read_lines(paths["train"])]
    expected = synthetic.sentiment_reviews(12, 0)
    assert [(r["text"], r["label"]) for r in records] == [
        (text, synthetic.SENTIMENT_LABELS[label]) for text, label in expected
    ]
    assert len(read_lines(paths["test"])) == 2


def _old_translation_boundaries(max_length):
    """The translate recipe's arithmetic before it moved to the library."""
    bounds = [b for b in (16, 32, 64, 128, 256) if b <= max_length + 1]
    return sorted({*bounds, max_length + 1})


def _old_tagging_boundaries(longest):
    """The NER recipe's arithmetic before it moved to the library."""
    bounds = [16, 32, 64, 128]
    while bounds[-1] <= longest:
        bounds.append(bounds[-1] * 2)
    return bounds


def test_boundaries_equal_the_recipes_former_arithmetic():
    for max_length in range(1, 1100):
        assert length_boundaries(
            max_length, smallest=16, largest=256
        ) == _old_translation_boundaries(max_length), max_length
    for longest in range(0, 1100):
        assert covering_boundaries(longest) == _old_tagging_boundaries(longest)


def test_boundaries_fit_every_length_they_promise():
    for max_length in (1, 7, 8, 100, 511, 512):
        bounds = length_boundaries(max_length)
        assert bounds == sorted(set(bounds)) and bounds[-1] == max_length + 1
        assert all(b <= max_length for b in bounds[:-1])
    for longest in (0, 127, 128, 1000):
        assert covering_boundaries(longest)[-1] > longest


def test_carve_without_overlap_removes_exactly_the_shared_texts():
    texts = [f"t{i % 30}" for i in range(60)]  # every text twice
    texts += [f"u{i}" for i in range(40)]
    labels = np.arange(100) % 2
    train, valid, report = classification.carve_validation_without_overlap(
        (texts, labels), 0.2, seed=4
    )
    (carved_train, _), (carved, carved_y) = classification.carve_validation(
        texts, labels, 0.2, seed=4
    )
    assert list(train[0]) == list(carved_train)  # train is the carve's train
    seen = set(carved_train)
    kept = [i for i, text in enumerate(carved) if text not in seen]
    assert list(valid[0]) == [carved[i] for i in kept]
    assert list(valid[1]) == [carved_y[i] for i in kept]
    removed = len(carved) - len(kept)
    assert 0 < removed < len(carved)
    assert report == (
        f"no validation set given: carved a seeded 20% of train (seed 4): "
        f"{len(carved)} examples, {len(carved_train)} left to train on; {removed} "
        "of the carved texts also occur verbatim in the rest of train, removed "
        "from validation"
    )
    train, valid, report = classification.carve_validation_without_overlap(
        (texts, labels), 0.2, seed=4, keep_overlap=True
    )
    assert list(valid[0]) == list(carved) and report.endswith(", kept")


def test_labelled_arrays_clean_the_texts():
    dataset = tf.data.Dataset.from_tensor_slices(
        ([b"Fun!<br />Yes \xff", b"  a  b "], [1, 0])
    )
    texts, labels = classification.labelled_arrays(dataset, batch_size=1)
    assert texts.tolist() == [b"Fun! Yes \xef\xbf\xbd", b"a b"]
    assert labels.dtype == np.int32 and labels.tolist() == [1, 0]


def test_batches_from_arrays_equal_batches_from_a_dataset(spm_model):
    from seq2seq.text import SentencePieceTokenizer

    tokenizer = SentencePieceTokenizer(spm_model)
    texts = np.array([b"the cat sat", b"a dog ran in the park", b"two men"], object)
    labels = np.array([1, 0, 1], np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((list(texts), labels))
    from_arrays, *_ = classification.classification_batches((texts, labels), tokenizer)
    from_dataset, *_ = classification.classification_batches(dataset, tokenizer)
    for (a_ids, a_y), (b_ids, b_y) in zip(from_arrays, from_dataset, strict=True):
        np.testing.assert_array_equal(a_ids, b_ids)
        np.testing.assert_array_equal(a_y, b_y)


@pytest.mark.parametrize("labels", [[0, 1, 1, 1], [2, 2]])
def test_label_counts(labels):
    names = ["neg", "pos", "mixed"]
    counts = [labels.count(i) for i in range(3)]
    assert classification.label_counts(labels, names) == (
        f"labels {names}; train {len(labels)} examples, counts {counts}"
    )
