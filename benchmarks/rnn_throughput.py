"""Throughput of our recurrent layers against Keras's (and PyTorch's).

For each configuration it measures tokens per second (batch * time steps per
second) of one step of our layer, of Keras's built-in layer with the same
weights, and of PyTorch's layer when torch is installed. Three modes:

- `train`: the layer's gradient alone, forward and backward (gradients of a
  squared-output loss with respect to every weight);
- `fit`: the whole Keras training step as users run it: a functional model
  (`Input` -> the layer -> a `Dense` head; `Masking` first when masked)
  compiled with Adam, a mean squared error and `jit_compile=True`, timed
  through `model.train_on_batch` on NumPy arrays (no PyTorch column);
- `infer`: forward only.

Every TensorFlow step is compiled by XLA (`jit_compile=True`).

The implementations are measured in one process and interleaved: each repeat
times every implementation of every mode once, in a rotating order, and the
report gives the median of the repeats and the ratio of the medians. The machine is
shared and noisy, so the ratios are the figures to read.

    python benchmarks/rnn_throughput.py                 # the headline shape
    python benchmarks/rnn_throughput.py --sweep         # batch/units/time/...
    python benchmarks/rnn_throughput.py --cells lstm --modes train --repeats 9
    python benchmarks/rnn_throughput.py --modes train fit --repeats 15 --steps 3
    python benchmarks/rnn_throughput.py --batch 16 --time 20 --units 128 --masked
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import platform
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from seq2seq import layers

try:
    import torch
except ImportError:  # PyTorch is optional.
    torch = None


MODES = ("train", "fit", "infer")


@dataclasses.dataclass(frozen=True)
class Shape:
    cell: str  # "lstm" or "gru"
    batch: int = 64
    time: int = 50
    features: int = 256
    units: int = 512
    masked: bool = False
    bidirectional: bool = False

    def label(self) -> str:
        flags = ("masked " if self.masked else "") + (
            "bi" if self.bidirectional else ""
        )
        return (
            f"{self.cell.upper():<4} b={self.batch:<3} t={self.time:<3} "
            f"in={self.features} u={self.units:<3} {flags}"
        ).rstrip()


def make_inputs(shape: Shape, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(shape.batch, shape.time, shape.features)).astype("float32")
    if not shape.masked:
        return x, None
    # Lengths spread over [time/2, time], the longest row full.
    lengths = rng.integers(shape.time // 2, shape.time + 1, size=shape.batch)
    lengths[0] = shape.time
    mask = np.arange(shape.time)[None, :] < lengths[:, None]
    return x, mask


def tf_layer(module, shape: Shape):
    layer_cls = {"lstm": module.LSTM, "gru": module.GRU}[shape.cell]
    layer = layer_cls(shape.units, return_sequences=True)
    return module.Bidirectional(layer) if shape.bidirectional else layer


def tf_step(layer, train: bool):
    @tf.function(jit_compile=True)
    def step(x, mask):
        if not train:
            return tf.reduce_sum(layer(x, mask=mask, training=False))
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(layer(x, mask=mask, training=True)))
        gradients = tape.gradient(loss, layer.trainable_weights)
        return loss + sum(tf.reduce_sum(g) for g in gradients) * 0.0

    return step


# The width of the `Dense` head in `fit` mode: one output per step.
HEAD_UNITS = 16


def fit_model(module, shape: Shape):
    """`Input -> [Masking] -> module's layer -> Dense`, compiled with Adam."""
    inputs = keras.Input((shape.time, shape.features))
    hidden = keras.layers.Masking()(inputs) if shape.masked else inputs
    hidden = tf_layer(module, shape)(hidden)
    model = keras.Model(inputs, keras.layers.Dense(HEAD_UNITS)(hidden))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=True)
    return model


def fit_steps(shape: Shape) -> dict:
    """name -> one `train_on_batch` of ours and Keras's, the same weights."""
    x, mask = make_inputs(shape)
    if mask is not None:  # `Masking` finds the padding: all-zero steps
        x = x * mask[..., None]
    rng = np.random.default_rng(1)
    y = rng.normal(size=(shape.batch, shape.time, HEAD_UNITS)).astype("float32")
    theirs, ours = fit_model(keras.layers, shape), fit_model(layers, shape)
    ours.set_weights(theirs.get_weights())
    return {
        name: lambda model=model: model.train_on_batch(x, y)
        for name, model in (("ours", ours), ("keras", theirs))
    }


def torch_step(shape: Shape, train: bool):
    module_cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[shape.cell]
    module = module_cls(
        shape.features, shape.units, batch_first=True, bidirectional=shape.bidirectional
    )
    x_np, mask = make_inputs(shape)
    x = torch.from_numpy(x_np)
    lengths = None if mask is None else torch.from_numpy(mask.sum(axis=1))

    def run():
        inputs = x
        if lengths is not None:
            inputs = torch.nn.utils.rnn.pack_padded_sequence(
                x, lengths, batch_first=True, enforce_sorted=False
            )
        outputs, _ = module(inputs)
        if lengths is not None:
            outputs, _ = torch.nn.utils.rnn.pad_packed_sequence(
                outputs, batch_first=True
            )
        return outputs.square().mean()

    def step():
        if train:
            module.zero_grad()
            loss = run()
            loss.backward()
            return float(loss.detach())
        with torch.no_grad():
            return float(run())

    return step


