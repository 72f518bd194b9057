"""Decoders on scripted and tabulated steps: known sequences, brute force."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from seq2seq.decoding import (
    beam_search,
    coverage_penalty,
    greedy_search,
    length_penalty,
    sample,
)

END = 1


def scripted_step(scripts, vocabulary=8):
    """A step that emits `scripts[b][t]` with certainty; the state counts t."""
    width = max(len(s) for s in scripts)
    table = np.full((len(scripts), width + 8), END)
    for row, script in enumerate(scripts):
        table[row, : len(script)] = script
    table = tf.constant(table, tf.int32)

    def step(ids, state):
        t, row = state["t"], state["row"]
        wanted = tf.gather_nd(table, tf.stack([row, t], axis=1))
        logits = tf.one_hot(wanted, vocabulary, on_value=10.0, off_value=-10.0)
        return logits, {"t": t + 1, "row": row}

    state = {"t": tf.zeros([len(scripts)], tf.int32), "row": tf.range(len(scripts))}
    return step, state


def table_step(seed, vocabulary=5):
    """Logits depend only on the previous token: `table[previous]`."""
    table = tf.constant(
        np.random.default_rng(seed).normal(size=(vocabulary, vocabulary)) * 2,
        tf.float32,
    )

    def step(ids, state):
        return tf.gather(table, ids), state

    return step, table


SCRIPTS = [[5, 3, 4, END], [2, END], [6, 6, 6, 6, 6, 6]]


def test_greedy_follows_the_script_and_stops_at_end():
    step, state = scripted_step(SCRIPTS)
    ids, lengths, scores = greedy_search(
        step, state, tf.fill([3], 2), END, max_length=6
    )
    assert ids.numpy().tolist() == [
        [5, 3, 4, END, END, END],
        [2, END, END, END, END, END],
        [6, 6, 6, 6, 6, 6],
    ]
    assert lengths.numpy().tolist() == [4, 2, 6]  # the last hits max_length
    # Each step is near-certain: log-probability log(1 / (1 + 7 e^-20)) ~ 0.
    np.testing.assert_allclose(scores, [0.0, 0.0, 0.0], atol=1e-6)


def test_end_token_stops_the_loop_for_every_decoder():
    """END is near-certain from the first step: decoding stops long before
    max_length. Greedy and sampling stop after one step; beam search one step
    later, once its other beams (forced off END at the first step, where only
    one beam is live) have ended too."""
    steps_run = tf.Variable(0)

    def step(ids, state):
        steps_run.assign_add(1)
        return tf.one_hot(tf.fill(tf.shape(ids), END), 4) * 5.0, state

    decoders = {
        "greedy": greedy_search,
        "beam": lambda *a, **k: beam_search(*a, beam_size=3, **k),
        "sample": lambda *a, **k: sample(*a, seed=[0, 1], **k),
    }
    for name, decode in decoders.items():
        steps_run.assign(0)
        ids, lengths, _ = tf.function(
            lambda start, decode=decode: decode(
                step, tf.zeros([2]), start, END, max_length=9
            )
        )(tf.fill([2], 2))
        assert int(steps_run.numpy()) == (2 if name == "beam" else 1), name
        best = np.asarray(ids)[:, 0] if name == "beam" else np.asarray(ids)
        assert np.all(best == END)


def test_scripted_beam_search_and_top_k_sampling_agree_with_the_script():
    step, state = scripted_step(SCRIPTS)
    ids, lengths, _ = beam_search(step, state, tf.fill([3], 2), END, 6, beam_size=3)
    assert (
        ids[:, 0].numpy().tolist()
        == greedy_search(step, state, tf.fill([3], 2), END, 6)[0].numpy().tolist()
    )
    sampled, _, _ = sample(step, state, tf.fill([3], 2), END, 6, top_k=1, seed=[3, 4])
    assert sampled.numpy().tolist()[0] == [5, 3, 4, END, END, END]


@pytest.mark.parametrize("seed", range(5))
def test_beam_size_one_equals_greedy(seed):
    step, _ = table_step(seed)
    start = tf.constant([0, 2, 3, 4])
    greedy = greedy_search(step, tf.zeros([4]), start, END, 8)
    beam = beam_search(step, tf.zeros([4]), start, END, 8, beam_size=1)
    np.testing.assert_array_equal(beam[0][:, 0], greedy[0])
    np.testing.assert_array_equal(beam[1][:, 0], greedy[1])
    np.testing.assert_allclose(beam[2][:, 0], greedy[2], rtol=1e-5)


def _exhaustive(table, start, max_length, alpha):
    """Every sequence up to max_length (ending at END or the limit), scored."""
    log_probs = tf.nn.log_softmax(table).numpy()
    vocabulary = table.shape[0]
    results = []
    for length in range(1, max_length + 1):
        for tokens in itertools.product(range(vocabulary), repeat=length):
            if END in tokens[:-1] or (length < max_length and tokens[-1] != END):
                continue
            previous = (start,) + tokens[:-1]
            total = sum(log_probs[p, t] for p, t in zip(previous, tokens, strict=True))
            penalty = ((5 + length) / 6) ** alpha
            results.append((total / penalty, tokens))
    return sorted(results, reverse=True)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("seed", range(3))
def test_wide_beam_finds_the_exhaustive_best_and_scores_are_sorted(seed, alpha):
    step, table = table_step(seed, vocabulary=4)
    best = _exhaustive(table, 2, 4, alpha)
    ids, lengths, scores = beam_search(
        step,
        tf.zeros([1]),
        tf.constant([2]),
        END,
        4,
        beam_size=64,
        length_penalty_alpha=alpha,
    )
    scores = scores.numpy()[0]
    assert np.all(np.diff(scores) <= 1e-6)  # best first
    top_score, top_tokens = best[0]
    np.testing.assert_allclose(scores[0], top_score, rtol=1e-5)
    assert tuple(ids.numpy()[0, 0, : lengths.numpy()[0, 0]]) == top_tokens
    # The k best beams are the k best sequences.
    np.testing.assert_allclose(scores[:5], [s for s, _ in best[:5]], rtol=1e-5)


def test_beam_beats_greedy_where_greedy_is_trapped():
    # From 2: token 3 looks best (0.6) but leads to a flat distribution;
    # token 4 (0.4) leads to END with certainty.
    probs = np.full((5, 5), 1e-6)
    probs[2, 3], probs[2, 4] = 0.6, 0.4
    probs[3, :] = 0.2
    probs[4, END] = 1.0
    table = tf.constant(np.log(probs / probs.sum(axis=1, keepdims=True)), tf.float32)

    def step(ids, state):
        return tf.gather(table, ids), state

    greedy = greedy_search(step, tf.zeros([1]), tf.constant([2]), END, 2)
    beam = beam_search(step, tf.zeros([1]), tf.constant([2]), END, 2, beam_size=2)
    assert greedy[0].numpy()[0].tolist()[0] == 3
    assert beam[0].numpy()[0, 0].tolist() == [4, END]
    assert beam[2].numpy()[0, 0] > greedy[2].numpy()[0]


def test_length_penalty_and_max_length_ratio():
    np.testing.assert_allclose(length_penalty(tf.constant([1, 7]), 1.0), [1.0, 2.0])
    step, state = scripted_step([[6] * 10, [6] * 10])
    ids, lengths, _ = greedy_search(
        step,
        state,
        tf.fill([2], 2),
        END,
        10,
        source_lengths=tf.constant([2, 5]),
        max_length_ratio=1.0,
    )
    assert lengths.numpy().tolist() == [3, 6]  # ratio * source + 1, capped at 10


def test_coverage_penalty_enters_the_score():
    attention = tf.constant([[0.7, 0.3, 0.0]])

    def step(ids, state):
        logits = tf.one_hot(tf.fill(tf.shape(ids), END), 4) * 30.0
        return logits, state, tf.tile(attention, [tf.shape(ids)[0], 1])

    source_mask = tf.constant([[True, True, False]])
    _, _, scores = beam_search(
        step,
        tf.zeros([1]),
        tf.constant([2]),
        END,
        3,
        beam_size=2,
        coverage_penalty_beta=0.5,
        source_mask=source_mask,
    )
    expected = 0.5 * (np.log(0.7) + np.log(0.3))  # one step, padding not counted
    np.testing.assert_allclose(scores.numpy()[0, 0], expected, atol=1e-4)
    np.testing.assert_allclose(
        coverage_penalty(tf.constant([[2.0, 0.5]]), 1.0), [np.log(0.5)], rtol=1e-6
    )


def test_top_p_and_top_k_limit_what_sampling_draws():
    logits = tf.math.log(tf.constant([0.5, 0.3, 0.15, 0.05]))

    def step(ids, state):
        return tf.tile(logits[None], [tf.shape(ids)[0], 1]), state

    start = tf.fill([400], 3)
    drawn, _, _ = sample(
        step, tf.zeros([400]), start, end_id=99, max_length=1, top_p=0.7, seed=[1, 2]
    )
    assert set(np.unique(drawn.numpy()[:, 0])) == {0, 1}
    drawn, _, _ = sample(
        step, tf.zeros([400]), start, end_id=99, max_length=1, top_k=3, seed=[1, 2]
    )
    assert set(np.unique(drawn.numpy()[:, 0])) == {0, 1, 2}
    freq = np.bincount(drawn.numpy()[:, 0], minlength=4) / 400
    np.testing.assert_allclose(freq[:3], np.array([0.5, 0.3, 0.15]) / 0.95, atol=0.07)
    cold, _, _ = sample(
        step,
        tf.zeros([400]),
        start,
        end_id=99,
        max_length=1,
        temperature=0.01,
        seed=[5, 6],
    )
    assert np.all(cold.numpy() == 0)
    again, _, _ = sample(
        step, tf.zeros([400]), start, end_id=99, max_length=1, top_k=3, seed=[1, 2]
    )
    np.testing.assert_array_equal(again, drawn)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample(step, tf.zeros([1]), start[:1], 99, 1, temperature=0.0)


def test_decoders_compile_under_xla_and_match_eager():
    step, _ = table_step(7)
    start = tf.constant([0, 3])
    compiled = tf.function(
        lambda s: beam_search(
            step, tf.zeros([2]), s, END, 6, beam_size=3, length_penalty_alpha=0.6
        ),
        jit_compile=True,
    )(start)
    eager = beam_search(
        step, tf.zeros([2]), start, END, 6, beam_size=3, length_penalty_alpha=0.6
    )
    for a, b in zip(compiled, eager, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5)


def test_beam_search_max_length_ratio_bounds_every_beam():
    # The script never ends: each example stops at ratio * source + 1 tokens,
    # every beam alike, the rest padded with END; max_length caps the ratio.
    step, state = scripted_step([[6] * 12] * 3)
    ids, lengths, scores = beam_search(
        step,
        state,
        tf.fill([3], 2),
        END,
        8,
        beam_size=2,
        source_lengths=tf.constant([2, 4, 9]),
        max_length_ratio=1.5,
    )
    assert lengths.numpy().tolist() == [[4, 4], [7, 7], [8, 8]]
    best = ids.numpy()[:, 0]
    assert best.tolist() == [
        [6, 6, 6, 6, END, END, END, END],
        [6, 6, 6, 6, 6, 6, 6, END],
        [6] * 8,
    ]
    assert np.all(np.isfinite(scores.numpy()))


def xla_and_eager(decode, *arguments):
    compiled = tf.function(decode, jit_compile=True)(*arguments)
    return compiled, decode(*arguments)


def test_greedy_search_under_xla_equals_eager():
    step, _ = table_step(3, vocabulary=6)
    start = tf.constant([0, 2, 4, 5])
    source_lengths = tf.constant([1, 6, 3, 2])

    def decode(start, source_lengths):
        return greedy_search(
            step,
            tf.zeros([4]),
            start,
            END,
            7,
            source_lengths=source_lengths,
            max_length_ratio=1.0,
        )

    (ids, lengths, scores), (ids_eager, lengths_eager, scores_eager) = xla_and_eager(
        decode, start, source_lengths
    )
    np.testing.assert_array_equal(ids, ids_eager)
    np.testing.assert_array_equal(lengths, lengths_eager)
    np.testing.assert_allclose(scores, scores_eager, rtol=1e-5)
    assert np.all(lengths.numpy() <= [2, 7, 4, 3])  # ratio * source + 1, or 7
    # Greedy's first token is each start's argmax in the table.
    np.testing.assert_array_equal(ids[:, 0], np.argmax(step(start, None)[0], -1))


def test_sampling_under_xla_is_seeded_limited_and_scored():
    """XLA draws other numbers than eager from the same seed (its own
    kernels), so the compiled draws are checked against the table itself."""
    step, table = table_step(5, vocabulary=6)
    start = tf.fill([400], 3)

    def decode(start):
        return sample(step, tf.zeros([400]), start, END, 5, top_k=2, seed=[3, 4])

    compiled = tf.function(decode, jit_compile=True)
    ids, lengths, scores = (t.numpy() for t in compiled(start))
    np.testing.assert_array_equal(compiled(start)[0], ids)  # seeded
    log_probs = tf.nn.log_softmax(table).numpy()
    top_two = np.argsort(log_probs, -1)[:, -2:]
    for row in range(400):
        previous, expected_score = 3, 0.0
        for t in range(lengths[row]):
            token = ids[row, t]
            assert token in top_two[previous], (row, t)  # top_k=2 holds
            expected_score += log_probs[previous, token]
            previous = token
        # It stopped at END or at max_length, and is padded with END after.
        assert ids[row, lengths[row] - 1] == END or lengths[row] == 5
        assert np.all(ids[row, lengths[row] :] == END)
        np.testing.assert_allclose(scores[row], expected_score, rtol=1e-5)
    # The first token follows the top-2 renormalized probabilities after 3.
    first = np.bincount(ids[:, 0], minlength=6)[top_two[3]] / 400
    wanted = np.exp(log_probs[3, top_two[3]])
    np.testing.assert_allclose(first, wanted / wanted.sum(), atol=0.08)
