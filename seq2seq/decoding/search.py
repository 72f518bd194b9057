"""Greedy search, beam search and sampling over a `step` callable.

The decoders know nothing about models. A model offers one function,

    step(ids, state) -> (logits, new_state)               or
    step(ids, state) -> (logits, new_state, attention)

where `ids` is `[batch]` int32 (the previous token of each hypothesis),
`state` any nest of `[batch, ...]` tensors, `logits` is `[batch, vocabulary]`,
and `attention`, optional, is `[batch, source_length]` (the coverage penalty
needs it). Teacher forcing, greedy, beam search and sampling all drive the
same `step`. Every loop is a `tf.while_loop` with a static bound, so the
decoders compile under `tf.function(jit_compile=True)`.

Why beam search is written here: Keras-hub's `BeamSampler` has no length or
coverage penalty, no per-example maximum length and returns no n-best lists;
TF Addons' `BeamSearchDecoder`, which had them, is end-of-life and Keras 2
only.
"""

from __future__ import annotations

import tensorflow as tf

from seq2seq.layers import masking

# Log-probabilities are float32 here: the fill of a hypothesis or token
# that must never be chosen.
NEG_INF = masking.mask_fill_value(tf.float32)


def _call_step(step, ids, state):
    result = step(ids, state)
    if len(result) == 3:
        return result
    logits, state = result
    return logits, state, None


def max_lengths(batch_size, max_length, source_lengths=None, max_length_ratio=None):
    """Per-example limits: `max_length`, or `ratio * source_length + 1` capped by it.

    Args:
        batch_size: Scalar.
        max_length: Python int, the hard bound on generated tokens.
        source_lengths: Optional `[batch]` source lengths.
        max_length_ratio: With `source_lengths`, the limit relative to them.
    """
    limit = tf.fill([batch_size], tf.constant(max_length, tf.int32))
    if source_lengths is not None and max_length_ratio is not None:
        relative = tf.cast(
            tf.math.ceil(tf.cast(source_lengths, tf.float32) * max_length_ratio),
            tf.int32,
        )
        limit = tf.minimum(limit, relative + 1)
    return limit


def _write(tokens, t, chosen):
    """`tokens[:, t] = chosen` on a preallocated `[batch, max_length]`."""
    position = tf.range(tf.shape(tokens)[1])[None, :] == t
    return tf.where(position, chosen[:, None], tokens)


def _decode(step, initial_state, start_ids, end_id, max_length, limits, choose):
    """The loop shared by greedy search and sampling.

    `choose(logits, t) -> [batch]` picks each next token.
    """
    batch_size = tf.shape(start_ids)[0]

    def body(t, ids, state, finished, lengths, scores, tokens):
        logits, state, _ = _call_step(step, ids, state)
        logits = tf.cast(logits, tf.float32)
        chosen = tf.where(finished, end_id, choose(logits, t))
        gained = tf.gather(tf.nn.log_softmax(logits), chosen, batch_dims=1)
        scores += tf.where(finished, 0.0, gained)
        lengths += tf.cast(~finished, tf.int32)
        finished = finished | tf.equal(chosen, end_id) | (t + 1 >= limits)
        return (
            t + 1,
            chosen,
            state,
            finished,
            lengths,
            scores,
            _write(tokens, t, chosen),
        )

    _, _, _, _, lengths, scores, tokens = tf.while_loop(
        lambda t, ids, state, finished, *_: (t < max_length) & ~tf.reduce_all(finished),
        body,
        (
            tf.constant(0),
            start_ids,
            initial_state,
            tf.zeros([batch_size], tf.bool),
            tf.zeros([batch_size], tf.int32),
            tf.zeros([batch_size], tf.float32),
            tf.fill([batch_size, max_length], tf.constant(end_id, tf.int32)),
        ),
        maximum_iterations=max_length,
    )
    return tokens, lengths, scores


def greedy_search(
    step,
    initial_state,
    start_ids,
    end_id,
    max_length,
    source_lengths=None,
    max_length_ratio=None,
):
    """Picks the most likely token at every step.

    Args:
        step: See the module docstring.
        initial_state: Nest of `[batch, ...]` tensors.
        start_ids: `[batch]` int32, the first input (usually BOS).
        end_id: The end token; a sequence stops after emitting it.
        max_length: Hard bound on generated tokens (a Python int).
        source_lengths, max_length_ratio: Optional per-example bound, see
            `max_lengths`.

    Returns:
        `(ids, lengths, scores)`: `[batch, max_length]` int32 tokens, padded
        with `end_id` after the end; `[batch]` lengths counting the end token;
        `[batch]` summed log-probabilities.
    """
    start_ids = tf.cast(start_ids, tf.int32)
    limits = max_lengths(
        tf.shape(start_ids)[0], max_length, source_lengths, max_length_ratio
    )
    return _decode(
        step,
        initial_state,
        start_ids,
        end_id,
        max_length,
        limits,
        lambda logits, t: tf.argmax(logits, axis=-1, output_type=tf.int32),
    )