def implementations(shape: Shape, train: bool) -> dict:
    """name -> zero-argument callable running one step and syncing."""
    x, mask = make_inputs(shape)
    x = tf.constant(x)
    mask = None if mask is None else tf.constant(mask)
    theirs, ours = tf_layer(keras.layers, shape), tf_layer(layers, shape)
    theirs(x[:1])
    ours(x[:1])
    ours.set_weights(theirs.get_weights())
    result = {}
    for name, layer in (("ours", ours), ("keras", theirs)):
        step = tf_step(layer, train)
        result[name] = lambda step=step: float(step(x, mask))
    if torch is not None:
        result["torch"] = torch_step(shape, train)
    return result


def measure(shape: Shape, modes, repeats: int, steps: int) -> dict:
    """mode -> name -> tokens per second, every step of every mode interleaved.

    All the modes of a shape share one loop, so the `train` and `fit` rows
    are measured under the same load and their ratios can be compared.
    """
    impls = {}
    for mode in modes:
        steps_of_mode = (
            fit_steps(shape)
            if mode == "fit"
            else implementations(shape, mode == "train")
        )
        impls.update({(mode, name): run for name, run in steps_of_mode.items()})
    for run in impls.values():  # compile and warm up
        for _ in range(2):
            run()
    seconds = {key: [] for key in impls}
    keys = list(impls)
    for repeat in range(repeats):
        order = keys[repeat % len(keys) :] + keys[: repeat % len(keys)]
        for key in order:
            start = time.perf_counter()
            for _ in range(steps):
                impls[key]()
            seconds[key].append(time.perf_counter() - start)
    tokens = shape.batch * shape.time * steps
    rates = {mode: {} for mode in modes}
    for (mode, name), times in seconds.items():
        rates[mode][name] = tokens / statistics.median(times)
    return rates


def shapes(args) -> list[Shape]:
    if not args.sweep:
        return [
            Shape(
                cell,
                batch=args.batch,
                time=args.time,
                units=args.units,
                masked=args.masked,
                bidirectional=args.bidirectional,
            )
            for cell in args.cells
        ]
    grid = itertools.product(
        args.cells, (16, 64), (128, 512), (20, 100), (False, True), (False, True)
    )
    return [
        Shape(cell, batch=b, time=t, units=u, masked=m, bidirectional=bi)
        for cell, b, u, t, m, bi in grid
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru"])
    parser.add_argument("--modes", nargs="+", default=["train", "infer"], choices=MODES)
    parser.add_argument("--sweep", action="store_true", help="the full grid")
    parser.add_argument("--batch", type=int, default=64, help="without --sweep")
    parser.add_argument("--time", type=int, default=50, help="without --sweep")
    parser.add_argument("--units", type=int, default=512, help="without --sweep")
    parser.add_argument("--masked", action="store_true", help="without --sweep")
    parser.add_argument("--bidirectional", action="store_true", help="without --sweep")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5, help="steps per repeat")
    args = parser.parse_args()

    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"tensorflow {tf.__version__}, keras {keras.__version__}"
        + (f", torch {torch.__version__}" if torch is not None else ", no torch")
    )
    print(f"# median of {args.repeats} interleaved repeats of {args.steps} steps")
    header = f"{'mode':<6}{'shape':<44}{'ours':>9}{'keras':>9}"
    header += f"{'torch':>9}" if torch is not None else ""
    header += f"{'ours/keras':>12}" + (
        f"{'ours/torch':>12}" if torch is not None else ""
    )
    print(header + "   (tokens/s)")
    ratios = {mode: [] for mode in args.modes}
    for shape in shapes(args):
        rates_of_mode = measure(shape, args.modes, args.repeats, args.steps)
        for mode in args.modes:
            rates = rates_of_mode[mode]
            row = f"{mode:<6}{shape.label():<44}"
            row += f"{rates['ours']:>9.0f}{rates['keras']:>9.0f}"
            if torch is not None:
                row += f"{rates['torch']:>9.0f}" if "torch" in rates else f"{'-':>9}"
            ratios[mode].append(rates["ours"] / rates["keras"])
            row += f"{ratios[mode][-1]:>12.2f}"
            if "torch" in rates:
                row += f"{rates['ours'] / rates['torch']:>12.2f}"
            print(row, flush=True)
    for mode, values in ratios.items():
        print(
            f"# {mode}: ours/keras over {len(values)} shapes: min {min(values):.2f}, "
            f"median {statistics.median(values):.2f}, max {max(values):.2f}"
        )


if __name__ == "__main__":
    main()
