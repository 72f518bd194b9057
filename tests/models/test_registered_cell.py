"""A cell registered once is usable by name in every head and in diagnostics.

The user's cell is the README's minimal gated unit (tests/layers/helpers.py); it is
registered as `test_mgu` with its two gates, trained inside an
`EncoderDecoder`, built inside a `SequenceTagger` and a `TextClassifier`, and
`hidden_state_gradients` reads the gradient of each gate's block of its
recurrent kernel by the registered names, checked against autodiff taken by
hand and against central differences.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq import diagnostics, layers
from seq2seq.models import EncoderDecoder, SequenceTagger, TextClassifier
from tests.layers.helpers import MinimalGatedUnit
from tests.models.test_encoder_decoder import _copy_task

NAME = "test_mgu"


layers.register_cell(NAME, MinimalGatedUnit, gate_names=("f", "n"))


def test_the_registry_offers_and_guards_the_name():
    assert NAME in layers.cell_names()
    assert layers.cell_names()[:3] == ("lstm", "gru", "simple_rnn")
    assert layers.get_cell_type(NAME).gate_names == ("f", "n")
    layers.register_cell(NAME, MinimalGatedUnit, gate_names=("f", "n"))  # again: ok
    with pytest.raises(ValueError, match="'test_mgu' is already registered"):
        layers.register_cell(NAME, layers.GRUCell)
    with pytest.raises(ValueError, match=r"cell_type must be one of \[.*'test_mgu'"):
        EncoderDecoder(10, 10, cell_type="mgu_typo")


def cells_of(model):
    return [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, MinimalGatedUnit)
    ]


def test_encoder_decoder_learns_with_the_registered_cell_by_name(rng):
    keras.utils.set_random_seed(0)
    source, target_in, target_out = _copy_task(rng, examples=256)
    model = EncoderDecoder(
        12, 12, embedding_size=16, units=16, cell_type=NAME, attention="luong_general"
    )
    model.compile(optimizer=keras.optimizers.Adam(2e-2, global_clipnorm=1.0))
    before = model.evaluate((source, target_in), target_out, verbose=0)
    model.fit((source, target_in), target_out, batch_size=32, epochs=3, verbose=0)
    after = model.evaluate((source, target_in), target_out, verbose=0)
    # 24 updates take the loss from log(12) = 2.48 (uniform) to 1.42 with
    # this seed; it must fall by at least 35%.
    assert before == pytest.approx(np.log(12), abs=0.1)
    assert after < 0.65 * before, (before, after)
    # Both directions of the encoder and the decoder cell run our cell.
    assert len(cells_of(model)) == 3

    # hidden_state_gradients names the gate gradients after the registration,
    # and they equal autodiff of the model's loss taken by hand.
    layer = model.encoder.rnn_layers[0].forward_layer
    inputs, targets = (source[:8], target_in[:8]), target_out[:8]
    norms, gates = diagnostics.hidden_state_gradients(
        model, layer, inputs, targets, gates=True
    )
    assert norms.shape == (6,) and np.all(norms > 0)
    with tf.GradientTape() as tape:
        loss = model.compute_loss(y=targets, y_pred=model(inputs))
    kernel = tape.gradient(loss, layer.cell.recurrent_kernel).numpy()
    assert list(gates) == ["W_fh", "W_nh"]
    np.testing.assert_allclose(gates["W_fh"], kernel[:, :16], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(gates["W_nh"], kernel[:, 16:], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("head", ["tagger", "classifier"])
def test_tagger_and_classifier_take_the_registered_cell_by_name(head, rng):
    keras.utils.set_random_seed(0)
    ids = rng.integers(1, 20, size=(32, 7)).astype("int32")
    ids[::2, 4:] = 0  # padding
    if head == "tagger":
        model = SequenceTagger(20, 10, 3, 8, 4, 4, units=8, cell_type=NAME, dropout=0.0)
        x = {
            "words": ids,
            "characters": np.zeros((32, 7, 3), "int32"),
            "casing": np.minimum(ids, 1),
        }
        y = ids % 3
    else:
        model = TextClassifier(20, 2, 8, 8, cell_type=NAME)
        x, y = ids, (ids[:, 0] > 10).astype("int32")
    model.compile(optimizer=keras.optimizers.Adam(2e-2))
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=32, epochs=10, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert len(cells_of(model)) == 2  # the bidirectional encoder
    assert after < 0.8 * before, (before, after)


def test_gate_gradients_equal_central_differences():
    x = np.random.default_rng(3).normal(size=(2, 5, 3))
    y = np.random.default_rng(4).normal(size=(2, 1))
    layer = layers.RNN(MinimalGatedUnit(3, dtype="float64"), dtype="float64")
    model = keras.Sequential(
        [
            keras.Input((5, 3), dtype="float64"),
            layer,
            keras.layers.Dense(1, dtype="float64"),
        ]
    )

    def loss_fn(targets, predictions):
        return tf.reduce_mean(tf.square(predictions - targets))

    _, gates = diagnostics.hidden_state_gradients(
        model, layer, x, y, loss_fn, gates=True
    )
    assert list(gates) == ["W_fh", "W_nh"]
    assert list(diagnostics.spectral_radius(layer)) == ["W_fh", "W_nh"]
    kernel = layer.cell.recurrent_kernel
    original = kernel.numpy()
    epsilon = 1e-6
    for name, block in gates.items():
        offset = 0 if name == "W_fh" else 3
        for row in range(3):
            for column in range(3):
                values = []
                for sign in (1, -1):
                    moved = original.copy()
                    moved[row, offset + column] += sign * epsilon
                    kernel.assign(moved)
                    values.append(float(loss_fn(y, model(x))))
                kernel.assign(original)
                expected = (values[0] - values[1]) / (2 * epsilon)
                assert block[row, column] == pytest.approx(expected, rel=1e-6, abs=1e-9)
