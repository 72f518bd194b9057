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
import importlib.util
import os
import sys

if importlib.util.find_spec("seq2seq") is None:  # run from a clone, not installed
    print("error: seq2seq is not installed; run: pip install -e .", file=sys.stderr)
    sys.exit(2)

from seq2seq import cli  # first: TensorFlow starts quietly (--tf-logs true: not)

# isort: split
import keras

from seq2seq import diagnostics, layers
from seq2seq.diagnostics import first_token
from seq2seq.training import ConfigError, option, parse_config


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
            bias_initializer=first_token.gate_bias_initializer(1, bias),  # i, f, c, o
        ),
        f"GRU b_z={bias:g}": layers.GRU(
            units,
            bias_initializer=first_token.gate_bias_initializer(0, bias),  # z, r, h
        ),
    }


def task(config: Config, examples: int, seed: int):
    """`(tokens, labels)` of the first-token task at the configured sizes."""
    return first_token.first_token_task(examples, config.steps, config.vocabulary, seed)


def main(argv=None):
    config = parse_config(Config, argv, description=__doc__)
    os.makedirs(config.output_dir, exist_ok=True)
    probe = task(config, config.probe_examples, config.seed + 1)
    evaluation = task(config, config.eval_examples, config.seed + 2)
    train = task(config, config.train_steps * config.batch_size, config.seed + 3)
    print(
        f"Recall the first of {config.steps} tokens "
        f"(chance = {1 / (config.vocabulary - 1):.3f}); "
        f"{config.units} units, {config.train_steps} training steps"
    )

    def measure(model, layer):
        return first_token.measure(model, layer, probe, evaluation, config.clip_norm)

    names = list(make_layers(config))
    if config.cells:
        chosen = [name.strip() for name in config.cells.split(",")]
        unknown = sorted(set(chosen) - set(names))
        if unknown:
            raise ConfigError(f"cells must be among {names}. Received: {unknown}")
        names = chosen
    table = []
    for name in names:
        keras.utils.set_random_seed(config.seed)  # the same seeds for each cell
        layer = make_layers(config)[name]
        model = first_token.first_token_model(
            layer, config.vocabulary, config.embedding_size, config.steps
        )
        table.append({"cell": name, "phase": "init"} | measure(model, layer))

        # Explosion: the initial W_hh times `scale`, every gate block alike.
        recurrent_kernel = layer.cell.recurrent_kernel
        initial = recurrent_kernel.numpy()
        recurrent_kernel.assign(initial * config.scale)
        row = {"cell": name, "phase": "scaled"}
        row |= measure(model, layer)
        sgd = (config.sgd_steps, config.sgd_learning_rate)
        row["sgd_unclipped"] = first_token.sgd_from_here(model, probe, *sgd)
        row["sgd_clipped"] = first_token.sgd_from_here(
            model, probe, *sgd, config.clip_norm
        )
        table.append(row)
        recurrent_kernel.assign(initial)

        _, seconds = first_token.train(
            model, train, 1, config.batch_size, config.learning_rate,
            config.clip_norm, config.jit_compile,
        )  # fmt: skip
        row = {"cell": name, "phase": "trained", "train_seconds": seconds}
        table.append(row | measure(model, layer))
        print(f"  {name}: trained in {seconds:.0f} s")

    print(
        first_token.format_table(
            table, config.scale, config.sgd_steps, config.sgd_learning_rate
        )
    )
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
    cli.run(main)
