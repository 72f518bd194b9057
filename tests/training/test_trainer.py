"""The shared training loop: distribution, accumulation, clipping, resume.

Runs that need a fresh TensorFlow (logical CPU devices, a 2-process
`MultiWorkerMirroredStrategy` on loopback, SIGKILL) start `tiny_run.py` as
subprocesses; the others train in this process.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq.training import (
    NonFiniteLossError,
    StateError,
    Trainer,
    make_strategy,
    state,
)
from tests.training import tiny_run

SCRIPT = pathlib.Path(tiny_run.__file__)
ROOT = SCRIPT.parents[2]
QUICK = ["--epochs", "2", "--examples", "320", "--deterministic", "true"]


def tiny_command(output, *flags):
    return [sys.executable, str(SCRIPT), "--output-dir", str(output), *QUICK, *flags]


def run_tiny(output, *flags, check=True):
    """Run tiny_run.py to the end; its result.json and the process."""
    process = subprocess.run(
        tiny_command(output, *flags),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    if check:
        assert process.returncode == 0, process.stderr[-3000:]
        return json.loads((output / "result.json").read_text()), process
    return None, process


def assert_same_run(a, b, rtol):
    assert a["history"].keys() == b["history"].keys()
    for name in a["history"]:
        np.testing.assert_allclose(a["history"][name], b["history"][name], rtol=rtol)
    np.testing.assert_allclose(a["weights"], b["weights"], rtol=rtol)
    assert a["accuracy"] == pytest.approx(b["accuracy"], abs=1.5 / 96)
    best = int(np.argmin(a["history"]["val_loss"]))  # its weights are restored
    assert a["accuracy"] == pytest.approx(a["history"]["val_accuracy"][best])


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    """The reference: one device, no dropout (replicas draw other masks)."""
    result, _ = run_tiny(tmp_path_factory.mktemp("one"), "--dropout", "0")
    assert result["history"]["loss"][1] < result["history"]["loss"][0]
    return result


def test_mirrored_on_two_logical_cpus_equals_one_device(one_device, tmp_path):
    mirrored, process = run_tiny(
        tmp_path,
        "--dropout",
        "0",
        "--strategy",
        "mirrored",
        "--num-cpu-devices",
        "2",
    )
    assert "2 replica(s)" in process.stdout
    assert_same_run(one_device, mirrored, rtol=1e-5)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_process_multi_worker_on_loopback_equals_one_device(one_device, tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    try:
        for index in range(2):
            tf_config = {
                "cluster": {"worker": workers},
                "task": {"type": "worker", "index": index},
            }
            processes.append(
                subprocess.Popen(
                    tiny_command(
                        tmp_path, "--dropout", "0", "--strategy", "multi-worker"
                    ),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=ROOT,
                    env={**os.environ, "TF_CONFIG": json.dumps(tf_config)},
                )
            )
        outputs = [p.communicate(timeout=600) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert p.returncode == 0, stderr[-3000:]
        assert "2 replica(s)" in stdout
    # Worker 0 is the chief: it alone wrote checkpoints and the result.
    result = json.loads((tmp_path / "result.json").read_text())
    assert_same_run(one_device, result, rtol=1e-5)
    assert (tmp_path / "checkpoints" / "best.weights.h5").exists()


def test_sigkill_mid_epoch_then_resume_ends_as_an_uninterrupted_run(tmp_path):
    flags = ["--dropout", "0.2", "--checkpoint-every", "4"]
    uninterrupted, _ = run_tiny(tmp_path / "whole", *flags)

    output = tmp_path / "killed"
    process = subprocess.Popen(
        tiny_command(output, *flags),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        for line in process.stdout:  # 20 updates an epoch: kill in epoch 2
            if line.strip() == "update 27":
                process.send_signal(signal.SIGKILL)
                break
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert not (output / "result.json").exists()
    saved = state.latest_state(str(output / "state"))
    assert saved is not None and saved[2]["update"] == 24
    assert (saved[2]["epoch"], saved[2]["batch"]) == (1, 4)

    resumed, process = run_tiny(output, *flags, "--resume", "true")
    assert "resumed from" in process.stdout and "batch 4 of 20" in process.stdout
    # Same data order, dropout masks and optimizer state: the same numbers.
    assert_same_run(uninterrupted, resumed, rtol=1e-6)


def test_non_finite_loss_stops_naming_the_step_and_last_state_loads(tmp_path):
    _, process = run_tiny(
        tmp_path, "--checkpoint-every", "4", "--explode-at", "10", check=False
    )
    assert process.returncode != 0
    message = process.stderr.strip().splitlines()[-1]
    assert "NonFiniteLossError: non-finite training loss" in message
    assert "at update 12, epoch 1, batch 12 of 20" in message
    assert "last good state is" in message and "(update 8, epoch 1)" in message

    path, arrays, progress = state.latest_state(str(tmp_path / "state"))
    assert progress["update"] == 8
    model = tiny_run.build_model(0.2)
    optimizer = tiny_run.build_optimizer(tiny_run.Config(explode_at=10))
    optimizer.build(model.trainable_variables)
    variables = state.unique_variables(model.variables, optimizer.variables)
    state.restore_variables(path, variables, arrays, progress)
    for variable in model.trainable_variables:
        assert np.all(np.isfinite(variable.numpy())), variable.path
    assert int(optimizer.iterations.numpy()) == 8


SAVER = """
import sys, numpy as np, keras
from seq2seq.training import state
variables = [keras.Variable(np.zeros(2_000_000, np.float32)) for i in range(4)]
update = 0
while True:
    update += 1
    for v in variables:
        v.assign(np.full(2_000_000, update, np.float32))
    state.save_state(sys.argv[1], variables, {"update": update})
    print(update, flush=True)
