"""Layer demo: which recurrent cell remembers the first token?

The task: read a right-padded sequence of random tokens (lengths 10 to
`--max-length`) and output its first token. The answer sits at the start, so
the network must carry it through every later step, the long-range memory
that separates LSTM and GRU from the vanilla RNN. Every model is built from
`seq2seq.layers`, trained with `jit_compile=True`, and read through an
`Embedding(mask_zero=True)` mask; each is trained again from the same initial
weights with Keras's built-in layer, and the two runs agree.

    python recipes/layer_demo.py            # about two minutes on 2 cores
    python recipes/layer_demo.py --epochs 20 --max-length 40
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys

if importlib.util.find_spec("seq2seq") is None:  # run from a clone, not installed
    print("error: seq2seq is not installed; run: pip install -e .", file=sys.stderr)
    sys.exit(2)

from seq2seq import cli  # first: TensorFlow starts quietly (--tf-logs true: not)

# isort: split
import keras
import numpy as np

from seq2seq import layers
from seq2seq.diagnostics import first_token
from seq2seq.training import option, parse_config


@dataclasses.dataclass
class Config:
    vocabulary: int = option(8, "tokens 1..vocabulary-1; 0 is padding")
    min_length: int = option(10, "shortest sequence")
    max_length: int = option(20, "longest sequence")
    examples: int = option(4096, "training sequences")
    units: int = option(32, "units of each recurrent layer")
    epochs: int = option(8, "training epochs")
    batch_size: int = option(64, "sequences per batch")
    learning_rate: float = option(1e-2, "Adam's learning rate")
    seed: int = option(0, "seed of the data and of the initial weights")


def make_data(config: Config, examples: int, seed: int):
    """Random right-padded token sequences; the label is the first token."""
    return first_token.first_token_task(
        examples, config.max_length, config.vocabulary, seed, config.min_length
    )


def build_model(layer, config: Config) -> keras.Model:
    return first_token.first_token_model(layer, config.vocabulary, mask_zero=True)


def main(argv=None) -> None:
    config = parse_config(Config, argv, description=__doc__)
    keras.utils.set_random_seed(config.seed)
    train = make_data(config, config.examples, config.seed)
    valid = make_data(config, 1024, config.seed + 1)

    # Each cell is trained twice from the same initial weights: once from
    # seq2seq.layers, once from keras.layers. Same layout, same equations: the
    # two training runs should agree to float32 round-off.
    candidates = {
        "SimpleRNN": lambda m: m.SimpleRNN(config.units),
        "GRU": lambda m: m.GRU(config.units),
        "LSTM": lambda m: m.LSTM(config.units),
        # Easy on purpose: its backward half reads the first token last.
        "Bidirectional(LSTM)": lambda m: m.Bidirectional(m.LSTM(config.units)),
    }
    print(
        f"Recall the first of {config.min_length}-{config.max_length} tokens "
        f"(chance = {1 / (config.vocabulary - 1):.2f}), {config.epochs} epochs:"
    )
    print(f"  {'cell':<20} {'seq2seq':>8} {'keras':>8} {'max |loss diff|':>16}")
    for name, make_layer in candidates.items():
        results = {}
        keras.utils.set_random_seed(config.seed)
        keras_model = build_model(make_layer(keras.layers), config)
        for module_name, module in (("seq2seq", layers), ("keras", keras.layers)):
            if module is keras.layers:
                model = keras_model
            else:  # Same layout, so Keras's initial weights copy straight in.
                model = build_model(make_layer(module), config)
                model.set_weights(keras_model.get_weights())
            history, seconds = first_token.train(
                model, train, config.epochs, config.batch_size,
                config.learning_rate, clip_norm=1.0,
            )  # fmt: skip
            _, accuracy = model.evaluate(*valid, verbose=0)
            results[module_name] = (
                accuracy,
                np.array(history.history["loss"]),
                seconds,
            )
        (ours, our_loss, our_time), (theirs, their_loss, their_time) = results.values()
        print(
            f"  {name:<20} {ours:>8.3f} {theirs:>8.3f} "
            f"{np.abs(our_loss - their_loss).max():>16.1e}"
            f"   ({our_time:.0f} s vs {their_time:.0f} s)"
        )


if __name__ == "__main__":
    cli.run(main)
