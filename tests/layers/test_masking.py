"""One masking fill per dtype: every masked op stays finite in float16/bfloat16.

Each op runs on a batch whose last row is all padding, under the
`mixed_float16` and `mixed_bfloat16` policies (float32 weights, half-precision
compute): values and gradients must be finite, the all-padding row must give
the documented neutral result, and the valid rows must match float32.
"""

import numpy as np
import pytest
import tensorflow as tf

from seq2seq import decoding
from seq2seq.layers import CRF, BahdanauAttention, LuongAttention, SequencePooling
from seq2seq.layers.masking import fill_masked, mask_fill_value

HALF = ["float16", "bfloat16"]
# Half-precision results against float32: float16 keeps 11 bits, bfloat16 8.
TOLERANCE = {"float16": 2e-2, "bfloat16": 1e-1}


def test_fill_is_finite_and_its_exp_vanishes_in_every_float_dtype():
    for dtype in [tf.float16, tf.bfloat16, tf.float32, tf.float64]:
        fill = tf.constant(mask_fill_value(dtype), dtype)
        assert np.isfinite(float(fill)), dtype
        # Four fills added (a forbidden CRF start + transition + end) stay finite.
        assert np.isfinite(float(fill * 4)), dtype
        assert float(tf.exp(fill)) == 0.0, dtype
    assert mask_fill_value(tf.float32) == -1e9
    assert mask_fill_value(tf.float16) == -65504.0 / 8
    with pytest.raises(ValueError, match="float dtype. Received: dtype=int32"):
        mask_fill_value(tf.int32)


def test_fill_masked_keeps_valid_scores_and_fills_the_rest():
    scores = tf.constant([[1.0, 2.0, 3.0]], tf.float16)
    filled = fill_masked(scores, tf.constant([[True, False, True]]))
    np.testing.assert_array_equal(filled.numpy(), [[1.0, -8188.0, 3.0]])


def padded_batch(rng, time=5, features=6):
    """`[3, time, features]` floats; row lengths 5, 2 and 0 (all padding)."""
    x = rng.normal(size=(3, time, features)).astype("float32")
    mask = np.arange(time)[None, :] < np.array([[5], [2], [0]])
    return x, mask


def run(make_layer, compute, inputs, policy):
    """Values and gradients (w.r.t. the float inputs) of `compute` under a
    policy, with the weights of one float32 layer copied into each run."""
    reference = make_layer("float32")
    reference_values = compute(reference, *inputs)
    layer = make_layer(policy)
    layer.set_weights(reference.get_weights())
    inputs = [tf.convert_to_tensor(x) for x in inputs]
    floats = [x for x in inputs if x.dtype == tf.float32]
    with tf.GradientTape() as tape:
        tape.watch(floats)
        values = compute(layer, *inputs)
        total = tf.add_n([tf.reduce_sum(tf.cast(v, tf.float32)) for v in values])
    gradients = tape.gradient(total, floats)
    return reference_values, values, gradients


def assert_finite_and_close(reference_values, values, gradients, dtype):
    for value in values:
        assert np.all(np.isfinite(tf.cast(value, tf.float32).numpy()))
    for gradient in gradients:
        assert np.all(np.isfinite(tf.cast(gradient, tf.float32).numpy()))
    for expected, value in zip(reference_values, values, strict=True):
        np.testing.assert_allclose(
            tf.cast(value, tf.float32).numpy(),
            expected.numpy(),
            atol=TOLERANCE[dtype],
            rtol=TOLERANCE[dtype],
        )


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("kind", ["bahdanau", "luong_general"])
def test_attention_softmax_in_half_precision(kind, dtype, rng):
    memory, mask = padded_batch(rng)
    query = rng.normal(size=(3, 2, 6)).astype("float32")

    def make(policy):
        policy = policy if policy == "float32" else f"mixed_{dtype}"
        layer = (
            BahdanauAttention(4, dtype=policy)
            if kind == "bahdanau"
            else LuongAttention("general", dtype=policy)
        )
        layer(query, memory, memory_mask=mask)
        return layer

    def compute(layer, query, memory, mask):
        return layer(query, memory, memory_mask=mask)

    reference, values, gradients = run(make, compute, (query, memory, mask), dtype)
    assert_finite_and_close(reference, values, gradients, dtype)
    context, weights = values
    assert values[0].dtype == dtype
    np.testing.assert_array_equal(tf.cast(weights[2], tf.float32), 0.0)
    np.testing.assert_array_equal(tf.cast(context[2], tf.float32), 0.0)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("mode", ["max", "attention"])
