"""Tokenizers and vocabularies that run inside the TensorFlow graph."""

from seq2seq.text.normalize import clean_text
from seq2seq.text.sentencepiece_tokenizer import SentencePieceTokenizer
from seq2seq.text.sentencepiece_trainer import (
    sentencepiece_report,
    sentencepiece_tokenizer,
    train_sentencepiece,
)
from seq2seq.text.word_features import CASINGS, WordFeatures, casing_ids
from seq2seq.text.word_vocabulary import (
    CharacterVocabulary,
    WordVocabulary,
    normalize_word,
)

__all__ = [
    "CASINGS",
    "WordFeatures",
    "casing_ids",
    "CharacterVocabulary",
    "SentencePieceTokenizer",
    "WordVocabulary",
    "clean_text",
    "normalize_word",
    "sentencepiece_report",
    "sentencepiece_tokenizer",
    "train_sentencepiece",
]
