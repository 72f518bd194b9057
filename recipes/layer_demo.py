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

This is a stand-in for the main job until the translation recipe exists.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from seq2seq import layers  # noqa: E402


@dataclasses.dataclass
class Config:
    vocabulary: int = 8  # tokens 1..7; 0 is padding
    min_length: int = 10
    max_length: int = 20
    examples: int = 4096
    units: int = 32
    epochs: int = 8
    batch_size: int = 64
    learning_rate: float = 1e-2
    seed: int = 0


def make_data(config: Config, examples: int, seed: int):
    """Random right-padded token sequences; the label is the first token."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(config.min_length, config.max_length + 1, size=examples)
    tokens = rng.integers(1, config.vocabulary, size=(examples, config.max_length))
    tokens[np.arange(config.max_length)[None, :] >= lengths[:, None]] = 0
    return tokens.astype("int32"), tokens[:, 0] - 1


def build_model(layer, config: Config) -> keras.Model:
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(config.vocabulary, 16, mask_zero=True)(inputs)
    x = layer(x)
    outputs = keras.layers.Dense(config.vocabulary - 1)(x)
    return keras.Model(inputs, outputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for field in dataclasses.fields(Config):
        parser.add_argument(
            "--" + field.name.replace("_", "-"),
            type=type(field.default),
            default=field.default,
            help=f"default: {field.default}",
        )
    config = Config(**vars(parser.parse_args()))
    keras.utils.set_random_seed(config.seed)
    x_train, y_train = make_data(config, config.examples, config.seed)
    x_valid, y_valid = make_data(config, 1024, config.seed + 1)

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
            model.compile(
                optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=1.0),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"],
                jit_compile=True,
            )
            start = time.perf_counter()
            history = model.fit(
                x_train,
                y_train,
                batch_size=config.batch_size,
                epochs=config.epochs,
                verbose=0,
            )
            seconds = time.perf_counter() - start
            _, accuracy = model.evaluate(x_valid, y_valid, verbose=0)
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
    main()
