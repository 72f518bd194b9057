"""Tiny untrained models for the export tests."""

from seq2seq.models import SequenceTagger
from seq2seq.tagging_schemes import transition_constraints
from seq2seq.text import CharacterVocabulary, WordFeatures, WordVocabulary


def tiny_tagger(sentences, tags):
    """`(features, tagger)`: vocabularies of `sentences`, a CRF over IOBES `tags`."""
    features = WordFeatures(
        WordVocabulary.from_sentences(sentences, lowercase=True),
        CharacterVocabulary.from_sentences(sentences),
        max_word_length=8,
    )
    allowed, start, end = transition_constraints(tags, "iobes")
    tagger = SequenceTagger(
        features.word_vocabulary.vocabulary_size(),
        features.character_vocabulary.vocabulary_size(),
        len(tags),
        word_embedding_size=6,
        character_embedding_size=4,
        character_units=3,
        units=5,
        allowed_transitions=allowed,
        allowed_start=start,
        allowed_end=end,
    )
    return features, tagger
