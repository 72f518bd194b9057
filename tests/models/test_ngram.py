"""The n-gram baselines against brute-force counts on a toy corpus."""

import collections
import math

import numpy as np
import pytest

from seq2seq.models import ngram

V = 7
TRAIN = [[2, 4, 5, 4, 6, 3], [2, 5, 5, 3], [2, 4, 3]]  # BOS 2, EOS 3
VALID = [[2, 4, 5, 6, 3], [2, 6, 6, 3]]


def _pairs(texts):
    return ngram.pairs_of([t[:-1] for t in texts], [t[1:] for t in texts])


def _brute(train, valid, lam):
    unigram = collections.Counter(w for t in train for w in t[1:])
    bigram = collections.Counter(
        pair for t in train for pair in zip(t[:-1], t[1:], strict=True)
    )
    context = collections.Counter(v for t in train for v in t[:-1])
    n = sum(unigram.values())

    def p_unigram(w):
        return (unigram[w] + 1) / (n + V - 1)  # add-one over the V - 1 non-pad ids

    def p_bigram(v, w):
        if not context[v]:
            return p_unigram(w)
        return lam * bigram[(v, w)] / context[v] + (1 - lam) * p_unigram(w)

    pairs = [(v, w) for t in valid for v, w in zip(t[:-1], t[1:], strict=True)]
    uni = math.exp(-sum(math.log(p_unigram(w)) for _, w in pairs) / len(pairs))
    bi = math.exp(-sum(math.log(p_bigram(v, w)) for v, w in pairs) / len(pairs))
    return uni, bi


@pytest.mark.parametrize("lam", [0.2, 0.5, 0.9])
def test_perplexities_equal_brute_force_counts(lam):
    uni, bi = _brute(TRAIN, VALID, lam)
    train, valid = _pairs(TRAIN), _pairs(VALID)
    assert ngram.unigram_perplexity(train[1], valid[1], V) == pytest.approx(uni)
    assert ngram.bigram_perplexity(train, valid, V, lam) == pytest.approx(bi)


def test_unigram_probabilities_sum_to_one_and_pad_has_none():
    probabilities = ngram.unigram_probabilities(_pairs(TRAIN)[1], V)
    assert probabilities[0] == 0 and probabilities.sum() == pytest.approx(1.0)


def test_baselines_pick_the_best_interpolation():
    train, valid = _pairs(TRAIN), _pairs(VALID)
    result = ngram.baseline_perplexities(train, valid, V)
    grid = [_brute(TRAIN, VALID, lam)[1] for lam in np.arange(0.1, 1.0, 0.1)]
    assert result["bigram"] == pytest.approx(min(grid))
    assert result["unigram"] == pytest.approx(_brute(TRAIN, VALID, 0.5)[0])
