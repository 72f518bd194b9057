"""Decoding over a `step(ids, state)` callable: greedy, beam search, sampling.

Decoders never import model classes; see `seq2seq.decoding.search`.
"""

from seq2seq.decoding.search import (
    beam_search,
    coverage_penalty,
    greedy_search,
    length_penalty,
    max_lengths,
    sample,
)
from seq2seq.decoding.words import word_state, word_step

__all__ = [
    "beam_search",
    "coverage_penalty",
    "greedy_search",
    "length_penalty",
    "max_lengths",
    "sample",
    "word_state",
    "word_step",
]
