"""Word and character vocabularies for taggers, as in-graph lookups."""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable

import keras
import tensorflow as tf

PAD = ""  # id 0
OOV = "[UNK]"  # id 1

_DIGITS = re.compile(r"[0-9]")


def normalize_word(word: str, lowercase: bool, normalize_digits: bool) -> str:
    """The Python twin of the in-graph normalisation (tests hold them equal)."""
    if lowercase:
        word = word.lower()
    if normalize_digits:
        word = _DIGITS.sub("0", word)
    return word


def _count(items: Iterable[str], min_count: int, max_size: int | None) -> list[str]:
    counts = collections.Counter(items)
    counts.pop(PAD, None)
    ranked = sorted(
        (item for item, n in counts.items() if n >= min_count),
        key=lambda item: (-counts[item], item),
    )
    return ranked[:max_size] if max_size else ranked


class _Lookup(keras.layers.Layer):
    """Shared base: a `keras.layers.StringLookup` with pad id 0 and OOV id 1."""

    def __init__(self, vocabulary, **kwargs):
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.vocabulary = [v for v in vocabulary if v not in (PAD, OOV)]
        if not self.vocabulary:
            raise ValueError(
                "vocabulary is empty: nothing was seen min_count times (lower "
                f"min_count, or check the data). Received: vocabulary={vocabulary!r}"
            )
        self.lookup = keras.layers.StringLookup(
            vocabulary=self.vocabulary,
            mask_token=PAD,
            oov_token=OOV,
            num_oov_indices=1,
            output_mode="int",
        )
        self.built = True

    def vocabulary_size(self) -> int:
        """Including padding (id 0) and the OOV entry (id 1)."""
        return len(self.vocabulary) + 2

    def get_config(self):
        return {**super().get_config(), "vocabulary": list(self.vocabulary)}


@keras.saving.register_keras_serializable(package="seq2seq")
class WordVocabulary(_Lookup):
    """Words to ids: 0 is padding (the empty string), 1 is out-of-vocabulary.

    Normalisation happens in the graph before the lookup: optional
    lowercasing and digit normalisation (every ASCII digit becomes 0, so
    "1984" and "2023" share an id). Build one from training sentences with
    `WordVocabulary.from_sentences(...)`.

    Args:
        vocabulary: The known (normalised) words, most frequent first.
        lowercase: Lowercase words before the lookup.
        normalize_digits: Replace each digit with 0 before the lookup.

    Call arguments:
        words: String tensor (dense or ragged), any shape.

    Returns:
        int64 ids of the same shape.
    """

    def __init__(self, vocabulary, lowercase=False, normalize_digits=False, **kwargs):
        super().__init__(vocabulary, **kwargs)
        self.lowercase = bool(lowercase)
        self.normalize_digits = bool(normalize_digits)

    @classmethod
    def from_sentences(
        cls,
        sentences: Iterable[Iterable[str]],
        min_count: int = 1,
        max_size: int | None = None,
        lowercase: bool = False,
        normalize_digits: bool = False,
    ) -> WordVocabulary:
        """Counts normalised words; keeps those seen `min_count` times.

        >>> words = WordVocabulary.from_sentences([["The", "cat"], ["the", "1984"]],
        ...                                       lowercase=True, normalize_digits=True)
        >>> words.vocabulary
        ['the', '0000', 'cat']
        >>> words(tf.constant(["THE", "dog"])).numpy()
        array([2, 1])
        """
        words = (
            normalize_word(word, lowercase, normalize_digits)
            for sentence in sentences
            for word in sentence
        )
        return cls(_count(words, min_count, max_size), lowercase, normalize_digits)

    def normalize(self, words):
        """The in-graph normalisation."""
        if self.lowercase:
            words = tf.strings.lower(words, encoding="utf-8")
        if self.normalize_digits:
            words = tf.strings.regex_replace(words, "[0-9]", "0")
        return words

    def call(self, words):
        words = (
            tf.convert_to_tensor(words, tf.string)
            if not isinstance(words, tf.RaggedTensor)
            else words
        )
        return self.lookup(self.normalize(words))

    def get_config(self):
        return {
            **super().get_config(),
            "lowercase": self.lowercase,
            "normalize_digits": self.normalize_digits,
        }


@keras.saving.register_keras_serializable(package="seq2seq")
class CharacterVocabulary(_Lookup):
    """Words to the ids of their characters, for character-level features.

    Characters are Unicode code points; bytes that are not valid UTF-8 become
    U+FFFD, which maps to the OOV id like any unseen character.

    Args:
        vocabulary: The known characters.

    Call arguments:
        words: String tensor `[...]` (dense or ragged).

    Returns:
        Ragged int64 ids `[..., characters]`; the empty word gives no ids.
    """

    @classmethod
    def from_sentences(
        cls,
        sentences: Iterable[Iterable[str]],
        min_count: int = 1,
        max_size: int | None = None,
    ) -> CharacterVocabulary:
        """Counts characters; keeps those seen `min_count` times.

        >>> CharacterVocabulary.from_sentences([["ab", "b"]]).vocabulary
        ['b', 'a']
        """
        characters = (c for sentence in sentences for word in sentence for c in word)
        return cls(_count(characters, min_count, max_size))

    def call(self, words):
        characters = tf.strings.unicode_split(
            words, "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        return self.lookup(characters)
