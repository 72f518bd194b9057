"""Translation batches: bucketed by length, padded to the bound or tightly."""

import numpy as np
import pytest
import tensorflow as tf

from seq2seq.data import even_boundaries, translation
from seq2seq.text import SentencePieceTokenizer
from tests.conftest import SENTENCES


def _batches(spm_model, boundaries, pad_to_boundary):
    tokenizer = SentencePieceTokenizer(str(spm_model))
    pairs = tf.data.Dataset.from_tensor_slices(
        (SENTENCES * 3, [s[::-1] for s in SENTENCES] * 3)
    )
    batches, keep = translation.translation_batches(
        pairs,
        tokenizer,
        boundaries,
        tokens_per_batch=64,
        pad_to_boundary=pad_to_boundary,
    )
    return tokenizer, pairs, list(batches), keep


def test_exact_buckets_pad_each_side_to_the_batch_longest(spm_model):
    tokenizer, pairs, batches, keep = _batches(spm_model, even_boundaries(40), False)
    expected = []
    for source, target in pairs.as_numpy_iterator():
        n_source = len(tokenizer(source).numpy())
        n_target = len(tokenizer(target).numpy()) + 1
        expected.append((n_source, n_target))
    seen = 0
    for (source, target_in), target_out in batches:
        source_lengths = np.count_nonzero(source.numpy(), axis=1)
        target_lengths = np.count_nonzero(target_out.numpy(), axis=1)
        # Each side is padded to its own longest, not to a bucket bound.
        assert source.shape[1] == source_lengths.max()
        assert target_out.shape[1] == target_lengths.max()
        assert target_in.shape == target_out.shape
        # One bucket per length of the longer side.
        assert len(set(np.maximum(source_lengths, target_lengths))) == 1
        # The batch holds at most 64 padded positions a side.
        assert source.shape[0] * max(source.shape[1], target_out.shape[1]) <= 64
        seen += source.shape[0]
    assert seen == len(expected) and "dropped 0" in keep.report()


def test_bounded_buckets_pad_to_the_bound(spm_model):
    _, _, batches, _ = _batches(spm_model, [8, 16, 41], True)
    for (source, _), target_out in batches:
        assert source.shape[1] == target_out.shape[1] in (7, 15, 40)


def test_even_boundaries_reject_bad_widths():
    with pytest.raises(ValueError, match="width=0"):
        even_boundaries(10, width=0)
