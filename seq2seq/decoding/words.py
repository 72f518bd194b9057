"""The next whole word from a piece-level `step`, for predictive text.

SentencePiece words are one piece that starts a word (`▁the`) followed by
pieces that do not (`▁play` `ing`). `word_step` turns a piece `step` into a
step over the pieces plus one extra id, `word_end = vocabulary`, so that
`beam_search(word_step(...), ..., end_id=word_end)` ranks whole next words
by their probability:

    first piece:   log p(w_1) over the pieces that start a word
                   (renormalised: "given that a word follows")
    later pieces:  log p(w_j) over the pieces that continue a word
    word_end:      log of the summed probability of every other piece (one
                   that starts a word, the end id, control pieces)

After the first piece the scores of a row are a partition of the model's
distribution, so the beam score of `w_1 .. w_n word_end` is
log p(w_1 | a word follows) + log p(w_2 .. w_n, then a boundary).
"""

from __future__ import annotations

import tensorflow as tf

from seq2seq.decoding.search import NEG_INF, _call_step


def word_step(step, starts_word, continues_word, end_id):
    """Wraps `step` to spell one word (see the module docstring).

    Args:
        step: A piece-level `step(ids, state)`.
        starts_word: bool `[vocabulary]`, True for the pieces that begin a
            word (never the end id or control pieces).
        continues_word: bool `[vocabulary]`, True for the pieces that may
            follow inside a word (neither word starts nor control pieces).
        end_id: The end-of-text id: what `ids` equal to `vocabulary` (the
            word end, after a finished hypothesis) are fed to `step` as.

    Returns:
        The new step, over `vocabulary + 1` ids; its state is
        `{"inner": state, "t": [batch] int32}`, built by `word_state`.
    """
    starts_word = tf.constant(starts_word, tf.bool)
    vocabulary = int(starts_word.shape[0])
    boundary = ~tf.constant(continues_word, tf.bool)
    closed = tf.fill([1, 1], NEG_INF)

    def wrapped(ids, state):
        ids = tf.where(ids >= vocabulary, end_id, ids)  # word_end feeds as end
        logits, inner, _ = _call_step(step, ids, state["inner"])
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32))
        rows = tf.shape(log_probs)[0]
        first = tf.concat(
            [tf.where(starts_word, log_probs, NEG_INF), tf.tile(closed, [rows, 1])], 1
        )
        ended = tf.reduce_logsumexp(tf.where(boundary, log_probs, NEG_INF), -1)
        later = tf.concat(
            [tf.where(boundary, NEG_INF, log_probs), ended[:, None]], axis=1
        )
        scores = tf.where(tf.equal(state["t"], 0)[:, None], first, later)
        return scores, {"inner": inner, "t": state["t"] + 1}

    return wrapped


def word_state(state, batch_size):
    """The state `word_step`'s step starts from."""
    return {"inner": state, "t": tf.zeros([batch_size], tf.int32)}
