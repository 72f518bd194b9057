"""The contract every layer of the package keeps, checked in one place.

- config round trip: `from_config(get_config())` rebuilds an equal config,
  also through JSON;
- a model holding the layer saves as `.keras` and reloads with identical
  outputs;
- the model trains one step and predicts inside `compile(jit_compile=True)`,
  with batch and time dimensions that change between calls, for fitting and
  for predicting.
"""

from __future__ import annotations

import json

import keras
import numpy as np


def _first(outputs):
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def assert_config_round_trip(layer):
    config = layer.get_config()
    rebuilt = type(layer).from_config(config)
    assert rebuilt.get_config() == config
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    from_json = keras.saving.deserialize_keras_object(serialized)
    assert type(from_json) is type(layer)
    assert from_json.get_config() == config


def build_model(make_layer, features, vocabulary=None):
    """`Input -> [Embedding(mask_zero)] -> layer -> Dense(1)`."""
    if vocabulary:
        inputs = keras.Input(shape=(None,), dtype="int32")
        x = keras.layers.Embedding(vocabulary, features, mask_zero=True)(inputs)
    else:
        inputs = keras.Input(shape=(None, features))
        x = inputs
    x = _first(make_layer()(x))
    outputs = keras.layers.Dense(1)(x)
    return keras.Model(inputs, outputs)


def _data(rng, batch, time, features, vocabulary):
    if vocabulary:
        lengths = rng.integers(1, time + 1, size=batch)
        lengths[0] = time
        tokens = rng.integers(1, vocabulary, size=(batch, time))
        tokens[np.arange(time)[None, :] >= lengths[:, None]] = 0
        return tokens.astype("int32")
    return rng.normal(size=(batch, time, features)).astype("float32")


def assert_layer_contract(make_layer, tmp_path, features=3, vocabulary=None):
    """Checks the whole contract for the layer `make_layer()` builds."""
    rng = np.random.default_rng(7)
    assert_config_round_trip(make_layer())

    model = build_model(make_layer, features, vocabulary)
    x = _data(rng, 4, 6, features, vocabulary)
    expected = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert len(reloaded.weights) == len(model.weights)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, atol=1e-6)

    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=True)
    before = [w.copy() for w in model.get_weights()]
    y = rng.normal(size=expected.shape).astype("float32")
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    x_longer = _data(rng, 2, 8, features, vocabulary)  # another batch and time
    y_longer = rng.normal(size=(2, 8, 1) if expected.ndim == 3 else (2, 1))
    assert np.isfinite(model.train_on_batch(x_longer, y_longer.astype("float32")))
    changed = [
        not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True)
    ]
    assert any(changed), "one fit step left every weight unchanged"
    for batch, time in ((3, 9), (5, 2)):
        x_other = _data(rng, batch, time, features, vocabulary)
        compiled = model.predict(x_other, batch_size=batch, verbose=0)
        eager = keras.ops.convert_to_numpy(model(x_other, training=False))
        assert compiled.shape[0] == batch
        np.testing.assert_allclose(compiled, eager, atol=1e-5)
