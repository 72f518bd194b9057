"""Gradient flow through time: why vanilla RNNs forget, measured.

The task: read `--steps` random tokens and output the first one. The answer
is at step 0, so the loss reaches it only through the gradient ∂L/∂h(k)
carried back over every step. For each cell (SimpleRNN, LSTM and GRU from
`seq2seq.layers` as Keras initialises them, and LSTM and GRU with their
forget / update gate biased open by `--gate-bias`) it measures on one batch:

- ‖∂L/∂h(k)‖ at every step k (`seq2seq.diagnostics.hidden_state_gradients`)
  and the ratio ‖∂L/∂h(0)‖ / ‖∂L/∂h(T-1)‖;
- the spectral radius of W_hh, or of each gate's block of it (the largest
  is printed);
- the global gradient norm before and after clipping at `--clip-norm`;
- the task accuracy on held-out sequences;

in three phases: at initialisation; with the initial W_hh multiplied by
`--scale` (explosion), where a few plain SGD steps are also taken without and
with clipping (how far they move the weights, the loss and gradient after);
and after `--train-steps` Adam steps (clipped). It prints a table and plots
‖∂L/∂h(k)‖ against k (log scale) to OUTPUT_DIR/gradient_flow.png. `main()`
returns the table's rows.

    python recipes/gradient_flow.py               # about 4 minutes on 2 cores
    python recipes/gradient_flow.py --steps 50 --train-steps 2000 --scale 2
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seq2seq import diagnostics, layers  # noqa: E402
from seq2seq.training import option, parse_config  # noqa: E402


@dataclasses.dataclass
class Config:
    steps: int = option(100, "sequence length T: the first token is T steps back")
    vocabulary: int = option(8, "tokens 1..vocabulary-1 (chance = 1/(vocabulary-1))")
    embedding_size: int = option(16, "token embedding size")
    units: int = option(32, "units of each recurrent layer")
    train_steps: int = option(1000, "Adam steps of the short training")
    batch_size: int = option(64, "examples per training step")
    learning_rate: float = option(1e-2, "Adam's learning rate")
    gate_bias: float = option(
        4.0,
        "initial forget-gate (LSTM) / update-gate (GRU) bias of the two 'open' "
        "variants; Keras starts them at 1 and 0",
    )
    scale: float = option(3.0, "multiplier of the initial W_hh in the scaled phase")
    clip_norm: float = option(1.0, "global gradient-norm clipping threshold")
    sgd_steps: int = option(5, "plain SGD steps from the scaled weights, per variant")
    sgd_learning_rate: float = option(
        0.1, "their learning rate (plain SGD: the raw gradient's size matters)"
    )
    probe_examples: int = option(256, "the batch the gradients are measured on")
    eval_examples: int = option(1024, "held-out sequences for the accuracy")
    output_dir: str = option("runs/gradient_flow", "where gradient_flow.png goes")
    seed: int = option(0, "seed of the data and of the initial weights")
    jit_compile: bool = option(True, "compile the training steps with XLA")
    cells: str = option(
        "", "comma-separated subset of the cells, e.g. SimpleRNN,LSTM; empty: all"
    )


def gate_bias_initializer(block, value):
    """A bias initializer: `value` on the gate `block` (0-based), 0 elsewhere.

    For GRU's `[2, 3 * units]` bias (`reset_after`) only the input row gets it.
    """

    def initializer(shape, dtype=None):
        bias = np.zeros(shape, dtype="float32")
        units = shape[-1] // (4 if len(shape) == 1 else 3)
        columns = slice(block * units, (block + 1) * units)
        if len(shape) == 1:
            bias[columns] = value
        else:
            bias[0, columns] = value
        return keras.ops.convert_to_tensor(bias, dtype=dtype)

    return initializer


def make_layers(config: Config) -> dict:
    """The cells compared, by name: Keras's initialisation, and gates held open.

    With Keras's biases the LSTM's forget gate starts near sigmoid(1) = 0.73
    and the GRU's update gate near 0.5: the additive path shrinks the
    gradient by that factor each step. The "open" variants start them near
    sigmoid(gate_bias) (0.98 for 4), where the additive path carries it.
    """
    units, bias = config.units, config.gate_bias
    return {
        "SimpleRNN": layers.SimpleRNN(units),
        "LSTM": layers.LSTM(units),
        "GRU": layers.GRU(units),
        f"LSTM b_f={bias:g}": layers.LSTM(
            units,
            unit_forget_bias=False,
            bias_initializer=gate_bias_initializer(1, bias),  # i, f, c, o
        ),
        f"GRU b_z={bias:g}": layers.GRU(
            units,
            bias_initializer=gate_bias_initializer(0, bias),  # z, r, h
        ),
    }


def first_token_task(config: Config, examples: int, seed: int):
    """Random token sequences `[examples, steps]`; the label is the first token."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, config.vocabulary, size=(examples, config.steps))
    return tokens.astype("int32"), (tokens[:, 0] - 1).astype("int32")


