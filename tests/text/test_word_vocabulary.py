"""Word and character vocabularies: exact ids, normalisation, OOV."""

import json

import keras
import tensorflow as tf

from seq2seq.text import CharacterVocabulary, WordVocabulary, normalize_word

SENTENCES = [
    ["The", "cat", "sat", "in", "1984"],
    ["the", "dog", "sat"],
    ["Émile", "ran"],
]


def test_build_orders_by_count_then_alphabet_and_drops_rare_words():
    vocabulary = WordVocabulary.from_sentences(SENTENCES, min_count=1)
    assert vocabulary.vocabulary[:1] == ["sat"]  # the only word seen twice
    assert vocabulary.vocabulary[1:] == sorted(vocabulary.vocabulary[1:])
    assert WordVocabulary.from_sentences(SENTENCES, min_count=2).vocabulary == ["sat"]
    assert len(WordVocabulary.from_sentences(SENTENCES, max_size=3).vocabulary) == 3


def test_lookup_ids_with_padding_and_oov():
    vocabulary = WordVocabulary(["sat", "cat", "the"])
    words = tf.ragged.constant([["the", "cat", "zebra"], ["sat", ""]])
    assert vocabulary(words).to_list() == [[4, 3, 1], [2, 0]]
    assert vocabulary.vocabulary_size() == 5


def test_in_graph_normalisation_equals_python():
    vocabulary = WordVocabulary.from_sentences(
        SENTENCES, lowercase=True, normalize_digits=True
    )
    assert vocabulary.vocabulary.count("the") == 1 and "0000" in vocabulary.vocabulary
    words = ["THE", "Cat", "2023", "ÉMILE", "x1y22", "Zebra"]
    in_graph = vocabulary.normalize(tf.constant(words)).numpy()
    assert [w.decode() for w in in_graph] == [
        normalize_word(w, lowercase=True, normalize_digits=True) for w in words
    ]
    ids = vocabulary(tf.constant(words)).numpy().tolist()
    expected = [
        vocabulary.vocabulary.index(normalize_word(w, True, True)) + 2
        if normalize_word(w, True, True) in vocabulary.vocabulary
        else 1
        for w in words
    ]
    assert ids == expected and expected[-1] == 1


def test_character_ids_per_word_including_bad_bytes():
    characters = CharacterVocabulary.from_sentences([["ab", "c"]])
    assert characters.vocabulary == ["a", "b", "c"]
    ids = characters(tf.constant([b"abx", b"", b"\xffa"]))
    assert ids.to_list() == [[2, 3, 1], [], [1, 2]]


def test_configs_round_trip_through_json():
    for layer in (
        WordVocabulary(["a", "b"], lowercase=True, normalize_digits=True),
        CharacterVocabulary(["x", "y"]),
    ):
        config = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
        rebuilt = keras.saving.deserialize_keras_object(config)
        probe = tf.constant(["a", "B9", "xyz"])
        assert _as_list(rebuilt(probe)) == _as_list(layer(probe))


def _as_list(ids):
    return ids.to_list() if isinstance(ids, tf.RaggedTensor) else ids.numpy().tolist()


def test_empty_vocabulary_says_what_to_change():
    import pytest

    with pytest.raises(ValueError, match="lower min_count"):
        WordVocabulary.from_sentences(SENTENCES, min_count=99)
