"""Words to the id features a tagger reads: word, characters and casing."""

from __future__ import annotations

import keras
import tensorflow as tf

from seq2seq import validation

# Casing classes (id 0 is padding, the empty word). Lowercased word ids lose
# case, so the tagger gets it back from these and from the characters.
CASINGS = ("<pad>", "lower", "upper", "title", "numeric", "has_digit", "mixed", "other")


def casing_ids(words):
    """The casing class of each word (see `CASINGS`), in the graph.

    Args:
        words: String tensor, dense or ragged, any shape.

    Returns:
        int32 ids of the same shape: `lower` ("cat"), `upper` ("EU", "I"),
        `title` ("Paris"), `numeric` ("1,984.5"), `has_digit` ("4th"),
        `mixed` ("iPhone", "McDonald"), `other` (punctuation, symbols) and 0
        for the empty word.

    >>> casing_ids(tf.constant(["Paris", "EU", "cat", "1996", "", ","]))
    <tf.Tensor: ... numpy=array([3, 2, 1, 4, 0, 7], dtype=int32)>
    """
    if isinstance(words, tf.RaggedTensor):
        return words.with_flat_values(casing_ids(words.flat_values))
    words = tf.convert_to_tensor(words, tf.string)
    checks = [  # the first match wins
        (tf.equal(words, ""), 0),
        (tf.strings.regex_full_match(words, r"[0-9.,\-/:]*[0-9][0-9.,\-/:]*"), 4),
        (tf.strings.regex_full_match(words, r".*[0-9].*"), 5),
        (tf.strings.regex_full_match(words, r"\p{Ll}+"), 1),
        (tf.strings.regex_full_match(words, r"\p{Lu}+"), 2),
        (tf.strings.regex_full_match(words, r"\p{Lu}\p{Ll}+"), 3),
        (tf.strings.regex_full_match(words, r".*\p{L}.*"), 6),
    ]
    result = tf.fill(tf.shape(words), 7)
    for condition, value in reversed(checks):
        result = tf.where(condition, value, result)
    return result


@keras.saving.register_keras_serializable(package="seq2seq")
class WordFeatures(keras.layers.Layer):
    """Whitespace-split words to the three id tensors of `SequenceTagger`.

    Padding words (the empty string) get id 0 everywhere. The characters of
    each word are read up to `max_word_length`: longer words keep their whole
    word id and casing, and only their character features see a prefix (on
    CoNLL-2003 English, 5 training words of 204,567 are longer than 24).

    Args:
        word_vocabulary: A `WordVocabulary`.
        character_vocabulary: A `CharacterVocabulary`.
        max_word_length: Characters per word (a fixed width, so that a
            jit-compiled model sees one shape for it).

    Call arguments:
        words: Strings `[time]`, or `[batch, time]` (dense with "" padding,
            or ragged).

    Returns:
        A dict of int32 tensors: `words` and `casing` `[..., time]`,
        `characters` `[..., time, max_word_length]`.
    """

    def __init__(
        self, word_vocabulary, character_vocabulary, max_word_length=24, **kwargs
    ):
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.word_vocabulary = word_vocabulary
        self.character_vocabulary = character_vocabulary
        self.max_word_length = validation.positive_int(
            "max_word_length", max_word_length
        )
        self.built = True

    def call(self, words):
        if isinstance(words, tf.RaggedTensor):
            words = words.to_tensor("")
        words = tf.convert_to_tensor(words, tf.string)
        characters = self.character_vocabulary(words)
        shape = tf.concat([tf.shape(words), [self.max_word_length]], 0)
        return {
            "words": tf.cast(self.word_vocabulary(words), tf.int32),
            "characters": tf.cast(characters.to_tensor(0, shape=shape), tf.int32),
            "casing": casing_ids(words),
        }

    def get_config(self):
        return {
            **super().get_config(),
            "word_vocabulary": keras.saving.serialize_keras_object(
                self.word_vocabulary
            ),
            "character_vocabulary": keras.saving.serialize_keras_object(
                self.character_vocabulary
            ),
            "max_word_length": self.max_word_length,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("word_vocabulary", "character_vocabulary"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