def build_model(config: Config, layer) -> keras.Model:
    inputs = keras.Input((config.steps,), dtype="int32")
    x = keras.layers.Embedding(config.vocabulary, config.embedding_size)(inputs)
    logits = keras.layers.Dense(config.vocabulary - 1)(layer(x))
    return keras.Model(inputs, logits)


LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def measure(model, layer, probe, evaluation, config: Config) -> dict:
    """One row of the table: gradient flow, spectral radius, norms, accuracy."""
    norms = diagnostics.hidden_state_gradients(model, layer, *probe, LOSS)
    clipping = diagnostics.gradient_norms(model, *probe, config.clip_norm, LOSS)
    radii = diagnostics.spectral_radius(layer)
    predictions = np.argmax(model(evaluation[0], training=False), axis=-1)
    return {
        "grad_first": float(norms[0]),
        "grad_last": float(norms[-1]),
        "ratio": float(norms[0] / norms[-1]) if norms[-1] > 0 else math.nan,
        "spectral_radius": radii,
        "global_norm": clipping.norm,
        "clipped_norm": clipping.clipped_norm,
        "accuracy": float(np.mean(predictions == evaluation[1])),
        "norms": norms,
    }


def sgd_from_here(model, probe, config: Config, clip_norm) -> dict:
    """`sgd_steps` plain SGD steps on the probe batch, then the weights back.

    Returns how far they moved the weights (the global norm of the change),
    and the probe loss and global gradient norm they led to.
    """
    weights = [w.numpy() for w in model.trainable_weights]
    optimizer = keras.optimizers.SGD(
        config.sgd_learning_rate, global_clipnorm=clip_norm
    )
    for _ in range(config.sgd_steps):
        with tf.GradientTape() as tape:
            loss = LOSS(probe[1], model(probe[0], training=True))
        gradients = tape.gradient(loss, model.trainable_weights)
        # The embedding's gradient comes as IndexedSlices with a row per
        # token occurrence; the global norm of those counts a repeated token's
        # rows apart, not summed, so it is made dense first.
        gradients = [tf.convert_to_tensor(g) for g in gradients]
        optimizer.apply(gradients, model.trainable_weights)
    moved = [
        w.numpy() - start
        for w, start in zip(model.trainable_weights, weights, strict=True)
    ]
    after = diagnostics.gradient_norms(model, *probe, config.clip_norm, LOSS)
    result = {
        "update_norm": float(np.sqrt(sum(np.sum(np.square(m)) for m in moved))),
        "loss": float(LOSS(probe[1], model(probe[0], training=False))),
        "global_norm": after.norm,
    }
    for variable, start in zip(model.trainable_weights, weights, strict=True):
        variable.assign(start)
    return result


