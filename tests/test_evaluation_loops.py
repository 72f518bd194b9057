"""Model outputs over whole data sets (`seq2seq.evaluation`), against
one-example-at-a-time references, and the results files."""

import json

import numpy as np
import pytest
import tensorflow as tf

from seq2seq import evaluation, serving
from seq2seq.data import Sentence, tagging
from seq2seq.models import EncoderDecoder, SequenceTagger, TextClassifier
from seq2seq.tagging_schemes import iob2_names
from seq2seq.text import SentencePieceTokenizer
from tests.conftest import SENTENCES


def test_translate_all_equals_translating_one_by_one(spm_model):
    tokenizer = SentencePieceTokenizer(spm_model)
    size = tokenizer.vocabulary_size()
    model = EncoderDecoder(size, size, embedding_size=8, units=8)
    sources = [*SENTENCES[:2], ""]
    pairs = tf.data.Dataset.from_tensor_slices((sources, [s.upper() for s in sources]))
    options = dict(beam_size=1, max_length=6, max_length_ratio=2.0)
    hypotheses, references = evaluation.translate_all(
        model, tokenizer, pairs, batch_size=2, max_source_length=4, **options
    )
    assert references == [s.upper() for s in sources]
    expected = []
    for source in sources:  # eager, one at a time, read to 4 pieces
        ids, _ = serving.source_ids(tokenizer, tf.constant([source]), 4)
        decoded, lengths, _ = model.translate(
            ids, tokenizer.bos_id, tokenizer.eos_id, **options
        )
        tokens = serving.strip_to_ragged(decoded, lengths, tokenizer.eos_id)
        expected.append(tokenizer.detokenize(tokens).numpy()[0].decode())
    assert hypotheses == expected
    assert any(hypotheses)  # an untrained model still says something


@pytest.fixture(scope="module")
def tagger_data():
    words = [["EU", "rejects", "German", "call"], ["Peter", "visits"], ["Bonn"]]
    tags = [["S-ORG", "O", "S-MISC", "O"], ["S-PER", "O"], ["S-LOC"]]
    sentences = [
        Sentence(w, t, line=1 + 10 * i)
        for i, (w, t) in enumerate(zip(words, tags, strict=True))
    ]
    tag_names = ["O", "S-ORG", "S-MISC", "S-PER", "S-LOC"]
    features, summary = tagging.word_features_from(sentences, max_word_length=5)
    model = SequenceTagger(
        features.word_vocabulary.vocabulary_size(),
        features.character_vocabulary.vocabulary_size(),
        len(tag_names),
        word_embedding_size=4,
        character_embedding_size=4,
        character_units=4,
        units=4,
    )
    batches, _ = tagging.tagging_batches(
        sentences, features, tag_names, (8, 16), batch_size=2
    )
    return sentences, tag_names, features, summary, model, batches


def test_tag_all_unpads_in_batch_order_and_scores_entities(tagger_data):
    sentences, tag_names, features, _, model, batches = tagger_data
    gold, predicted = evaluation.tag_all(model, batches)
    assert gold == [[tag_names.index(t) for t in s.tags] for s in sentences]
    for sentence, ids in zip(sentences, predicted, strict=True):
        inputs = features(tf.constant([sentence.tokens]))
        assert ids == model.predict_tags(inputs).numpy()[0].tolist()
    iob2 = iob2_names(tag_names, "iobes")
    assert evaluation.tagger_entity_scores(model, batches, iob2) == (
        evaluation.entity_scores(
            [[iob2[t] for t in s] for s in gold],
            [[iob2[t] for t in s] for s in predicted],
        )
    )


def test_word_features_summary(tagger_data):
    sentences, _, features, summary, _, _ = tagger_data
    words = features.word_vocabulary.vocabulary_size()
    characters = features.character_vocabulary.vocabulary_size()
    assert words == 2 + 7 and characters == 2 + len(
        set("".join(w for s in sentences for w in s.tokens))
    )  # padding and unknown, then what train has
    long = sum(len(w) > 5 for s in sentences for w in s.tokens)
    assert long == 3 and summary == (
        f"3 training sentences, {words} words, {characters} characters; {long} "
        "training words are longer than 5 characters (their character features "
        "read a prefix)"
    )


