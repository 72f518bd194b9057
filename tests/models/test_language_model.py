"""LanguageModel: step equals teacher forcing, tying, perplexity, gradients."""

import numpy as np
import pytest
import tensorflow as tf

from seq2seq import decoding
from seq2seq.models import LanguageModel, Perplexity
from seq2seq.models.language_model import summed_negative_log_likelihood

IDS = np.array([[2, 5, 7, 9, 4], [2, 4, 6, 0, 0], [2, 8, 0, 0, 0]])
TARGETS = np.array([[5, 7, 9, 4, 3], [4, 6, 3, 0, 0], [8, 3, 0, 0, 0]])
CONDITIONS = {
    "none": ({}, None),
    "class, every step": (
        {"num_conditions": 3, "condition_every_step": True},
        np.array([0, 2, 1]),
    ),
    "vector": (
        {"condition_size": 4},
        np.linspace(-1, 1, 12).reshape(3, 4).astype("float32"),
    ),
}


def _model(cell_type="lstm", condition="none", **options):
    kwargs, condition_value = CONDITIONS[condition]
    model = LanguageModel(
        20,
        embedding_size=6,
        units=6,
        num_layers=2,
        cell_type=cell_type,
        **kwargs,
        **options,
    )
    x = IDS if condition_value is None else (IDS, condition_value)
    model(x)
    return model, x, condition_value


@pytest.mark.parametrize("condition", list(CONDITIONS))
@pytest.mark.parametrize("cell_type", ["lstm", "gru", "simple_rnn"])
def test_step_by_step_scores_equal_teacher_forcing(cell_type, condition):
    model, x, condition_value = _model(cell_type, condition, tie_embeddings=True)
    forced = tf.nn.log_softmax(model(x)).numpy()
    state = model.initial_decoding_state(condition_value, len(IDS))
    for t in range(IDS.shape[1]):
        logits, state = model.step(IDS[:, t], state)
        stepped = tf.nn.log_softmax(logits).numpy()
        valid = IDS[:, t] != 0  # padded positions are not scored
        np.testing.assert_allclose(stepped[valid], forced[valid, t], atol=1e-5)
    # prefix_state is the state after the valid prefix of each row
    lengths = (IDS != 0).sum(1)
    after = model.prefix_state(IDS, condition_value)
    for row, length in enumerate(lengths):
        state = model.initial_decoding_state(
            None if condition_value is None else condition_value[row : row + 1], 1
        )
        for t in range(length):
            _, state = model.step(IDS[row : row + 1, t], state)
        for mine, theirs in zip(
            tf.nest.flatten(state["states"]),
            tf.nest.flatten(after["states"]),
            strict=True,
        ):
            np.testing.assert_allclose(mine[0], theirs[row], atol=1e-5)


def test_conditioning_changes_the_scores_and_reaches_every_step():
    model, _, _ = _model("lstm", "class, every step")
    a = model((IDS, np.array([0, 0, 0]))).numpy()
    b = model((IDS, np.array([1, 1, 1]))).numpy()
    assert np.abs(a - b)[:, -1].max() > 1e-4


def test_tied_embeddings_are_one_variable():
    model, x, _ = _model(tie_embeddings=True)
    assert not hasattr(model, "output_projection")
    matrices = [v for v in model.trainable_variables if v.shape == (20, 6)]
    assert len(matrices) == 1  # the embedding, also the output projection
    with tf.GradientTape() as tape:
        loss = model.batch_task_loss(x, TARGETS, training=False)
    gradient = tape.gradient(loss, model.embedding.embeddings)
    # Rows never read as inputs (ids 10..19) get gradient through the output.
    assert np.abs(tf.convert_to_tensor(gradient).numpy()[10:]).sum() > 0
    model.embedding.embeddings.assign(model.embedding.embeddings * 2.0)
    hidden = model.hidden(x).numpy()
    expected = hidden @ model.embedding.embeddings.numpy().T + model.output_bias.numpy()
    np.testing.assert_allclose(model(x).numpy(), expected, atol=1e-5)


