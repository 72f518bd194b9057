"""Gradient flow through time: ‖∂L/∂h(k)‖, spectral radii, clipped norms."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from seq2seq.layers.cell_registry import cell_type_of
from seq2seq.layers.rnn import RNN, call_cell, output_size, state_sizes


def recurrent_blocks(layer) -> dict[str, tf.Tensor]:
    """The square blocks of a cell's `recurrent_kernel`, by gate name.

    The names come from the cell's registration (`register_cell(...,
    gate_names=...)`): block g is `W_<g>h`, e.g. `W_ih, W_fh, W_ch, W_oh` for
    an LSTM, `W_zh, W_rh, W_nh` for a GRU, `W_hh` for a vanilla RNN.

    Args:
        layer: One of our `RNN` layers, or its cell (built).

    Returns:
        `{name: [units, units] tensor}` in column order.
    """
    cell = layer.cell if isinstance(layer, RNN) else layer
    spec = cell_type_of(cell)
    kernel = getattr(cell, "recurrent_kernel", None)
    if spec is None or spec.gate_names is None or kernel is None:
        raise ValueError(
            "The layer's cell must be built, have a `recurrent_kernel` and be "
            "registered with gate names (seq2seq.layers.register_cell(name, "
            f"cell_class, gate_names=...)). Received: {layer!r}"
        )
    blocks = tf.split(tf.convert_to_tensor(kernel), len(spec.gate_names), axis=1)
    return {f"W_{gate}h": b for gate, b in zip(spec.gate_names, blocks, strict=True)}


class _StateProbe:
    """Wraps a cell so that a perturbation ε(t) is added to one of its states.

    Its input at step t is `[x(t); ε(t); valid(t)]`. It runs the wrapped
    cell, applies the driver's masking convention itself (a padded step
    carries the states and the previous output), then adds ε(t) to the chosen
    state, and to the output too when the cell's output is that state (as for
    `SimpleRNNCell`, `LSTMCell` and `GRUCell`, whose output is `h(t)`). Since
    ε is zero, nothing changes; ∂L/∂ε(t) is the total derivative of the loss
    with respect to the state after step t, through every later step.

    The previous output travels as an extra, last state, because the driver is
    run without a mask (the probe masks) and so cannot carry it.

    It is a plain object, not a layer: the wrapped cell keeps its weights and
    its dropout masks, which the probed layer's driver has drawn.
    """

    def __init__(self, cell, input_size, state_index, has_mask, training):
        self.cell = cell
        self.input_size = input_size
        self.state_index = state_index
        self.has_mask = has_mask
        self.training = training
        self.cell_state_sizes = state_sizes(cell)
        self.output_size = output_size(cell)
        self.state_size = [*self.cell_state_sizes, self.output_size]
        self.output_is_state = None  # learnt at the first step

    def call(self, inputs, states):
        probed_size = self.cell_state_sizes[self.state_index]
        x, perturbation, valid = tf.split(
            inputs, [self.input_size, probed_size, 1], axis=-1
        )
        old_states, previous_output = list(states[:-1]), states[-1]
        output, new_states = call_cell(self.cell, x, old_states, self.training)
        if self.output_is_state is None:
            self.output_is_state = output is new_states[self.state_index]
        if self.has_mask:
            valid = valid > 0.5
            new_states = [
                tf.where(valid, new, old)
                for new, old in zip(new_states, old_states, strict=True)
            ]
            output = tf.where(valid, output, previous_output)
        new_states[self.state_index] = new_states[self.state_index] + perturbation
        if self.output_is_state:
            output = output + perturbation
        return output, [*new_states, output]


def _probed_inner_loop(layer, state_index, perturbations, tape):
    """A generic `inner_loop` for `layer` that perturbs one state at every step.

    `perturbations` is a list; the zero ε `[batch, time, size]` it creates is
    appended to it, so the caller can differentiate with respect to it.
    """

    def inner_loop(sequences, initial_states, mask, training=False):
        batch_size, time_steps = tf.shape(sequences)[0], tf.shape(sequences)[1]
        probe = _StateProbe(
            layer.cell,
            int(sequences.shape[-1]),
            state_index,
            has_mask=mask is not None,
            training=bool(training),
        )
        size = probe.cell_state_sizes[state_index]
        perturbation = tf.zeros([batch_size, time_steps, size], sequences.dtype)
        perturbations.append(perturbation)
        if tape is not None:
            tape.watch(perturbation)
        if mask is None:
            valid = tf.ones([batch_size, time_steps, 1], sequences.dtype)
        else:
            valid = tf.cast(mask, sequences.dtype)[..., tf.newaxis]
        probed = tf.concat([sequences, perturbation, valid], axis=-1)
        zero_output = tf.zeros([batch_size, probe.output_size], sequences.dtype)
        # A fresh driver runs the generic loop over the probe; the probe does
        # the masking, so this driver gets none. Padded steps write zeros with
        # `zero_output_for_mask`, and the last output is the carried one.
        driver = RNN(probe, return_sequences=layer.return_sequences)
        _, outputs, states = RNN.inner_loop(
            driver, probed, [*initial_states, zero_output], None, training
        )
        last_output, states = states[-1], states[:-1]
        if outputs is not None and mask is not None and layer.zero_output_for_mask:
            outputs = tf.where(mask[..., tf.newaxis], outputs, tf.zeros_like(outputs))
        return last_output, outputs, states

    return inner_loop


@contextlib.contextmanager
def probe_states(layer: RNN, state_index: int = 0, tape=None):
    """Runs `layer` through a state probe for the calls made inside the block.

    Inside the block every call of `layer` takes the generic loop (never the
    fused path), and adds a zero perturbation ε `[batch, time, size]` to the
    state `state_index` after every step (and to the output, when the output
    is that state). The block yields the list the perturbations are appended
    to, one per call; differentiate a loss with respect to them to get
    ∂L/∂h(k). Outputs and states are unchanged.

    Args:
        layer: One of our `RNN` layers (`SimpleRNN`, `LSTM`, `GRU`, or `RNN`
            over any cell).
        state_index: Which of the cell's states to perturb (for a stack of
            cells the states are flat: `[h0, c0, h1, c1]` for two LSTMs).
        tape: The `tf.GradientTape` the loss is computed under; it is made
            to watch the perturbations.

    Yields:
        The list of perturbation tensors, one per call of `layer`.

    >>> from seq2seq.layers import SimpleRNN
    >>> layer = SimpleRNN(8)
    >>> model = keras.Sequential([keras.Input((20, 3)), layer, keras.layers.Dense(1)])
    >>> x, y = np.ones((4, 20, 3)), np.zeros((4, 1))
    >>> with tf.GradientTape() as tape, probe_states(layer, tape=tape) as probes:
    ...     loss = tf.reduce_mean(tf.square(model(x) - y))
    >>> tape.gradient(loss, probes[0]).shape  # ∂L/∂h(k): [batch, time, units]
    TensorShape([4, 20, 8])
    """
    _check_layer(layer)
    count = len(state_sizes(layer.cell))
    if not 0 <= state_index < count:
        raise ValueError(
            f"state_index must be in [0, {count}) for a cell with {count} "
            f"state(s). Received: state_index={state_index}"
        )
    perturbations = []
    # An instance attribute shadows the class's `inner_loop` for this layer
    # alone, and only until the block ends.
    layer.inner_loop = _probed_inner_loop(layer, state_index, perturbations, tape)
    try:
        yield perturbations
    finally:
        del layer.inner_loop


def _check_layer(layer):
    if not isinstance(layer, RNN):
        raise ValueError(
            "layer must be one of seq2seq.layers' recurrent layers (RNN, "
            "SimpleRNN, LSTM, GRU); for a Bidirectional layer pass its "
            "forward_layer or backward_layer. "
            f"Received: layer={layer!r}"
        )


def _default_loss(model):
    def loss_fn(targets, predictions):
        return model.compute_loss(y=targets, y_pred=predictions, training=False)

    return loss_fn


def hidden_state_gradients(
    model: keras.Model,
    layer: RNN,
    inputs,
    targets,
    loss_fn: Callable | None = None,
    *,
    state_index: int = 0,
    per_example: bool = False,
    training: bool = False,
    gates: bool = False,
):
    """The norm of ∂L/∂h(k) at every time step k of one recurrent layer.

    ∂L/∂h(k) is the total derivative through the recurrence: how the loss
    changes when the state leaving step k changes, counting every path, the
    output at step k and all later steps. For a vanilla RNN it is
    `∂L/∂h(k) = Σ_t≥k ∂L/∂y(t) · Π ∂h(j)/∂h(j-1)`, with the Jacobians
    `diag(1 - h(j)²) W_hh`; its norm shrinks or grows with them, which is the
    vanishing (exploding) gradient problem.

    It is measured by running `layer` through `probe_states`: the generic
    loop, with a zero perturbation ε(k) added to the state after every step,
    and ∂L/∂ε(k) taken with a `tf.GradientTape`.

    Masks: at a padded step the state is carried, and so is the gradient:
    ∂L/∂h(k) at a padded step is the derivative with respect to the carried
    state (and output). With right padding and the last output as the layer's
    result, every padded step of a row shows the gradient of its last valid
    step.

    Args:
        model: A Keras model containing `layer`.
        layer: The recurrent layer to probe, one of our `RNN` layers, called
            exactly once by `model`.
        inputs: What `model` is called on.
        targets: What `loss_fn` compares the predictions with.
        loss_fn: `loss_fn(targets, predictions) -> scalar`. Default: the
            compiled model's `compute_loss`.
        state_index: Which state is h (0: `h`; for an LSTM, 1 is `c`).
        per_example: Return `[batch, time]`, each example's norm, instead of
            `[time]`, the norm over the whole batch.
        training: The `training` flag of the model call (dropout).
        gates: Also return the gradient of the loss with respect to each
            gate's block of the cell's `recurrent_kernel`, named by the gate
            names the cell was registered with (`W_<gate>h`, as
            `spectral_radius` names them), from the same backward pass.

    Returns:
        `[time]` (or `[batch, time]`) float64 NumPy array; step k in the order
        the layer processes the steps (reversed with `go_backwards`). With
        `gates=True`, `(norms, {"W_<gate>h": [units, units] array})`.

    >>> from seq2seq.layers import LSTM
    >>> layer = LSTM(8)
    >>> model = keras.Sequential([keras.Input((20, 3)), layer, keras.layers.Dense(1)])
    >>> x, y = np.ones((4, 20, 3)), np.zeros((4, 1))
    >>> norms, gates = hidden_state_gradients(
    ...     model, layer, x, y, keras.losses.MeanSquaredError(), gates=True)
    >>> norms.shape, list(gates), gates["W_fh"].shape
    ((20,), ['W_ih', 'W_fh', 'W_ch', 'W_oh'], (8, 8))
    """
    loss_fn = loss_fn or _default_loss(model)
    if not model.built:
        # Building may trace the call symbolically (a second call of the
        # layer): build first, outside the probe.
        model(inputs, training=False)
    with (
        tf.GradientTape() as tape,
        probe_states(layer, state_index, tape) as perturbations,
    ):
        predictions = model(inputs, training=training)
        loss = loss_fn(targets, predictions)
    if len(perturbations) != 1:
        raise ValueError(
            f"layer must be called exactly once by the model. Received: "
            f"{len(perturbations)} calls of {layer.name!r}"
        )
    kernel = getattr(layer.cell, "recurrent_kernel", None) if gates else None
    sources = [perturbations[0]] + ([kernel] if kernel is not None else [])
    gradient, *kernel_gradient = tape.gradient(loss, sources)
    kernel_gradient = kernel_gradient or [None]
    if gradient is None:  # the loss does not depend on the layer
        gradient = tf.zeros_like(perturbations[0])
    squares = tf.reduce_sum(tf.square(tf.cast(gradient, tf.float64)), axis=-1)
    if not per_example:
        squares = tf.reduce_sum(squares, axis=0)
    norms = np.sqrt(squares.numpy())
    if not gates:
        return norms
    names = list(recurrent_blocks(layer))  # the layer is built by now
    kernel_gradient = kernel_gradient[0]
    if kernel_gradient is None:
        kernel_gradient = tf.zeros_like(layer.cell.recurrent_kernel)
    blocks = np.split(np.asarray(kernel_gradient), len(names), axis=1)
    return norms, dict(zip(names, blocks, strict=True))


def spectral_radius(layer) -> dict[str, float]:
    """The spectral radius of W_hh, or of each gate's block of it.

    The spectral radius (the largest |eigenvalue|) of the recurrent matrix
    bounds how fast a linearised recurrence grows or shrinks: below 1 the
    state, and the gradient through it, shrink geometrically; above 1 they
    can grow. For a vanilla RNN that is the whole story, with the activation's
    derivative (at most 1 for tanh) shrinking it further. LSTM and GRU have one
    square block per gate; each is reported.

    Args:
        layer: A `SimpleRNN`, `LSTM` or `GRU` layer, or its cell (built).

    Returns:
        `{"W_hh": r}` for a vanilla RNN; `{"W_ih", "W_fh", "W_ch", "W_oh"}`
        for an LSTM; `{"W_zh", "W_rh", "W_nh"}` for a GRU (Keras's block order
        of `recurrent_kernel`). Eigenvalues of `W` and `W^T` are the same, so
        Keras's `[units, blocks * units]` layout needs no transpose.

    >>> from seq2seq.layers import LSTM
    >>> layer = LSTM(8)
    >>> _ = layer(np.zeros((1, 2, 3)))
    >>> list(spectral_radius(layer))
    ['W_ih', 'W_fh', 'W_ch', 'W_oh']
    """
    return {
        name: float(np.max(np.abs(np.linalg.eigvals(block.numpy().astype("float64")))))
        for name, block in recurrent_blocks(layer).items()
    }


@dataclasses.dataclass
class GradientNorms:
    """The global gradient norm of one batch, before and after clipping.

    Attributes:
        norm: `sqrt(Σ ‖g‖²)` over every trainable weight.
        clipped_norm: The same after `tf.clip_by_global_norm`:
            `min(norm, clip_norm)`.
        gradients: The gradients, in `model.trainable_weights` order.
        clipped_gradients: `gradients * clip_norm / max(norm, clip_norm)`.
    """

    norm: float
    clipped_norm: float
    gradients: list
    clipped_gradients: list


def gradient_norms(
    model: keras.Model,
    inputs,
    targets,
    clip_norm: float,
    loss_fn: Callable | None = None,
    *,
    training: bool = False,
) -> GradientNorms:
    """The global gradient norm of one batch, before and after clipping.

    Clipping is `tf.clip_by_global_norm`, what Keras optimizers do with
    `global_clipnorm=clip_norm`: every gradient is scaled by the same
    `clip_norm / max(norm, clip_norm)`, so the direction is kept and only an
    exploding step is shortened.

    Args:
        model: A Keras model.
        inputs: What `model` is called on.
        targets: What `loss_fn` compares the predictions with.
        clip_norm: Positive float, the clipping threshold.
        loss_fn: `loss_fn(targets, predictions) -> scalar`. Default: the
            compiled model's `compute_loss`.
        training: The `training` flag of the model call.

    Returns:
        A `GradientNorms`.

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> x, y = 10 * np.ones((4, 3)), np.zeros((4, 1))
    >>> norms = gradient_norms(
    ...     model, x, y, clip_norm=1.0, loss_fn=keras.losses.MeanSquaredError())
    >>> norms.norm > 1.0, round(norms.clipped_norm, 5)
    (True, 1.0)
    """
    if not clip_norm > 0:
        raise ValueError(f"clip_norm must be positive. Received: clip_norm={clip_norm}")
    loss_fn = loss_fn or _default_loss(model)
    with tf.GradientTape() as tape:
        loss = loss_fn(targets, model(inputs, training=training))
    weights = model.trainable_weights
    gradients = tape.gradient(loss, weights)
    gradients = [
        tf.zeros_like(w) if g is None else tf.convert_to_tensor(g)
        for g, w in zip(gradients, weights, strict=True)
    ]
    clipped, norm = tf.clip_by_global_norm(gradients, clip_norm)
    return GradientNorms(
        norm=float(norm),
        clipped_norm=float(tf.linalg.global_norm(clipped)),
        gradients=[g.numpy() for g in gradients],
        clipped_gradients=[g.numpy() for g in clipped],
    )


def plot_gradient_flow(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    path: str,
    title: str | None = None,
) -> str:
    """Plots ‖∂L/∂h(k)‖ against k, log scale, one panel per condition.

    Args:
        panels: `{panel title: {line label: norms [time]}}`, e.g.
            `{"init": {"SimpleRNN": ..., "LSTM": ...}, "trained": {...}}`.
        path: Where the PNG goes.
        title: Optional figure title.

    Returns:
        `path`.

    >>> norms = [1.0, 0.5, 0.25, 0.0]
    >>> plot_gradient_flow({"init": {"LSTM": norms}}, "flow.png")
    'flow.png'
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(
        1, len(panels), figsize=(4.5 * len(panels), 3.8), sharey=True, squeeze=False
    )
    for axis, (panel, lines) in zip(axes[0], panels.items(), strict=True):
        for label, norms in lines.items():
            norms = np.asarray(norms, dtype="float64")
            # Zeros have no logarithm: they are left out and counted in the
            # legend (a gradient can vanish exactly, e.g. through saturated
            # units in float32).
            zeros = int(np.sum(norms == 0))
            if zeros:
                label = f"{label} (0 at {zeros} steps)"
            shown = np.where(norms > 0, norms, np.nan)
            axis.semilogy(np.arange(len(norms)), shown, label=label)
        axis.set_title(panel)
        axis.set_xlabel("time step k")
        axis.grid(True, which="major", alpha=0.3)
        axis.legend()
    axes[0][0].set_ylabel("‖∂L/∂h(k)‖")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path
