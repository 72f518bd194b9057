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
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

from seq2seq.training import (
    EvaluationCallback,
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
        timeout=900,
    )
    if check:
        assert process.returncode == 0, process.stderr[-3000:]
        result = output / "result.json"  # absent for --batch-sizes runs
        return json.loads(result.read_text()) if result.exists() else None, process
    return None, process


def load_variables(folder):
    """`(names, arrays)` that tiny_run saved in `folder/variables.npz`."""
    with np.load(folder / "variables.npz") as saved:
        names = [str(name) for name in saved["names"]]
        return names, [saved[f"{i:03d}"] for i in range(len(names))]


def assert_same_variables(expected, actual, rtol=0.0, atol=0.0):
    """Every variable of the model and the optimizer (weights, dropout seed
    generators, Adam's step and both slots), array by array; bit for bit
    when `rtol` and `atol` are 0."""
    names, want = load_variables(expected)
    _, got = load_variables(actual)
    assert len(want) == len(got) > 0
    for name, a, b in zip(names, want, got, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype, name
        if rtol == atol == 0.0:
            np.testing.assert_array_equal(b, a, err_msg=name)
        else:
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=name)


def load_result(folder):
    return json.loads((folder / "result.json").read_text())


def assert_same_run(expected, actual, rtol=1e-5, atol=1e-6):
    """Same history, accuracy and variables, within `rtol`/`atol` (summing
    over replicas in another order changes the last bits: the weights of
    these runs differ by at most 2e-7)."""
    a, b = load_result(expected), load_result(actual)
    assert a["updates"] == b["updates"]
    assert a["history"].keys() == b["history"].keys()
    for name in a["history"]:
        np.testing.assert_allclose(
            b["history"][name], a["history"][name], rtol=rtol, err_msg=name
        )
    assert b["accuracy"] == pytest.approx(a["accuracy"], abs=1.5 / 96)
    assert_same_variables(expected, actual, rtol=rtol, atol=atol)


# Batches of 15 (8 + 7 examples a replica), 9 (5 + 4) and 1 (1 + 0: one
# replica gets nothing), with 33 examples an epoch: the epochs end on a
# partial batch of 3 (2 + 1), 6 (3 + 3) and 1. The batches of 9 carry sample
# weights (0, 0.5, 1 or 3) to a compiled loss; those of 15 run under XLA (a
# compilation per shape and device: the others do without, to stay fast).
# Two epochs: the stream crosses an epoch's end.
BATCHES = ["15x", "9w", "1"]
UNEVEN = ["--epochs", "2", "--examples", "33", "--dropout", "0"]
UNEVEN += ["--jit-compile", "false", "--batch-sizes", ",".join(BATCHES)]


@pytest.fixture(scope="module")
def uneven(tmp_path_factory):
    """One process: each batch size under `MirroredStrategy` on 2 logical
    CPUs (`batch_B`) and on one device (`one/batch_B`, the reference)."""
    output = tmp_path_factory.mktemp("uneven")
    flags = ["--strategy", "mirrored", "--num-cpu-devices", "2"]
    _, process = run_tiny(output, *UNEVEN, *flags, "--reference", "true")
    assert process.stdout.count("2 replica(s)") == len(BATCHES)
    return output


