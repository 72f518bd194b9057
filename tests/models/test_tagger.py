"""SequenceTagger: padding invariance, its losses, constraints, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq.models import CharacterEncoder, SequenceTagger
from seq2seq.tagging_schemes import tags_to_spans, transition_constraints
from seq2seq.text import CharacterVocabulary, WordFeatures, WordVocabulary

SENTENCES = [
    ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
    ["Peter", "Blackburn"],
    ["BRUSSELS", "1996-08-22"],
    ["The", "European", "Commission", "said", "on", "Thursday"],
]
TAGS = ["O", "B-ORG", "I-ORG", "E-ORG", "S-ORG", "B-PER", "E-PER", "S-MISC"]


@pytest.fixture(scope="module")
def features():
    return WordFeatures(
        WordVocabulary.from_sentences(SENTENCES, lowercase=True, normalize_digits=True),
        CharacterVocabulary.from_sentences(SENTENCES),
        max_word_length=8,
    )


def make_tagger(**kwargs):
    options = dict(
        word_vocabulary_size=40,
        character_vocabulary_size=40,
        num_tags=len(TAGS),
        word_embedding_size=6,
        character_embedding_size=5,
        character_units=4,
        casing_embedding_size=3,
        units=7,
        dropout=0.0,
    )
    options.update(kwargs)
    return SequenceTagger(**options)


def batch(features, sentences):
    return features(tf.ragged.constant(sentences))


@pytest.mark.parametrize("character_encoder", ["lstm", "cnn", "none"])
@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_padding_changes_nothing(features, character_encoder, cell_type):
    """Each sentence alone, unpadded, scores as it does inside a padded batch."""
    tagger = make_tagger(character_encoder=character_encoder, cell_type=cell_type)
    together = tagger(batch(features, SENTENCES)).numpy()
    for row, sentence in enumerate(SENTENCES):
        alone = tagger(batch(features, [sentence])).numpy()[0]
        np.testing.assert_allclose(together[row, : len(sentence)], alone, atol=1e-5)


@pytest.mark.parametrize("encoder", ["lstm", "cnn"])
def test_character_padding_and_empty_words(encoder):
    """Extra character padding changes no word vector; a padding word is 0."""
    layer = CharacterEncoder(10, 4, 3, encoder)
    characters = np.array([[[3, 4, 5, 0], [2, 0, 0, 0], [0, 0, 0, 0]]], "int32")
    wider = np.pad(characters, [[0, 0], [0, 0], [0, 5]])
    narrow = layer(characters).numpy()
    np.testing.assert_allclose(layer(wider).numpy(), narrow, atol=1e-6)
    assert (narrow[0, 2] == 0).all() and (narrow[0, :2] != 0).any()
    assert narrow.shape == (1, 3, layer.output_size)


def test_crf_loss_is_the_mean_sentence_negative_log_likelihood(features):
    tagger = make_tagger()
    x = batch(features, SENTENCES)
    y = np.random.default_rng(0).integers(0, len(TAGS), size=x["words"].shape)
    potentials = tagger(x)
    mask = x["words"] > 0
    expected = np.mean(tagger.crf.negative_log_likelihood(potentials, y, mask))
    loss = tagger.compute_loss(x, y, potentials)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_softmax_loss_averages_real_words_only(features):
    tagger = make_tagger(head="softmax")
    x = batch(features, SENTENCES)
    y = np.random.default_rng(0).integers(0, len(TAGS), size=x["words"].shape)
    logits = tagger(x).numpy()
    mask = x["words"].numpy() > 0
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_probs, y[..., None], -1)[..., 0]
    expected = -picked[mask].mean()
    np.testing.assert_allclose(tagger.compute_loss(x, y, logits), expected, rtol=1e-5)
    tags = tagger.predict_tags(x).numpy()
    assert (tags[~mask] == 0).all()
    assert (tags[mask] == logits.argmax(-1)[mask]).all()


def test_constrained_decoding_gives_valid_iobes(features):
    allowed, start, end = transition_constraints(TAGS, "iobes")
    tagger = make_tagger(
        allowed_transitions=allowed, allowed_start=start, allowed_end=end
    )
    x = batch(features, SENTENCES)
    tags = tagger.predict_tags(x).numpy()
    for row, sentence in enumerate(SENTENCES):
        names = [TAGS[t] for t in tags[row, : len(sentence)]]
        tags_to_spans(names, "iobes")  # raises on an invalid sequence


def test_word_dropout_only_in_training(features):
    tagger = make_tagger(word_dropout=0.999999, dropout=0.0)
    x = batch(features, SENTENCES)
    unknown = dict(x, words=tf.where(x["words"] > 0, 1, 0))
    np.testing.assert_allclose(
        tagger(x, training=True), tagger(unknown, training=False), atol=1e-6
    )
    assert not np.allclose(tagger(x, training=False), tagger(unknown))


def test_config_and_saving_round_trip(features, tmp_path):
    allowed, start, end = transition_constraints(TAGS, "iobes")
    tagger = make_tagger(
        allowed_transitions=allowed,
        allowed_start=start,
        allowed_end=end,
        character_encoder="cnn",
        num_layers=2,
    )
    x = batch(features, SENTENCES)
    expected = tagger.predict_tags(x).numpy()
    rebuilt = SequenceTagger.from_config(tagger.get_config())
    assert rebuilt.get_config() == tagger.get_config()
    tagger.save(tmp_path / "tagger.keras")
    reloaded = keras.models.load_model(tmp_path / "tagger.keras")
    np.testing.assert_allclose(reloaded(x), tagger(x), atol=1e-6)
    assert (reloaded.predict_tags(x).numpy() == expected).all()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="head must be one of"):
        make_tagger(head="svm")
    with pytest.raises(ValueError, match="character_encoder must be one of"):
        make_tagger(character_encoder="rnn")
