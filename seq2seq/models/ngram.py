"""Count-based perplexity baselines on the language model's own pieces.

Both score the same `(context, target)` pairs the language model predicts
(each target piece, EOS included, after its previous id, BOS for the first),
so their perplexities compare with the model's per piece.

    unigram:  p(w)     = (c(w) + 1) / (N + V - 1)            (add-one; no padding)
    bigram:   p(w | v) = λ c(v, w) / c(v) + (1 - λ) p(w)      (p(w) if c(v) = 0)
"""

from __future__ import annotations

import numpy as np


def unigram_probabilities(train_targets, vocabulary_size) -> np.ndarray:
    """Add-one unigram probabilities `[vocabulary_size]` of the target ids;
    id 0 (padding) gets 0."""
    counts = np.bincount(np.asarray(train_targets), minlength=vocabulary_size)
    counts = counts.astype(np.float64) + 1.0
    counts[0] = 0.0
    return counts / counts.sum()


def unigram_perplexity(train_targets, valid_targets, vocabulary_size) -> float:
    """exp of the mean negative log unigram probability of `valid_targets`."""
    probabilities = unigram_probabilities(train_targets, vocabulary_size)
    return float(np.exp(-np.mean(np.log(probabilities[np.asarray(valid_targets)]))))


def bigram_perplexity(
    train_pairs, valid_pairs, vocabulary_size, interpolation=0.5
) -> float:
    """Perplexity of the interpolated bigram model (see the module docstring).

    Args:
        train_pairs, valid_pairs: `(contexts, targets)`, equal-length id arrays.
        vocabulary_size: The number of ids.
        interpolation: λ, the weight of the bigram estimate.
    """
    contexts, targets = (np.asarray(a, np.int64) for a in train_pairs)
    unigram = unigram_probabilities(targets, vocabulary_size)
    keys, counts = np.unique(contexts * vocabulary_size + targets, return_counts=True)
    context_counts = np.bincount(contexts, minlength=vocabulary_size)
    v, w = (np.asarray(a, np.int64) for a in valid_pairs)
    wanted = v * vocabulary_size + w
    where = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    pair_counts = np.where(keys[where] == wanted, counts[where], 0)
    seen = context_counts[v] > 0
    bigram = pair_counts / np.maximum(context_counts[v], 1)
    mixed = np.where(
        seen, interpolation * bigram + (1 - interpolation) * unigram[w], unigram[w]
    )
    return float(np.exp(-np.mean(np.log(mixed))))


def baseline_perplexities(train_pairs, valid_pairs, vocabulary_size) -> dict:
    """Unigram and bigram perplexities of `valid_pairs`, the bigram's λ the
    best of 0.1 ... 0.9 on these very pairs (which favours the baseline)."""
    bigrams = {
        round(lam, 1): bigram_perplexity(train_pairs, valid_pairs, vocabulary_size, lam)
        for lam in np.arange(0.1, 1.0, 0.1)
    }
    best = min(bigrams, key=bigrams.get)
    return {
        "unigram": unigram_perplexity(train_pairs[1], valid_pairs[1], vocabulary_size),
        "bigram": bigrams[best],
        "bigram_interpolation": best,
    }


def pairs_of(inputs, targets) -> tuple[np.ndarray, np.ndarray]:
    """The `(context, target)` pairs of language-model windows (lists of id
    lists): each target after its input."""
    contexts = np.concatenate([np.asarray(x, np.int64) for x in inputs])
    following = np.concatenate([np.asarray(y, np.int64) for y in targets])
    return contexts, following
