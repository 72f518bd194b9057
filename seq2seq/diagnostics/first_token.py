"""The first-token task: how far back a recurrent layer carries a gradient.

A model reads a sequence of random tokens and outputs the first one. The
answer sits at step 0, so the loss reaches it only through ∂L/∂h(k) carried
back over every later step: the task separates the cells that remember
(LSTM, GRU) from the vanilla RNN. `recipes/gradient_flow.py` measures the
gradient flow on it (`measure`, `sgd_from_here`, `format_table`) and
`recipes/layer_demo.py` trains each cell on it; both train with `train`.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import tensorflow as tf

from seq2seq.diagnostics.gradient_flow import (
    gradient_norms,
    hidden_state_gradients,
    spectral_radius,
)

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def first_token_task(examples, steps, vocabulary, seed, min_length=None):
    """Random token sequences and their first token, the label.

    Args:
        examples: Number of sequences.
        steps: Their length (the longest, with `min_length`).
        vocabulary: Tokens are 1 to `vocabulary - 1`; 0 is padding.
        seed: Seed of the generator.
        min_length: When given, each sequence has a random length from
            `min_length` to `steps` and is right-padded with 0.

    Returns:
        `(tokens [examples, steps], labels [examples])`, `int32`; a label is
        the first token minus 1 (classes 0 to `vocabulary - 2`).

    >>> tokens, labels = first_token_task(3, 5, vocabulary=8, seed=0)
    >>> tokens.shape, bool((labels == tokens[:, 0] - 1).all())
    ((3, 5), True)
    """
    rng = np.random.default_rng(seed)
    if min_length is not None:
        lengths = rng.integers(min_length, steps + 1, size=examples)
    tokens = rng.integers(1, vocabulary, size=(examples, steps))
    if min_length is not None:
        tokens[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    return tokens.astype("int32"), (tokens[:, 0] - 1).astype("int32")


def first_token_model(
    layer, vocabulary, embedding_size=16, steps=None, mask_zero=False
) -> keras.Model:
    """Embedding, then `layer` (its last output), then logits of the tokens."""
    inputs = keras.Input((steps,), dtype="int32")
    x = keras.layers.Embedding(vocabulary, embedding_size, mask_zero=mask_zero)(inputs)
    logits = keras.layers.Dense(vocabulary - 1)(layer(x))
    return keras.Model(inputs, logits)


def gate_bias_initializer(block, value):
    """A bias initializer: `value` on the gate `block` (0-based), 0 elsewhere.

    For GRU's `[2, 3 * units]` bias (`reset_after`) only the input row gets it.
    The gates are in Keras's order (LSTM i, f, c, o; GRU z, r, h).
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


def train(model, data, epochs, batch_size, learning_rate, clip_norm, jit_compile=True):
    """Trains a model of the task with Adam, clipped, and times it.

    Args:
        model: A model of the task (`first_token_model`).
        data: `(tokens, labels)`, shuffled into batches every epoch.
        epochs, batch_size, learning_rate: Of the training.
        clip_norm: Global-norm clipping of each update.
        jit_compile: Whether the step is compiled with XLA.

    Returns:
        `(history, seconds)`: Keras's `History` (loss and accuracy per epoch)
        and the wall-clock seconds of `fit`.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=clip_norm),
        loss=LOSS,
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    start = time.perf_counter()
    history = model.fit(*data, batch_size=batch_size, epochs=epochs, verbose=0)
    return history, time.perf_counter() - start


def measure(model, layer, probe, evaluation, clip_norm) -> dict:
    """Gradient flow, spectral radius, gradient norms and accuracy.

    Args:
        model: A model of the task (`first_token_model`).
        layer: Its recurrent layer.
        probe: `(tokens, labels)` the gradients are measured on.
        evaluation: `(tokens, labels)` the accuracy is measured on.
        clip_norm: The clipping threshold of `clipped_norm`.

    Returns:
        `{"grad_first", "grad_last", "ratio", "spectral_radius",
        "global_norm", "clipped_norm", "accuracy", "norms"}`: ‖∂L/∂h(0)‖,
        ‖∂L/∂h(T-1)‖, their ratio, `spectral_radius(layer)`, the global
        gradient norm before and after clipping, the accuracy and
        ‖∂L/∂h(k)‖ at every step.
    """
    norms = hidden_state_gradients(model, layer, *probe, LOSS)
    clipping = gradient_norms(model, *probe, clip_norm, LOSS)
    predictions = np.argmax(model(evaluation[0], training=False), axis=-1)
    return {
        "grad_first": float(norms[0]),
        "grad_last": float(norms[-1]),
        "ratio": float(norms[0] / norms[-1]) if norms[-1] > 0 else math.nan,
        "spectral_radius": spectral_radius(layer),
        "global_norm": clipping.norm,
        "clipped_norm": clipping.clipped_norm,
        "accuracy": float(np.mean(predictions == evaluation[1])),
        "norms": norms,
    }


def sgd_from_here(model, probe, steps, learning_rate, clip_norm=None) -> dict:
    """`steps` plain SGD steps on the probe batch, then the weights back.

    Args:
        model: A model of the task.
        probe: `(tokens, labels)` of the steps.
        steps, learning_rate: Of the SGD.
        clip_norm: Global-norm clipping of each step (None: none).

    Returns:
        `{"update_norm", "loss", "global_norm"}`: how far the steps moved the
        weights (the global norm of the change), and the probe loss and
        global gradient norm they led to.
    """
    weights = [w.numpy() for w in model.trainable_weights]
    optimizer = keras.optimizers.SGD(learning_rate, global_clipnorm=clip_norm)
    for _ in range(steps):
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
    after = gradient_norms(model, *probe, 1.0, LOSS)
    result = {
        "update_norm": float(np.sqrt(sum(np.sum(np.square(m)) for m in moved))),
        "loss": float(LOSS(probe[1], model(probe[0], training=False))),
        "global_norm": after.norm,
    }
    for variable, start in zip(model.trainable_weights, weights, strict=True):
        variable.assign(start)
    return result


def format_table(table, scale, sgd_steps, sgd_learning_rate) -> str:
    """The rows of `measure` (with "cell" and "phase") as a printable table.

    Rows of the "scaled" phase also carry `sgd_unclipped` and `sgd_clipped`
    (`sgd_from_here` without and with clipping), listed after the table.
    """
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
        f"\nFrom W_hh x {scale:g}, {sgd_steps} plain SGD steps "
        f"(learning rate {sgd_learning_rate:g}) without / with clipping:"
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