@pytest.mark.parametrize("batch", BATCHES)
def test_mirrored_on_two_logical_cpus_equals_one_device(uneven, batch):
    one = uneven / "one" / f"batch_{batch}"
    assert_same_run(one, uneven / f"batch_{batch}")
    size = int(batch.rstrip("wx"))
    assert load_result(one)["updates"] == 2 * -(-33 // size)  # 2 epochs


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_process_multi_worker_on_loopback_equals_one_device(uneven, tmp_path):
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
                    tiny_command(tmp_path, *UNEVEN, "--strategy", "multi-worker"),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=ROOT,
                    env={**os.environ, "TF_CONFIG": json.dumps(tf_config)},
                )
            )
        outputs = [p.communicate(timeout=900) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert p.returncode == 0, stderr[-3000:]
        assert stdout.count("2 replica(s)") == len(BATCHES)
    # Worker 0 is the chief: it alone wrote checkpoints and the results.
    for batch in BATCHES:
        run = tmp_path / f"batch_{batch}"
        assert_same_run(uneven / "one" / f"batch_{batch}", run)
        assert (run / "checkpoints" / "best.weights.h5").exists()
        assert not (run / "worker_1" / "result.json").exists()


def test_sigkill_mid_epoch_then_resume_ends_as_an_uninterrupted_run(tmp_path):
    flags = ["--dropout", "0.2", "--checkpoint-every", "4"]
    run_tiny(tmp_path / "whole", *flags)

    # 20 updates an epoch: the run stops after update 27 (before 28's save)
    # and waits there to be killed, however slow the machine.
    output = tmp_path / "killed"
    process = subprocess.Popen(
        tiny_command(output, *flags, "--stall-at", "27"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        with process.stdout:
            for line in process.stdout:
                if line.strip() == "stalled at update 27":
                    process.send_signal(signal.SIGKILL)
                    break
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (output / "result.json").exists()
    saved = state.latest_state(str(output / "state"))
    assert saved is not None and saved[2]["update"] == 24
    assert (saved[2]["epoch"], saved[2]["batch"]) == (1, 4)
    names = [name for name, _ in saved[2]["variables"]]
    step = names.index(next(n for n in names if n.endswith("/iteration")))
    assert int(saved[1][f"v{step:05d}"]) == 24  # Adam's step, as saved

    _, process = run_tiny(output, *flags, "--resume", "true")
    assert "resumed from" in process.stdout and "batch 4 of 20" in process.stdout
    # Same data order, dropout masks and optimizer state: the same numbers,
    # to the last bit (deterministic ops).
    assert load_result(output)["history"] == load_result(tmp_path / "whole")["history"]
    assert_same_variables(tmp_path / "whole", output)


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


# Saves states of `update` in every element, and stops for the kill at one
# point inside save number STALL_AT: half-way through writing the staged
# file, after it is renamed to staged.npz, or after latest.npz became
# previous.npz (before staged.npz becomes latest.npz).
SAVER = """
import importlib.util, io, os, sys, time
import numpy as np

# state.py alone, without TensorFlow (seq2seq.training imports it).
spec = importlib.util.spec_from_file_location("state", sys.argv[4])
state = importlib.util.module_from_spec(spec)
spec.loader.exec_module(state)

folder, stall_at, point = sys.argv[1], int(sys.argv[2]), sys.argv[3]
update = 0

def stall(here):
    if update == stall_at and point == here:
        print("stalled", flush=True)
        while True:
            time.sleep(1)

real_savez, real_replace = np.savez, os.replace

def savez(file, **arrays):
    buffer = io.BytesIO()
    real_savez(buffer, **arrays)
    data = buffer.getvalue()
    file.write(data[: len(data) // 2])
    file.flush()
    stall("writing")
    file.write(data[len(data) // 2 :])

def replace(source, target):
    real_replace(source, target)
    stall({state.STAGED: "staged", state.PREVIOUS: "renaming"}.get(
        os.path.basename(target)))

class Value:  # what save_state reads of a variable
    def __init__(self, array, path):
        self.array, self.path, self.shape = array, path, array.shape

    def numpy(self):
        return self.array

state.np.savez, state.os.replace = savez, replace
while True:
    update += 1
    values = [Value(np.full(100_000, update, np.float32), f"v{i}") for i in range(4)]
    state.save_state(folder, values, {"update": update})
"""


@pytest.mark.parametrize(
    "point, leftover, expected",
    [
        ("writing", f"{state.STAGED}.tmp-", 2),  # the staged file half written
        ("staged", state.STAGED, 3),  # staged whole, latest still update 2
        ("renaming", state.STAGED, 3),  # latest renamed to previous
    ],
)
def test_a_kill_during_a_save_leaves_a_complete_state(
    tmp_path, point, leftover, expected
):
    process = subprocess.Popen(
        [sys.executable, "-c", SAVER, str(tmp_path), "3", point, state.__file__],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    watchdog = threading.Timer(120, process.kill)  # if it never stalls
    watchdog.start()
    try:
        with process.stdout:
            assert process.stdout.readline().strip() == "stalled"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    # The kill landed inside the third save: its files are left half done.
    files = sorted(p.name for p in tmp_path.iterdir())
    assert any(name.startswith(leftover) for name in files), files
    assert (state.LATEST in files) == (point != "renaming"), files
    path, arrays, metadata = state.latest_state(str(tmp_path))
    assert metadata["update"] == expected, path
    for i in range(4):  # every array whole, from the same save
        assert arrays[f"v{i:05d}"].shape == (100_000,)
        assert np.all(arrays[f"v{i:05d}"] == expected)


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


def train_in_process(config, optimizer=None, callbacks=(), **trainer_arguments):
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
        **trainer_arguments,
    )
    history = trainer.fit(train, valid, callbacks=callbacks)
    return model, history, trainer


def all_values(trainer):
    """The values of the model's and the optimizer's variables, in order."""
    return [
        np.asarray(v.numpy())
        for v in tiny_run.all_variables(trainer.model, trainer.optimizer)
    ]


def assert_same_values(expected, actual, rtol=0.0, atol=0.0):
    assert len(expected) == len(actual) > 0
    for i, (a, b) in enumerate(zip(expected, actual, strict=True)):
        if rtol == atol == 0.0:
            np.testing.assert_array_equal(b, a, err_msg=f"variable {i}")
        else:
            np.testing.assert_allclose(
                b, a, rtol=rtol, atol=atol, err_msg=f"variable {i}"
            )


def test_accumulation_equals_one_larger_batch_and_applies_the_remainder(tmp_path):
    """40 examples: 5 batches of 8 pooled by 2 make updates of 16, 16 and
    the remaining 8, as batches of 16 do (16, 16, 8): the remainder is
    applied, weighted as a batch of its own examples."""
    _, big_history, big = train_in_process(
        tiny_config(tmp_path / "a", batch_size=16, examples=40, epochs=2)
    )
    _, small_history, small = train_in_process(
        tiny_config(
            tmp_path / "b", batch_size=8, examples=40, epochs=2, accumulate_steps=2
        )
    )
    assert small.progress["update"] == big.progress["update"] == 6
    np.testing.assert_allclose(small_history["loss"], big_history["loss"], rtol=1e-5)
    # Adam's step and slots too; pooling sums in another order: last bits.
    assert_same_values(all_values(big), all_values(small), rtol=1e-5, atol=1e-6)


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
    _, history, trainer = train_in_process(tiny_config(tmp_path, epochs=2))
    values = all_values(trainer)
    _, again_history, again = train_in_process(
        tiny_config(tmp_path, epochs=2, resume=True)
    )
    assert again.progress["update"] == 8
    assert again_history == history
    assert_same_values(values, all_values(again))


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


class Scripted(keras.callbacks.Callback):
    """Records every variable after each update and epoch; can poison one."""

    def __init__(self, poison_at=0):
        super().__init__()
        self.updates, self.after_update, self.after_epoch = 0, [], []
        self.poison_at = poison_at

    def values(self):
        return [np.asarray(v.numpy()).copy() for v in self.model.weights]

    def on_train_begin(self, logs=None):
        self.at_start = self.values()

    def on_train_batch_end(self, batch, logs=None):
        self.updates += 1
        self.after_update.append(self.values())
        if self.updates == self.poison_at:  # after a finite loss, before a save
            bias = self.model.trainable_variables[-1]
            bias.assign(np.full(bias.shape, np.inf, np.float32))

    def on_epoch_end(self, epoch, logs=None):
        self.after_epoch.append(self.values())


def test_early_stopping_halts_early_and_restores_the_best_epochs_weights(tmp_path):
    scores = iter([0.2, 0.5, 0.4, 0.3, 0.9, 0.9])
    score = EvaluationCallback(lambda model: {"score": next(scores)})
    recorder = Scripted()
    model, history, trainer = train_in_process(
        tiny_config(tmp_path, epochs=6, patience=2),
        callbacks=[score, recorder],
        monitor="val_score",
        mode="max",
    )
    # Epochs 3 and 4 do not beat epoch 2: patience 2 stops after epoch 4.
    assert history["val_score"] == [0.2, 0.5, 0.4, 0.3]
    assert trainer.progress["epoch"] == 4 and trainer.progress["best_epoch"] == 2
    assert len(recorder.after_epoch) == 4
    assert_same_values(recorder.after_epoch[1], [np.asarray(v) for v in model.weights])
    assert not np.array_equal(recorder.after_epoch[3][0], model.weights[0].numpy())


def test_weights_are_checked_for_finiteness_before_each_save(tmp_path):
    # 4 updates an epoch, a save every 2: update 6's loss is finite, then a
    # weight turns infinite before its save.
    config = tiny_config(tmp_path, epochs=2, checkpoint_every=2)
    with pytest.raises(NonFiniteLossError) as error:
        train_in_process(config, callbacks=[Scripted(poison_at=6)])
    message = str(error.value)
    assert "head/bias became non-finite by update 6 (epoch 2)" in message
    assert "nothing was saved" in message and "(update 4, epoch 2)" in message
    _, arrays, progress = state.latest_state(str(tmp_path / "state"))
    assert progress["update"] == 4
    assert all(np.all(np.isfinite(a)) for a in arrays.values() if a.dtype.kind == "f")


def test_sample_weights_weigh_each_examples_loss(tmp_path):
    """One SGD update on a weighted batch (weights 0, 0.5, 1, 3) equals the
    hand-computed gradient of sum(weight * cross-entropy) / batch size."""
    config = tiny_config(
        tmp_path, examples=16, batch_size=16, clip_norm=0.0, sample_weights=True
    )
    keras.utils.set_random_seed(config.seed)
    train, _ = tiny_run.datasets(config)
    model = tiny_run.build_model(0.0, compiled_loss=True)
    before = [v.numpy().copy() for v in model.trainable_variables]
    x, y, weight = next(iter(train))
    assert len(np.unique(weight)) > 2

    def gradient(weights):
        with tf.GradientTape() as tape:
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(y, model(x))
            loss = tf.reduce_sum(losses * weights) / 16
        gradients = tape.gradient(loss, model.trainable_variables)
        return [tf.convert_to_tensor(g).numpy() for g in gradients]

    expected = gradient(weight)
    unweighted = gradient(tf.ones_like(weight))
    assert (
        max(np.abs(a - b).max() for a, b in zip(expected, unweighted, strict=True))
        > 1e-3
    )
    trainer = Trainer(
        model,
        keras.optimizers.SGD(1.0),
        config,
        tf.distribute.get_strategy(),
        loss=tiny_run.compiled_loss(config),
        verbose=0,
    )
    trainer.fit(train)
    for variable, start, step in zip(
        model.trainable_variables, before, expected, strict=True
    ):
        np.testing.assert_allclose(variable.numpy(), start - step, rtol=1e-5, atol=1e-7)


@pytest.fixture
def float16_policy():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    yield
    keras.mixed_precision.set_dtype_policy("float32")


def loss_scaled_adam(learning_rate=0.01, initial_scale=2.0**30):
    """Adam under dynamic loss scaling from `initial_scale`: 2**30 times the
    loss overflows float16's largest value (65504) in the backward pass."""
    return keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(learning_rate), initial_scale=initial_scale
    )


def test_float16_loss_scale_overflows_are_skipped_counted_and_survived(
    tmp_path, float16_policy, capsys
):
    class Scales(Scripted):
        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, logs)
            self.scales.append(float(self.model.optimizer.dynamic_scale.numpy()))

    recorder = Scales()
    recorder.scales = []
    model, history, trainer = train_in_process(
        tiny_config(tmp_path, epochs=3, examples=128),
        optimizer=loss_scaled_adam(),
        callbacks=[recorder],
    )
    assert model.compute_dtype == "float16"
    # Each overflow halves the scale and leaves every weight as it was; every
    # other update changes them. Epochs of 8 updates.
    scales = [2.0**30, *recorder.scales]
    values = [recorder.at_start, *recorder.after_update]
    skipped = []
    for update in range(24):
        halved = scales[update + 1] == scales[update] / 2
        assert halved or scales[update + 1] == scales[update], update
        unchanged = all(
            np.array_equal(a, b)
            for a, b in zip(values[update], values[update + 1], strict=True)
        )
        assert unchanged == halved, update
        skipped.append(halved)
    per_epoch = [sum(skipped[i : i + 8]) for i in range(0, 24, 8)]
    assert sum(per_epoch) >= 5  # the overflows were forced
    assert history["skipped_updates"] == per_epoch
    assert int(trainer.optimizer.iterations.numpy()) == 24 - sum(per_epoch)
    printed = capsys.readouterr().out
    assert f"epoch 1: skipped {per_epoch[0]} of 8 updates on loss-scale" in printed
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < history["loss"][0]  # and training went on


def test_float16_overflows_in_a_row_stop_training(tmp_path, float16_policy):
    with pytest.raises(
        NonFiniteLossError,
        match="3 loss-scale overflows in a row .* at update 3, epoch 1",
    ):
        train_in_process(
            tiny_config(tmp_path), optimizer=loss_scaled_adam(), max_overflows=3
        )


def test_float16_non_finite_loss_is_a_divergence_not_an_overflow(
    tmp_path, float16_policy
):
    # A learning rate of 1e30 makes the weights overflow float16 in the
    # forward pass: the loss itself is NaN at the second update.
    with pytest.raises(
        NonFiniteLossError, match="non-finite training loss nan .* at update 2,"
    ):
        train_in_process(
            tiny_config(tmp_path, clip_norm=0.0),
            optimizer=loss_scaled_adam(1e30, initial_scale=1.0),
        )
