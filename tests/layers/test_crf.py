"""The CRF against brute-force enumeration of every tag path."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq.layers import CRF
from seq2seq.layers.masking import mask_fill_value
from seq2seq.tagging_schemes import transition_constraints
from tests.layers.layer_contract import assert_config_round_trip

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def make_crf(num_tags, rng, **kwargs):
    crf = CRF(num_tags, dtype="float64", **kwargs)
    crf.build()
    crf.transitions.assign(rng.normal(size=(num_tags, num_tags)))
    crf.start_transitions.assign(rng.normal(size=num_tags))
    crf.end_transitions.assign(rng.normal(size=num_tags))
    return crf


def numpy_scores(crf):
    transitions, start, end = (np.asarray(s) for s in crf.scores())
    return transitions, start, end


def path_score(potentials, path, transitions, start, end):
    score = start[path[0]] + end[path[-1]]
    score += sum(potentials[t, tag] for t, tag in enumerate(path))
    score += sum(transitions[a, b] for a, b in itertools.pairwise(path))
    return score


def brute_force(crf, potentials, lengths):
    """log Z, best path and best score of each sequence, by enumeration."""
    transitions, start, end = numpy_scores(crf)
    results = []
    for x, length in zip(potentials, lengths, strict=True):
        if length == 0:
            results.append((0.0, [], 0.0))
            continue
        paths = list(itertools.product(range(crf.num_tags), repeat=int(length)))
        scores = np.array([path_score(x, p, transitions, start, end) for p in paths])
        log_z = np.log(np.sum(np.exp(scores - scores.max()))) + scores.max()
        best = int(np.argmax(scores))
        results.append((log_z, list(paths[best]), scores[best]))
    return results


def ragged_batch(rng, num_tags, lengths):
    time = max(max(lengths), 1)
    potentials = rng.normal(size=(len(lengths), time, num_tags)) * 2
    mask = np.arange(time)[None, :] < np.array(lengths)[:, None]
    return potentials, mask


@pytest.mark.parametrize("constrained", [False, True])
def test_log_partition_and_viterbi_equal_enumeration(rng, constrained):
    constraints = {}
    if constrained:
        allowed, start, end = transition_constraints(TAGS, "iob2")
        constraints = dict(
            allowed_transitions=allowed, allowed_start=start, allowed_end=end
        )
    crf = make_crf(len(TAGS), rng, **constraints)
    lengths = [4, 1, 3, 0, 5]
    potentials, mask = ragged_batch(rng, len(TAGS), lengths)
    expected = brute_force(crf, potentials, lengths)

    log_z = crf.log_partition(potentials, mask).numpy()
    tags, scores = (t.numpy() for t in crf.decode(potentials, mask))
    for i, (length, (want_z, want_path, want_score)) in enumerate(
        zip(lengths, expected, strict=True)
    ):
        np.testing.assert_allclose(log_z[i], want_z, rtol=1e-9, atol=1e-5)
        assert tags[i, :length].tolist() == want_path
        assert (tags[i, length:] == 0).all()
        np.testing.assert_allclose(scores[i], want_score, atol=1e-6)


def test_constrained_paths_are_valid_iob2(rng):
    allowed, start, end = transition_constraints(TAGS, "iob2")
    crf = make_crf(len(TAGS), rng, allowed_transitions=allowed, allowed_start=start)
    # Potentials that favour I- tags everywhere: an unconstrained decoder would
    # start with I-PER; the constrained one may not.
    potentials = rng.normal(size=(8, 6, len(TAGS)))
    potentials[:, :, 2] += 5.0
    tags, _ = crf.decode(potentials)
    for path in tags.numpy():
        assert start[path[0]]
        for a, b in itertools.pairwise(path):
            assert allowed[a][b], (TAGS[a], TAGS[b])


def test_forbidden_paths_carry_no_probability(rng):
    allowed, start, end = transition_constraints(TAGS, "iob2")
    crf = make_crf(len(TAGS), rng, allowed_transitions=allowed, allowed_start=start)
    potentials, mask = ragged_batch(rng, len(TAGS), [3])
    transitions, start_s, end_s = numpy_scores(crf)
    valid_paths = [
        p
        for p in itertools.product(range(len(TAGS)), repeat=3)
        if start[p[0]] and all(allowed[a][b] for a, b in itertools.pairwise(p))
    ]
    scores = [
        path_score(potentials[0], p, transitions, start_s, end_s) for p in valid_paths
    ]
    valid_log_z = np.log(np.sum(np.exp(scores)))
    # Forbidden paths are exp(mask_fill_value) = 0 of the partition.
    np.testing.assert_allclose(
        crf.log_partition(potentials, mask).numpy()[0], valid_log_z, atol=1e-6
    )
    assert mask_fill_value(crf.dtype) < -1000


def test_log_likelihood_is_a_distribution(rng):
    crf = make_crf(3, rng)
    potentials, mask = ragged_batch(rng, 3, [4])
    paths = np.array(list(itertools.product(range(3), repeat=4)))
    repeated = np.repeat(potentials, len(paths), axis=0)
    log_p = crf.log_likelihood(repeated, paths, np.repeat(mask, len(paths), 0))
    np.testing.assert_allclose(np.exp(log_p.numpy()).sum(), 1.0, atol=1e-9)


def test_gradients_equal_expected_counts_and_finite_differences(rng):
    """d(-log p)/dx[t, j] = P(y_t = j) - [gold_t = j]: check it both ways."""
    crf = make_crf(3, rng)
    lengths = [4, 2]
    potentials, mask = ragged_batch(rng, 3, lengths)
    gold = rng.integers(0, 3, size=mask.shape)
    x = tf.constant(potentials)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        loss = tf.reduce_sum(crf.negative_log_likelihood(x, gold, mask))
    grad_x = tape.gradient(loss, x).numpy()
    grad_transitions = tape.gradient(loss, crf.transitions).numpy()

    transitions, start, end = numpy_scores(crf)
    for i, length in enumerate(lengths):
        paths = list(itertools.product(range(3), repeat=length))
        scores = np.array(
            [path_score(potentials[i], p, transitions, start, end) for p in paths]
        )
        probs = np.exp(scores - scores.max())
        probs /= probs.sum()
        marginals = np.zeros((potentials.shape[1], 3))
        for p, prob in zip(paths, probs, strict=True):
            for t, tag in enumerate(p):
                marginals[t, tag] += prob
        expected = marginals.copy()
        for t in range(length):
            expected[t, gold[i, t]] -= 1
        np.testing.assert_allclose(grad_x[i], expected, atol=1e-9)

    def total_loss():
        return float(tf.reduce_sum(crf.negative_log_likelihood(potentials, gold, mask)))

    eps = 1e-6
    original = crf.transitions.numpy()
    numeric = np.zeros_like(original)
    for a in range(3):
        for b in range(3):
            for sign in (1, -1):
                shifted = original.copy()
                shifted[a, b] += sign * eps
                crf.transitions.assign(shifted)
                numeric[a, b] += sign * total_loss() / (2 * eps)
    crf.transitions.assign(original)
    np.testing.assert_allclose(grad_transitions, numeric, atol=1e-6)


def test_padding_changes_nothing(rng):
    crf = make_crf(4, rng)
    lengths = [5, 2, 3]
    potentials, mask = ragged_batch(rng, 4, lengths)
    gold = rng.integers(0, 4, size=mask.shape)
    batch_nll = crf.negative_log_likelihood(potentials, gold, mask).numpy()
    batch_tags = crf.decode(potentials, mask)[0].numpy()
    for i, length in enumerate(lengths):
        alone = potentials[i : i + 1, :length]
        np.testing.assert_allclose(
            crf.negative_log_likelihood(alone, gold[i : i + 1, :length])[0],
            batch_nll[i],
            atol=1e-9,
        )
        assert (
            crf.decode(alone)[0].numpy()[0].tolist() == batch_tags[i, :length].tolist()
        )


def test_zero_steps_and_all_padding():
    crf = CRF(3)
    tags, scores = crf(tf.zeros([2, 0, 3]))
    assert tags.shape == (2, 0) and scores.numpy().tolist() == [0.0, 0.0]
    potentials = tf.random.normal([2, 4, 3])
    mask = tf.constant([[False] * 4, [True, True, False, False]])
    nll = crf.negative_log_likelihood(potentials, tf.zeros([2, 4], tf.int32), mask)
    assert nll.numpy()[0] == 0.0 and np.isfinite(nll.numpy()).all()


def test_xla_equals_eager(rng):
    allowed, start, end = transition_constraints(TAGS, "iob2")
    crf = CRF(len(TAGS), allowed_transitions=allowed, allowed_start=start)
    crf.build()
    potentials, mask = ragged_batch(rng, len(TAGS), [6, 3, 1])
    potentials = potentials.astype("float32")
    gold = rng.integers(0, len(TAGS), size=mask.shape)

    def run(x, m, y):
        tags, scores = crf.decode(x, m)
        return tags, scores, crf.negative_log_likelihood(x, y, m)

    eager = run(potentials, mask, gold)
    compiled = tf.function(run, jit_compile=True)(potentials, mask, gold)
    assert (eager[0].numpy() == compiled[0].numpy()).all()
    np.testing.assert_allclose(eager[1], compiled[1], atol=1e-4)
    np.testing.assert_allclose(eager[2], compiled[2], atol=1e-4)


@pytest.mark.parametrize(
    ("scheme", "tags", "allowed_pairs", "forbidden_pairs", "bad_start", "bad_end"),
    [
        (
            "iob2",
            ["O", "B-PER", "I-PER", "I-LOC"],
            [("B-PER", "I-PER"), ("I-PER", "I-PER"), ("O", "B-PER")],
            [("O", "I-PER"), ("B-PER", "I-LOC"), ("I-LOC", "I-PER")],
            ["I-PER", "I-LOC"],
            [],
        ),
        (
            "iob1",
            ["O", "B-PER", "I-PER", "I-LOC"],
            [("O", "I-PER"), ("I-PER", "B-PER"), ("I-LOC", "I-PER")],
            [("O", "B-PER"), ("I-LOC", "B-PER")],
            ["B-PER"],
            [],
        ),
        (
            "iobes",
            ["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-LOC"],
            [("B-PER", "E-PER"), ("E-PER", "S-LOC"), ("S-PER", "B-PER")],
            [("B-PER", "O"), ("O", "I-PER"), ("I-PER", "S-PER"), ("E-PER", "E-PER")],
            ["I-PER", "E-PER"],
            ["B-PER", "I-PER"],
        ),
    ],
)
def test_transition_constraints(
    scheme, tags, allowed_pairs, forbidden_pairs, bad_start, bad_end
):
    allowed, start, end = transition_constraints(tags, scheme)
    index = {t: i for i, t in enumerate(tags)}
    for a, b in allowed_pairs:
        assert allowed[index[a]][index[b]], (a, b)
    for a, b in forbidden_pairs:
        assert not allowed[index[a]][index[b]], (a, b)
    assert [t for t in tags if not start[index[t]]] == bad_start
    assert [t for t in tags if not end[index[t]]] == bad_end


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="allowed_transitions must have shape"):
        CRF(3, allowed_transitions=[[True] * 3] * 2)
    with pytest.raises(ValueError, match="fits no IOB2 tag"):
        transition_constraints(["O", "S-PER"], "iob2")
    with pytest.raises(ValueError, match="scheme"):
        transition_constraints(["O"], "bio")


def test_config_round_trip_and_saving(tmp_path):
    allowed, start, end = transition_constraints(TAGS, "iob2")
    crf = CRF(len(TAGS), allowed_transitions=allowed, allowed_start=start)
    assert_config_round_trip(crf)
    inputs = keras.Input((None, len(TAGS)))
    model = keras.Model(inputs, crf(inputs)[0])
    x = np.random.default_rng(0).normal(size=(2, 5, len(TAGS))).astype("float32")
    model.save(tmp_path / "crf.keras")
    reloaded = keras.models.load_model(tmp_path / "crf.keras")
    assert (reloaded.predict(x, verbose=0) == model.predict(x, verbose=0)).all()