def format_table(table, config: Config) -> str:
    header = (
        f"{'cell':<12} {'phase':<8} {'|dL/dh(0)|':>10} {'|dL/dh(T-1)|':>12} "
        f"{'ratio':>9} {'spectral radius':>18} {'grad norm':>10} "
        f"{'clipped':>8} {'accuracy':>8}"
    )
    lines = [header]
    for row in table:
        name, radius = max(row["spectral_radius"].items(), key=lambda kv: kv[1])
        lines.append(
            f"{row['cell']:<12} {row['phase']:<8} {row['grad_first']:>10.2e} "
            f"{row['grad_last']:>12.2e} {row['ratio']:>9.1e} "
            f"{f'{radius:.2f} ({name})':>18} {row['global_norm']:>10.2e} "
            f"{row['clipped_norm']:>8.2f} {row['accuracy']:>8.3f}"
        )
    lines.append(
        f"\nFrom W_hh x {config.scale:g}, {config.sgd_steps} plain SGD steps "
        f"(learning rate {config.sgd_learning_rate:g}) without / with clipping:"
    )
    lines.append(
        f"{'cell':<12} {'weights moved by':>21} {'loss after':>15} "
        f"{'grad norm after':>21}"
    )
    for row in table:
        if row["phase"] == "scaled":
            free, clipped = row["sgd_unclipped"], row["sgd_clipped"]
            lines.append(
                f"{row['cell']:<12} "
                f"{free['update_norm']:>10.2e} / {clipped['update_norm']:<8.2e} "
                f"{free['loss']:>7.3f} / {clipped['loss']:<5.3f} "
                f"{free['global_norm']:>10.2e} / {clipped['global_norm']:<8.2e}"
            )
    return "\n".join(lines)


def main(argv=None):
    config = parse_config(Config, argv, description=__doc__)
    os.makedirs(config.output_dir, exist_ok=True)
    probe = first_token_task(config, config.probe_examples, config.seed + 1)
    evaluation = first_token_task(config, config.eval_examples, config.seed + 2)
    train = first_token_task(
        config, config.train_steps * config.batch_size, config.seed + 3
    )
    print(
        f"Recall the first of {config.steps} tokens "
        f"(chance = {1 / (config.vocabulary - 1):.3f}); "
        f"{config.units} units, {config.train_steps} training steps"
    )

    names = list(make_layers(config))
    if config.cells:
        chosen = [name.strip() for name in config.cells.split(",")]
        unknown = sorted(set(chosen) - set(names))
        if unknown:
            raise ValueError(f"cells must be among {names}. Received: {unknown}")
        names = chosen
    table = []
    for name in names:
        keras.utils.set_random_seed(config.seed)  # the same seeds for each cell
        layer = make_layers(config)[name]
        model = build_model(config, layer)
        table.append(
            {"cell": name, "phase": "init"}
            | measure(model, layer, probe, evaluation, config)
        )

        # Explosion: the initial W_hh times `scale`, every gate block alike.
        recurrent_kernel = layer.cell.recurrent_kernel
        initial = recurrent_kernel.numpy()
        recurrent_kernel.assign(initial * config.scale)
        row = {"cell": name, "phase": "scaled"}
        row |= measure(model, layer, probe, evaluation, config)
        row["sgd_unclipped"] = sgd_from_here(model, probe, config, None)
        row["sgd_clipped"] = sgd_from_here(model, probe, config, config.clip_norm)
        table.append(row)
        recurrent_kernel.assign(initial)

        model.compile(
            optimizer=keras.optimizers.Adam(
                config.learning_rate, global_clipnorm=config.clip_norm
            ),
            loss=LOSS,
            jit_compile=config.jit_compile,
        )
        start = time.perf_counter()
        model.fit(*train, batch_size=config.batch_size, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
        row = {"cell": name, "phase": "trained", "train_seconds": seconds}
        table.append(row | measure(model, layer, probe, evaluation, config))
        print(f"  {name}: trained in {seconds:.0f} s")

    print(format_table(table, config))
    panels = {
        "at initialisation": {},
        f"W_hh x {config.scale:g} (initial weights)": {},
        f"after {config.train_steps} training steps": {},
    }
    for row in table:
        phase = ["init", "scaled", "trained"].index(row["phase"])
        list(panels.values())[phase][row["cell"]] = row["norms"]
    path = diagnostics.plot_gradient_flow(
        panels,
        os.path.join(config.output_dir, "gradient_flow.png"),
        title=f"‖∂L/∂h(k)‖, recall the first of T = {config.steps} tokens",
    )
    print(f"plot: {path}")
    return table


if __name__ == "__main__":
    main()
