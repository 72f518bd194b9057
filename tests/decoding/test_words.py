"""word_step: beam search over whole next words, against brute force."""

import itertools

import numpy as np
import tensorflow as tf

from seq2seq.decoding import beam_search, word_state, word_step

# Pieces: 0 pad, 1 unk, 2 BOS, 3 EOS, 4 "▁a", 5 "▁b", 6 "x", 7 "y".
STARTS = np.array([False, False, False, False, True, True, False, False])
CONTINUES = np.array([False, False, False, False, False, False, True, True])
EOS, V = 3, 8
TABLE = np.random.default_rng(0).normal(size=(V, V)).astype("float32") * 2


def step(ids, state):
    """A bigram model: the logits depend on the previous piece only."""
    return tf.gather(TABLE, ids), state


def _log_softmax(row):
    return row - np.log(np.exp(row - row.max()).sum()) - row.max()


def _brute_words(previous, max_pieces):
    """log p(word | a word follows) of every word of up to max_pieces pieces."""
    first = _log_softmax(TABLE[previous])
    start_mass = np.log(np.exp(first[STARTS]).sum())
    boundary = ~CONTINUES
    words = {}
    for length in range(1, max_pieces + 1):
        for tail in itertools.product(np.flatnonzero(~boundary[:]), repeat=length - 1):
            for head in np.flatnonzero(STARTS):
                pieces = (head, *tail)
                score, prev = first[head] - start_mass, head
                for piece in tail:
                    score += _log_softmax(TABLE[prev])[piece]
                    prev = piece
                ended = np.log(np.exp(_log_softmax(TABLE[prev])[boundary]).sum())
                words[pieces] = score + ended
    return words


def test_beam_over_words_ranks_words_by_their_probability():
    # 2 word starts, 2 continuations, 3 steps: 14 hypotheses, so a beam of 14
    # is exhaustive and must equal brute-force enumeration.
    previous = np.array([4, 7], np.int32)
    wrapped = word_step(step, STARTS, CONTINUES, EOS)
    ids, lengths, scores = beam_search(
        wrapped, word_state({}, 2), previous, V, 3, beam_size=14
    )
    for row, prev in enumerate(previous):
        want = sorted(_brute_words(prev, 2).items(), key=lambda item: -item[1])
        found = []
        for beam in range(14):
            hypothesis = [int(p) for p in ids[row, beam, : lengths[row, beam]]]
            if hypothesis[-1] == V:  # ended: a whole word
                found.append((tuple(hypothesis[:-1]), float(scores[row, beam])))
        assert [pieces for pieces, _ in found] == [pieces for pieces, _ in want]
        np.testing.assert_allclose(
            [score for _, score in found], [score for _, score in want], rtol=1e-5
        )


def test_word_probabilities_of_one_step_sum_to_one():
    wrapped = word_step(step, STARTS, CONTINUES, EOS)
    scores, _ = wrapped(tf.constant([4, 6]), word_state({}, 2))
    first = tf.nn.log_softmax(scores).numpy()
    np.testing.assert_allclose(np.exp(first).sum(1), 1.0, rtol=1e-5)
    later, _ = wrapped(tf.constant([4, 6]), {"inner": {}, "t": tf.constant([1, 1])})
    # after the first piece the scores partition the model's distribution
    np.testing.assert_allclose(np.exp(later.numpy()).sum(1), 1.0, rtol=1e-5)
    assert (later.numpy()[:, np.flatnonzero(STARTS)] < -1e8).all()