def test_classify_all_and_scores_by_length(spm_model):
    tokenizer = SentencePieceTokenizer(spm_model)
    model = TextClassifier(tokenizer.vocabulary_size(), num_classes=3, units=4)
    texts = np.array([s.encode() for s in [*SENTENCES, "", "a cat"]], object)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    predicted = evaluation.classify_all(model, tokenizer, texts, 3, batch_size=3)
    for text, label in zip(texts, predicted, strict=True):
        ids, _ = serving.source_ids(tokenizer, tf.constant([text]), 3)
        assert label == np.argmax(model(ids), axis=-1)[0]
    scores = evaluation.classifier_scores(model, tokenizer, texts, labels, 3, 3)
    assert scores == {
        **evaluation.classification_scores(labels, predicted, 3),
        "by_length": evaluation.accuracy_by_length(texts, labels, predicted),
    }
    printed = evaluation.describe_classifier_scores(scores)
    assert printed.startswith(f"test accuracy {scores['accuracy']:.4f}  macro F1")


def test_accuracy_by_length_brute_force():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 30, size=200)
    texts = [" ".join(["w"] * n) for n in counts]
    labels, predicted = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    report = evaluation.accuracy_by_length(texts, labels, predicted)
    groups = {"1-4 words": (1, 4), "5-14 words": (5, 14), "15+ words": (15, 99)}
    assert list(report) == list(groups)  # empty texts are in no group
    for name, (low, high) in groups.items():
        rows = [i for i in range(200) if low <= counts[i] <= high]
        assert report[name] == {
            "examples": len(rows),
            "accuracy": pytest.approx(
                np.mean([labels[i] == predicted[i] for i in rows])
            ),
        }
    assert evaluation.accuracy_by_length(["a b"], [1], [1]) == {
        "1-4 words": {"examples": 1, "accuracy": 1.0}
    }


def test_write_results(tmp_path):
    evaluation.write_results(tmp_path, {"bleu": 1.5}, {"test.hyp": ["a", "b c"]})
    assert json.loads((tmp_path / "scores.json").read_text()) == {"bleu": 1.5}
    assert (tmp_path / "test.hyp").read_text() == "a\nb c\n"


def test_translation_evaluator_follows_the_weights_without_recompiling(spm_model):
    """The evaluator keeps one translator across epochs: after the weights
    change, its scores equal a fresh `translate_all`'s, and its XLA search
    was not traced again."""
    tokenizer = SentencePieceTokenizer(spm_model)
    size = tokenizer.vocabulary_size()
    model = EncoderDecoder(size, size, embedding_size=8, units=8)
    pairs = tf.data.Dataset.from_tensor_slices((SENTENCES[:3], SENTENCES[:3]))
    options = dict(beam_size=2, max_length=6, max_source_length=8)
    evaluate = evaluation.translation_evaluator(tokenizer, pairs, **options)

    def fresh():
        hypotheses, references = evaluation.translate_all(
            model, tokenizer, pairs, **options
        )
        return evaluation.translation_scores(hypotheses, references)

    before = evaluate(model)
    traces = evaluate.cache["translator"]._decode.experimental_get_tracing_count()
    rng = np.random.default_rng(1)
    model.set_weights(
        [rng.normal(size=w.shape).astype(w.dtype) for w in model.get_weights()]
    )
    after, expected = evaluate(model), fresh()
    assert after["report"] != before["report"] or after["chrf"] != before["chrf"]
    for name in ("bleu", "chrf", "exact_match"):
        assert after[name] == expected[name]
    translator = evaluate.cache["translator"]
    assert translator._decode.experimental_get_tracing_count() == traces
