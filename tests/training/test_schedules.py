"""Learning-rate schedules: values against the formula, serialization."""

import keras
import numpy as np
import pytest

from seq2seq.training import WarmupInverseSqrt


@pytest.mark.parametrize("warmup_steps", [1, 4, 100])
def test_warmup_then_inverse_square_root(warmup_steps):
    schedule = WarmupInverseSqrt(2e-3, warmup_steps)
    steps = np.arange(0, 1000)
    rates = np.array([float(schedule(step)) for step in steps])
    s, w = steps + 1.0, float(warmup_steps)
    np.testing.assert_allclose(rates, 2e-3 * np.minimum(s / w, np.sqrt(w / s)), 1e-6)
    assert rates.argmax() == warmup_steps - 1 and rates.max() == pytest.approx(2e-3)
    assert np.all(np.diff(rates[:warmup_steps]) > 0)  # the warm-up climbs
    assert np.all(np.diff(rates[warmup_steps - 1 :]) < 0)  # then decays


def test_zero_warmup_is_one_step():
    assert WarmupInverseSqrt(1.0, 0).warmup_steps == 1


def test_serializes_and_drives_an_optimizer():
    schedule = WarmupInverseSqrt(1e-3, 10)
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert isinstance(restored, WarmupInverseSqrt)
    assert restored.get_config() == {"peak": 1e-3, "warmup_steps": 10}
    optimizer = keras.optimizers.Adam(schedule)
    variable = keras.Variable(np.zeros(3, "float32"))
    for _ in range(3):
        optimizer.apply([np.ones(3, "float32")], [variable])
    assert float(optimizer.learning_rate) == pytest.approx(float(schedule(3)))