"""


def test_a_kill_during_a_save_leaves_a_complete_state(tmp_path):
    rng = np.random.default_rng(0)
    for _ in range(4):
        process = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            process.stdout.readline()  # one state written: now kill at random
            time.sleep(rng.uniform(0.0, 0.4))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        path, arrays, metadata = state.latest_state(str(tmp_path))
        update = metadata["update"]
        assert update >= 1
        for i in range(4):  # every array whole, from the same save
            assert arrays[f"v{i:05d}"].shape == (2_000_000,)
            assert np.all(arrays[f"v{i:05d}"] == update)


def test_truncated_latest_falls_back_to_previous(tmp_path):
    variable = keras.Variable(np.arange(3.0, dtype="float32"), name="w")
    state.save_state(str(tmp_path), [variable], {"update": 1})
    variable.assign([7.0, 8.0, 9.0])
    latest = state.save_state(str(tmp_path), [variable], {"update": 2})
    data = pathlib.Path(latest).read_bytes()
    pathlib.Path(latest).write_bytes(data[: len(data) // 2])
    path, arrays, metadata = state.latest_state(str(tmp_path))
    assert path.endswith("previous.npz") and metadata["update"] == 1
    np.testing.assert_array_equal(arrays["v00000"], [0.0, 1.0, 2.0])


# -- in this process -------------------------------------------------------


@pytest.fixture
def float32_policy():
    yield
    keras.mixed_precision.set_dtype_policy("float32")


def tiny_config(tmp_path, **changes):
    return tiny_run.Config(
        **{
            **dict(epochs=1, examples=64, dropout=0.0, output_dir=str(tmp_path)),
            **changes,
        }
    )


def train_in_process(config, optimizer=None):
    strategy = tf.distribute.get_strategy()
    keras.utils.set_random_seed(config.seed)
    train, valid = tiny_run.datasets(config)
    model = tiny_run.build_model(config.dropout)
    trainer = Trainer(
        model,
        optimizer or keras.optimizers.Adam(config.learning_rate),
        config,
        strategy,
        verbose=0,
    )
    history = trainer.fit(train, valid)
    return model, history, trainer


def test_accumulating_two_batches_equals_one_twice_as_large(tmp_path):
    big, big_history, _ = train_in_process(tiny_config(tmp_path / "a", batch_size=16))
    small, small_history, trainer = train_in_process(
        tiny_config(tmp_path / "b", batch_size=8, accumulate_steps=2)
    )
    assert trainer.progress["update"] == 4  # 8 batches of 8, pooled by 2
    np.testing.assert_allclose(
        tiny_run.weights_digest(big), tiny_run.weights_digest(small), rtol=1e-5
    )
    np.testing.assert_allclose(big_history["loss"], small_history["loss"], rtol=1e-5)


def test_clipping_uses_the_global_norm_of_the_whole_gradient(tmp_path):
    config = tiny_config(tmp_path, examples=16, batch_size=16, clip_norm=0.05)
    keras.utils.set_random_seed(config.seed)
    train, _ = tiny_run.datasets(config)
    model = tiny_run.build_model(config.dropout)
    before = [v.numpy().copy() for v in model.trainable_variables]
    x, y = next(iter(train))
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
    gradients = [
        tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_variables)
    ]
    norm = float(tf.linalg.global_norm(gradients))
    assert norm > 0.05  # so that clipping acts

    trainer = Trainer(
        model,
        keras.optimizers.SGD(1.0),
        config,
        tf.distribute.get_strategy(),
        verbose=0,
    )
    trainer.fit(train)
    for variable, start, gradient in zip(
        model.trainable_variables, before, gradients, strict=True
    ):
        expected = start - gradient.numpy() * 0.05 / norm
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-4, atol=1e-6)


def test_mixed_bfloat16_trains_with_float32_weights(tmp_path, float32_policy):
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    model, history, _ = train_in_process(tiny_config(tmp_path, epochs=2, examples=128))
    assert model.compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][1] < history["loss"][0]


def test_resume_with_other_data_is_refused(tmp_path):
    train_in_process(tiny_config(tmp_path))
    with pytest.raises(
        StateError, match="steps_per_epoch=4, but this run has steps_per_epoch=8"
    ):
        train_in_process(tiny_config(tmp_path, resume=True, batch_size=8))


def test_resume_after_the_end_trains_no_more(tmp_path):
    model, history, _ = train_in_process(tiny_config(tmp_path, epochs=2))
    digest = tiny_run.weights_digest(model)
    again, again_history, trainer = train_in_process(
        tiny_config(tmp_path, epochs=2, resume=True)
    )
    assert trainer.progress["update"] == 8
    assert again_history == history
    np.testing.assert_allclose(tiny_run.weights_digest(again), digest, rtol=1e-6)


def test_an_optimizer_that_clips_by_itself_is_refused(tmp_path):
    config = tiny_config(tmp_path)
    with pytest.raises(ValueError, match="without clipping"):
        Trainer(
            tiny_run.build_model(config.dropout),
            keras.optimizers.Adam(global_clipnorm=1.0),
            config,
            tf.distribute.get_strategy(),
        )


def test_unknown_strategy_and_missing_tf_config_are_named(monkeypatch):
    with pytest.raises(ValueError, match="received 'mirror'"):
        make_strategy("mirror")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        make_strategy("multi-worker")


def test_nan_from_the_first_update_says_nothing_was_saved(tmp_path):
    config = tiny_config(tmp_path, learning_rate=1e30, clip_norm=0.0)
    with pytest.raises(NonFiniteLossError, match="No training state had been saved"):
        train_in_process(config)