def length_penalty(lengths, alpha):
    """GNMT's length penalty, `((5 + length) / 6) ** alpha` (Wu et al. 2016)."""
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, alpha)


def coverage_penalty(coverage, beta, source_mask=None):
    """GNMT's coverage penalty, `beta * sum_j log(min(coverage_j, 1))`."""
    penalty = tf.math.log(tf.minimum(coverage, 1.0) + 1e-12)
    if source_mask is not None:
        penalty = tf.where(source_mask, penalty, 0.0)
    return beta * tf.reduce_sum(penalty, axis=-1)


def _tile_beams(nest, beam_size):
    """`[batch, ...]` -> `[batch * beam, ...]`, each row repeated."""
    return tf.nest.map_structure(lambda t: tf.repeat(t, beam_size, axis=0), nest)


def beam_search(
    step,
    initial_state,
    start_ids,
    end_id,
    max_length,
    beam_size,
    length_penalty_alpha=0.0,
    coverage_penalty_beta=0.0,
    source_lengths=None,
    max_length_ratio=None,
    source_mask=None,
):
    """Keeps the `beam_size` best hypotheses at every step.

    Scores are summed log-probabilities divided by the length penalty, plus
    the coverage penalty when `coverage_penalty_beta > 0` (which needs the
    step to return attention). Decoding stops once every beam of every
    example has emitted `end_id` or reached its maximum length.

    Args:
        step, initial_state, start_ids, end_id, max_length, source_lengths,
            max_length_ratio: As in `greedy_search`; the step is called on
            `batch * beam_size` rows.
        beam_size: Hypotheses kept per example.
        length_penalty_alpha: 0 ranks by total log-probability; larger
            values favour longer outputs (GNMT uses 0.6 to 1.0).
        coverage_penalty_beta: Weight of the coverage penalty (0 disables it).
        source_mask: Optional `[batch, source_length]` boolean mask, so
            padding does not count as uncovered.

    Returns:
        `(ids, lengths, scores)`: `[batch, beam_size, max_length]`,
        `[batch, beam_size]` and `[batch, beam_size]`, best first.
    """
    start_ids = tf.cast(start_ids, tf.int32)
    batch_size = tf.shape(start_ids)[0]
    rows = batch_size * beam_size
    limits = tf.repeat(
        max_lengths(batch_size, max_length, source_lengths, max_length_ratio),
        beam_size,
    )
    state = _tile_beams(initial_state, beam_size)
    if source_mask is not None:
        source_mask = tf.repeat(tf.cast(source_mask, tf.bool), beam_size, axis=0)
    # Only the first beam of each example is live at the start, so the first
    # step does not fill the beam with copies of one hypothesis.
    first = tf.tile(tf.constant([0.0] + [NEG_INF] * (beam_size - 1)), [batch_size])
    history = tf.fill([rows, max_length], tf.constant(end_id, tf.int32))

    def body(t, ids, state, finished, lengths, log_probs_sum, coverage, history):
        logits, state, attention = _call_step(step, ids, state)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32))
        vocabulary = tf.shape(log_probs)[-1]
        # A finished hypothesis extends only with end_id, at no cost.
        only_end = tf.one_hot(end_id, vocabulary, on_value=0.0, off_value=NEG_INF)
        log_probs = tf.where(finished[:, None], only_end[None, :], log_probs)
        total = log_probs_sum[:, None] + log_probs  # [rows, vocabulary]
        new_lengths = lengths[:, None] + tf.cast(~finished, tf.int32)[:, None]
        new_coverage = coverage
        if attention is not None and coverage_penalty_beta > 0:
            new_coverage = coverage + tf.where(
                finished[:, None], 0.0, tf.cast(attention, tf.float32)
            )
        ranked = total / length_penalty(new_lengths, length_penalty_alpha)
        if coverage_penalty_beta > 0 and attention is not None:
            ranked += coverage_penalty(
                new_coverage, coverage_penalty_beta, source_mask
            )[:, None]
        flat = tf.reshape(ranked, [batch_size, beam_size * vocabulary])
        _, best = tf.math.top_k(flat, k=beam_size)  # [batch, beam]
        parent = best // vocabulary + tf.range(batch_size)[:, None] * beam_size
        parent = tf.reshape(parent, [rows])
        token = tf.reshape(best % vocabulary, [rows])
        total = tf.gather(tf.reshape(total, [-1]), parent * vocabulary + token)
        lengths = tf.gather(tf.reshape(new_lengths, [-1]), parent)
        was_finished = tf.gather(finished, parent)
        state = tf.nest.map_structure(lambda s: tf.gather(s, parent), state)
        coverage = tf.gather(new_coverage, parent)
        history = _write(tf.gather(history, parent), t, token)
        finished = was_finished | tf.equal(token, end_id) | (t + 1 >= limits)
        return t + 1, token, state, finished, lengths, total, coverage, history

    source_length = 1
    if source_mask is not None:
        source_length = tf.shape(source_mask)[1]
    coverage = tf.zeros([rows, source_length], tf.float32)
    _, _, _, _, lengths, totals, coverage, history = tf.while_loop(
        lambda t, ids, state, finished, *_: (t < max_length) & ~tf.reduce_all(finished),
        body,
        (
            tf.constant(0),
            tf.repeat(start_ids, beam_size),
            state,
            tf.zeros([rows], tf.bool),
            tf.zeros([rows], tf.int32),
            first,
            coverage,
            history,
        ),
        maximum_iterations=max_length,
    )
    scores = totals / length_penalty(lengths, length_penalty_alpha)
    if coverage_penalty_beta > 0:
        scores += coverage_penalty(coverage, coverage_penalty_beta, source_mask)
    ids = tf.reshape(history, [batch_size, beam_size, max_length])
    scores = tf.reshape(scores, [batch_size, beam_size])
    lengths = tf.reshape(lengths, [batch_size, beam_size])
    # Sort each example's beams best first (ties keep beam order).
    order = tf.argsort(scores, axis=-1, direction="DESCENDING", stable=True)
    return (
        tf.gather(ids, order, batch_dims=1),
        tf.gather(lengths, order, batch_dims=1),
        tf.gather(scores, order, batch_dims=1),
    )


