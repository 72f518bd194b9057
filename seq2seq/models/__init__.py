"""Models assembled from `seq2seq.layers`; each owns its loss."""

from seq2seq.models.base import SequenceModel
from seq2seq.models.classifier import MacroF1Score, TextClassifier
from seq2seq.models.decoder import AttentionDecoderCell, Bridge
from seq2seq.models.encoder import RecurrentEncoder
from seq2seq.models.encoder_decoder import EncoderDecoder
from seq2seq.models.language_model import LanguageModel, Perplexity
from seq2seq.models.losses import sequence_cross_entropy
from seq2seq.models.tagger import CharacterEncoder, SequenceTagger

__all__ = [
    "AttentionDecoderCell",
    "Bridge",
    "CharacterEncoder",
    "EncoderDecoder",
    "LanguageModel",
    "MacroF1Score",
    "Perplexity",
    "RecurrentEncoder",
    "SequenceModel",
    "SequenceTagger",
    "TextClassifier",
    "sequence_cross_entropy",
]
