"""tf.data transforms: counted filtering, bounded bucket shapes, seeded order."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from seq2seq.data import (
    LengthFilter,
    batch_by_examples,
    bucket_by_length,
    rows_dataset,
    shuffle_cache_prefetch,
)

LENGTHS = [1, 3, 5, 7, 9, 12, 15, 2, 30, 31, 0, 40, 8, 8, 16]


def _pairs(lengths=LENGTHS):
    """(source, target) id sequences; the target is one longer."""
    sources = tf.ragged.constant([list(range(1, n + 1)) for n in lengths], tf.int32)
    targets = tf.ragged.constant([list(range(1, n + 2)) for n in lengths], tf.int32)
    return rows_dataset(sources, targets)


def test_length_filter_counts_what_it_drops():
    keep = LengthFilter(max_length=16, name="pairs")
    kept = list(_pairs().apply(keep))
    expected = [n for n in LENGTHS if 1 <= n + 1 <= 16]  # the longer side is n + 1
    assert [len(s) for s, _ in kept] == expected
    assert int(keep.kept.numpy()) == len(expected)
    assert int(keep.dropped.numpy()) == len(LENGTHS) - len(expected)
    assert keep.report() == (
        f"pairs: kept {len(expected)}, dropped {len(LENGTHS) - len(expected)} "
        "(length outside [1, 16])"
    )
    with pytest.raises(ValueError, match="max_length must be >= min_length"):
        LengthFilter(max_length=0, min_length=2)


def test_buckets_give_few_padded_shapes_and_keep_every_element():
    boundaries = [5, 10, 20, 33]
    keep = LengthFilter(max_length=32)
    batches = list(
        _pairs().apply(keep).apply(bucket_by_length(boundaries, batch_size=2))
    )
    widths = {b - 1 for b in boundaries}
    seen = collections.Counter()
    for sources, targets in batches:
        assert sources.shape[1] == targets.shape[1] and sources.shape[1] in widths
        for row in sources.numpy():
            length = int(np.count_nonzero(row))
            seen[length] += 1
            assert length < sources.shape[1] + 1
    assert seen == collections.Counter(n for n in LENGTHS if 1 <= n + 1 <= 32)


def test_tokens_per_batch_sets_each_bucket_batch_size():
    boundaries = [5, 17]
    batches = list(
        _pairs([2] * 10 + [10] * 6).apply(
            bucket_by_length(boundaries, tokens_per_batch=32)
        )
    )
    sizes = collections.Counter((s.shape[0], s.shape[1]) for s, _ in batches)
    # width 4 -> 8 per batch; width 16 -> 2 per batch
    assert sizes == collections.Counter({(8, 4): 1, (2, 4): 1, (2, 16): 3})


def test_overlong_element_raises_instead_of_a_new_shape():
    dataset = _pairs([3, 50]).apply(bucket_by_length([5, 10], batch_size=2))
    with pytest.raises(tf.errors.InvalidArgumentError, match="LengthFilter"):
        list(dataset)


def test_bucket_arguments_are_checked():
    with pytest.raises(ValueError, match="exactly one of batch_size"):
        bucket_by_length([4, 8])
    with pytest.raises(ValueError, match="increase strictly"):
        bucket_by_length([8, 4], batch_size=2)


def test_seeded_shuffle_is_reproducible_and_batches_pad():
    def order(seed):
        dataset = tf.data.Dataset.range(50).apply(shuffle_cache_prefetch(50, seed=seed))
        return [int(x) for x in dataset]

    assert order(3) == order(3) and order(3) != order(4)
    assert sorted(order(3)) == list(range(50))
    (sources, _), *_ = list(_pairs([1, 3]).apply(batch_by_examples(2)))
    assert sources.numpy().tolist() == [[1, 0, 0], [1, 2, 3]]