def sample(
    step,
    initial_state,
    start_ids,
    end_id,
    max_length,
    temperature=1.0,
    top_k=0,
    top_p=1.0,
    seed=None,
    source_lengths=None,
    max_length_ratio=None,
):
    """Draws each token from the softmax, with temperature, top-k and top-p.

    Args:
        temperature: Logits are divided by it (lower is greedier).
        top_k: If > 0, only the `top_k` most likely tokens can be drawn.
        top_p: If < 1, only the smallest set of most likely tokens whose
            probability reaches `top_p` can be drawn (nucleus sampling).
        seed: Optional `[2]` int seed (a list or a tensor) for reproducible
            draws (`tf.random.stateless_categorical`).
        The other arguments: as in `greedy_search`.

    Returns:
        `(ids, lengths, scores)` as `greedy_search`; scores are the
        log-probabilities of the drawn tokens under the untempered model.
    """
    start_ids = tf.cast(start_ids, tf.int32)
    batch_size = tf.shape(start_ids)[0]
    limits = max_lengths(batch_size, max_length, source_lengths, max_length_ratio)
    seed = tf.cast(tf.convert_to_tensor([0, 0] if seed is None else seed), tf.int32)
    if not temperature > 0:
        raise ValueError(
            f"temperature must be > 0. Received: temperature={temperature}"
        )
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1]. Received: top_p={top_p}")

    def filtered(logits):
        logits = logits / temperature
        vocabulary = tf.shape(logits)[-1]
        if top_k:
            kth = tf.math.top_k(logits, k=tf.minimum(top_k, vocabulary)).values[:, -1:]
            logits = tf.where(logits < kth, NEG_INF, logits)
        if top_p < 1.0:
            sorted_logits = tf.sort(logits, direction="DESCENDING")
            probs = tf.nn.softmax(sorted_logits)
            # Keep a token if the mass before it is still below top_p.
            before = tf.cumsum(probs, axis=-1, exclusive=True)
            kept = tf.where(before < top_p, sorted_logits, tf.float32.max)
            threshold = tf.reduce_min(kept, axis=-1, keepdims=True)
            logits = tf.where(logits < threshold, NEG_INF, logits)
        return logits

    def choose(logits, t):
        step_seed = tf.random.experimental.stateless_fold_in(seed, t)
        return tf.random.stateless_categorical(
            filtered(logits), 1, step_seed, dtype=tf.int32
        )[:, 0]

    return _decode(step, initial_state, start_ids, end_id, max_length, limits, choose)