def test_pooling_in_half_precision(mode, dtype, rng):
    sequences, mask = padded_batch(rng)
    # Large negative activations: a fill of dtype.min or -inf would be picked
    # by no valid step here only if the fill is below them.
    sequences = sequences - 50.0

    def make(policy):
        policy = policy if policy == "float32" else f"mixed_{dtype}"
        layer = SequencePooling(mode, attention_units=4, dtype=policy)
        layer(sequences, mask=mask)
        return layer

    def compute(layer, sequences, mask):
        return [layer(sequences, mask=mask)]

    reference, values, gradients = run(make, compute, (sequences, mask), dtype)
    assert_finite_and_close(reference, values, gradients, dtype)
    np.testing.assert_array_equal(tf.cast(values[0][2], tf.float32), 0.0)


@pytest.mark.parametrize("dtype", HALF)
def test_crf_forward_and_viterbi_in_half_precision(dtype, rng):
    potentials, mask = padded_batch(rng, features=3)
    tags = rng.integers(0, 2, size=mask.shape) * mask  # an allowed gold path
    # Tag 2 may not follow tag 0 nor start: forbidden entries get the fill.
    allowed = [[True, True, False], [True, True, True], [True, True, True]]

    def make(policy):
        policy = policy if policy == "float32" else f"mixed_{dtype}"
        crf = CRF(3, allowed_transitions=allowed, allowed_start=[1, 1, 0], dtype=policy)
        crf.build()
        return crf

    def compute(crf, potentials, tags, mask):
        potentials = tf.cast(potentials, crf.compute_dtype)
        best, best_score = crf.decode(potentials, mask)
        return [
            crf.negative_log_likelihood(potentials, tags, mask),
            crf.log_partition(potentials, mask),
            best_score,
            tf.cast(best, tf.float32),
        ]

    reference, values, gradients = run(make, compute, (potentials, tags, mask), dtype)
    assert_finite_and_close(reference, values, gradients, dtype)
    loss, log_z, score, best = values
    assert log_z.dtype == dtype
    assert [float(v[2]) for v in (loss, log_z, score)] == [0.0, 0.0, 0.0]
    np.testing.assert_array_equal(best[2], 0)


@pytest.mark.parametrize("dtype", HALF)
def test_beam_search_fill_with_half_precision_logits(dtype):
    """The search works in float32 log-probabilities, whatever the logits'
    dtype: dead beams and finished hypotheses get a finite fill."""
    vocabulary, end_id = 5, 4
    # Scripted: from BOS (0) the best token is 1, then 2, then end.
    table = np.full((vocabulary, vocabulary), -3.0, "float32")
    table[0, 1] = table[1, 2] = table[2, end_id] = 3.0
    table[0, 3] = 2.0

    def step(ids, state):
        return tf.cast(tf.gather(table, ids), dtype), state

    ids, lengths, scores = decoding.beam_search(
        step, {"unused": tf.zeros([2, 1])}, tf.zeros([2], tf.int32), end_id, 6, 3
    )
    np.testing.assert_array_equal(ids[:, 0, :3], [[1, 2, end_id]] * 2)
    assert np.all(np.isfinite(scores.numpy()))
    np.testing.assert_array_equal(lengths[:, 0], 3)


def test_attention_all_padding_row_is_nan_without_the_fill(rng):
    """Why the helper exists: -1e9 in float16 is -inf, and softmax of a row of
    -inf is NaN; the helper's fill gives a finite row."""
    scores = tf.constant(rng.normal(size=(1, 4)), tf.float16)
    nothing = tf.zeros([1, 4], tf.bool)
    old = tf.nn.softmax(tf.where(nothing, scores, tf.cast(-1e9, tf.float16)))
    assert np.all(np.isnan(old.numpy()))
    new = tf.nn.softmax(fill_masked(scores, nothing))
    assert np.all(np.isfinite(new.numpy()))
