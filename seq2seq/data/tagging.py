"""The tagging input pipeline: CoNLL sentences to bucketed feature batches."""

from __future__ import annotations

import tensorflow as tf

from seq2seq.data.conll import Sentence, conll_dataset
from seq2seq.data.files import DataError
from seq2seq.data.transforms import LengthFilter, bucket_by_length
from seq2seq.text import CharacterVocabulary, WordFeatures, WordVocabulary


def check_tags(sentences: list[Sentence], tag_names, path: str = "data") -> None:
    """Raises `DataError` at the first tag the model does not know.

    The tag set comes from the training file (`scheme_tags`); a validation
    or test file with an entity type never seen in training cannot be
    scored, so it is refused by name and line rather than mapped to
    something else.
    """
    known = set(tag_names)
    for sentence in sentences:
        for offset, tag in enumerate(sentence.tags):
            if tag not in known:
                raise DataError(
                    f"{path}:{sentence.line + offset}: tag {tag!r} does not occur "
                    f"in the training data (known tags: {sorted(known)})"
                )


def word_features_from(
    sentences: list[Sentence],
    max_word_length,
    min_count=1,
    lowercase=True,
    normalize_digits=True,
):
    """`WordFeatures` with word and character vocabularies of `sentences`.

    Args:
        sentences: The training sentences.
        max_word_length: Characters read per word (longer words are read to
            that prefix, and counted in the summary).
        min_count, lowercase, normalize_digits: As `WordVocabulary`.

    Returns:
        `(features, summary)`: the layer, and a sentence giving the sizes of
        the data and the vocabularies and how many words are cut.
    """
    words = [s.tokens for s in sentences]
    features = WordFeatures(
        WordVocabulary.from_sentences(
            words, min_count, None, lowercase, normalize_digits
        ),
        CharacterVocabulary.from_sentences(words),
        max_word_length,
    )
    long_words = sum(len(w) > max_word_length for s in words for w in s)
    summary = (
        f"{len(sentences)} training sentences, "
        f"{features.word_vocabulary.vocabulary_size()} words, "
        f"{features.character_vocabulary.vocabulary_size()} characters; "
        f"{long_words} training words are longer than {max_word_length} "
        "characters (their character features read a prefix)"
    )
    return features, summary


def tagging_example(features, tag_names):
    """`(tokens, tags)` strings `[time]` -> `(WordFeatures dict, tag ids)`."""
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(list(tag_names)), tf.range(len(tag_names), dtype=tf.int32)
        ),
        default_value=-1,
    )

    def convert(tokens, tags):
        ids = table.lookup(tags)
        check = tf.debugging.assert_non_negative(
            ids, message="a tag outside the tag set: run check_tags first"
        )
        with tf.control_dependencies([check]):
            return features(tokens), tf.identity(ids)

    return convert


def _length(element):
    _, tags = element
    return tf.shape(tags)[0]


def tagging_batches(
    sentences: list[Sentence],
    features,
    tag_names,
    boundaries=(16, 32, 64, 128, 256),
    batch_size=32,
    shuffle_buffer=0,
    seed=0,
    name="sentences",
):
    """Featurized, length-filtered, bucketed batches of tagged sentences.

    Sentences of `boundaries[-1]` words or more are dropped and counted
    (`length_filter.report()` says how many); pick boundaries that fit the
    longest sentence to keep them all, as the NER recipe does.

    Returns:
        `(dataset, length_filter)`; elements are `(features, tag_ids)` with
        features as `WordFeatures` gives them, padded to the bucket bound.
    """
    keep = LengthFilter(max_length=boundaries[-1] - 1, length_fn=_length, name=name)
    dataset = conll_dataset(sentences).map(
        tagging_example(features, tag_names), num_parallel_calls=tf.data.AUTOTUNE
    )
    dataset = dataset.apply(keep).cache()
    if shuffle_buffer:
        dataset = dataset.shuffle(
            shuffle_buffer, seed=seed, reshuffle_each_iteration=True
        )
    dataset = dataset.apply(
        bucket_by_length(boundaries, batch_size=batch_size, length_fn=_length)
    )
    return dataset.prefetch(tf.data.AUTOTUNE), keep