def test_tying_needs_equal_sizes():
    with pytest.raises(
        ValueError, match="tie_embeddings needs embedding_size == units"
    ):
        LanguageModel(20, embedding_size=4, units=6, tie_embeddings=True)


def test_perplexity_is_exp_of_the_mean_token_nll_by_hand():
    model, x, _ = _model()
    logits = model(x).numpy().astype(np.float64)
    nll = []
    for row, targets in enumerate(TARGETS):
        for t, target in enumerate(targets):
            if target:
                z = logits[row, t]
                nll.append(np.log(np.exp(z - z.max()).sum()) + z.max() - z[target])
    metric = Perplexity()
    metric.update_state(TARGETS[:2], logits[:2])
    metric.update_state(TARGETS[2:], logits[2:])  # accumulates, not averages
    np.testing.assert_allclose(float(metric.result()), np.exp(np.mean(nll)), rtol=1e-5)
    loss = float(model.batch_task_loss(x, TARGETS, training=False))
    np.testing.assert_allclose(loss, np.mean(nll), rtol=1e-5)
    np.testing.assert_allclose(
        float(model.compute_loss(x, TARGETS, model(x))), np.mean(nll), rtol=1e-5
    )
    batches = [(x, TARGETS)]
    total, count = summed_negative_log_likelihood(model, batches)
    assert count == len(nll)
    np.testing.assert_allclose(total, np.sum(nll), rtol=1e-5)


def test_gradient_matches_finite_differences():
    model, x, _ = _model("gru", "vector")
    variable = model.initial_state_layer.kernel
    with tf.GradientTape() as tape:
        loss = model.batch_task_loss(x, TARGETS, training=False)
    analytic = tape.gradient(loss, variable).numpy()[0, :3]
    base = variable.numpy()
    numeric = []
    for j in range(3):
        values = []
        for sign in (1, -1):
            moved = base.copy()
            moved[0, j] += sign * 1e-3
            variable.assign(moved)
            values.append(float(model.batch_task_loss(x, TARGETS, training=False)))
        numeric.append((values[0] - values[1]) / 2e-3)
    variable.assign(base)
    np.testing.assert_allclose(analytic, numeric, rtol=2e-2, atol=1e-4)


def test_dropout_is_variational_and_only_in_training():
    model, x, _ = _model(embedding_dropout=0.5, dropout=0.5, output_dropout=0.5)
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())
    assert np.abs(model(x, training=True).numpy() - model(x).numpy()).max() > 0
    dropped = model.between_dropout(tf.ones([2, 7, 6]), training=True).numpy()
    assert (dropped == dropped[:, :1]).all()  # one mask per sequence


def test_sampling_and_beam_search_run_on_the_step():
    model, _, condition = _model("lstm", "class, every step")
    state = model.initial_decoding_state(condition, 3)
    start = np.full([3], 2, np.int32)
    ids, lengths, scores = decoding.sample(
        model.step, state, start, 3, 6, temperature=0.7, top_k=5, top_p=0.9, seed=[1, 2]
    )
    assert ids.shape == (3, 6)
    # The score of a sample is its log-probability under the model.
    row_ids = ids.numpy()[0][: lengths[0]]
    state = model.initial_decoding_state(condition[:1], 1)
    total, previous = 0.0, 2
    for token in row_ids:
        logits, state = model.step(np.array([previous]), state)
        total += tf.nn.log_softmax(logits)[0, token].numpy()
        previous = token
    np.testing.assert_allclose(scores[0], total, rtol=1e-4)
    beams, _, beam_scores = decoding.beam_search(
        model.step, model.initial_decoding_state(condition, 3), start, 3, 6, 4
    )
    assert beams.shape == (3, 4, 6)
    assert (np.diff(beam_scores.numpy(), axis=1) <= 1e-6).all()


def test_config_round_trip_and_keras_file(tmp_path):
    model, x, _ = _model("gru", "class, every step", dropout=0.2)
    path = tmp_path / "lm.keras"
    model.save(path)
    import keras

    loaded = keras.models.load_model(path, compile=False)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)
