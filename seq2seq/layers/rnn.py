"""The recurrent driver: `RNN` runs any cell over time."""

from __future__ import annotations

import inspect

import keras
import tensorflow as tf

from seq2seq import validation
from seq2seq.layers import masking
from seq2seq.layers.fused import MATMUL_DTYPES


def as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def state_sizes(cell) -> list[int]:
    """The cell's `state_size` as a flat list of ints."""
    return [int(size) for size in as_list(cell.state_size)]


def output_size(cell) -> int:
    """The cell's `output_size`, or the size of its first state."""
    size = getattr(cell, "output_size", None)
    return int(size) if size is not None else state_sizes(cell)[0]


def call_cell(cell, inputs, states, training):
    """One step of `cell`: `(output, [new_state, ...])`."""
    if isinstance(cell, keras.layers.Layer):
        output, new_states = cell(inputs, states, training=training)
    else:
        output, new_states = cell.call(inputs, states)
    return output, as_list(new_states)


def check_cell(cell, argument="cell"):
    if not (hasattr(cell, "state_size") and callable(getattr(cell, "call", None))):
        raise ValueError(
            f"{argument} must be a cell with a `state_size` attribute and a "
            "`call(inputs, states)` method, or a list of such cells. "
            f"Received: {argument}={cell!r}"
        )
    # Keras's cells draw their dropout masks lazily inside the step, which
    # inside our loop would draw them in the loop body; the driver only knows
    # how to hoist the masks of cells with `create_dropout_masks`.
    rates = [getattr(cell, name, 0) for name in ("dropout", "recurrent_dropout")]
    has_dropout = any(isinstance(r, (int, float)) and r > 0 for r in rates)
    lazy_masks = hasattr(cell, "get_dropout_mask")  # Keras's DropoutRNNCell
    if has_dropout and lazy_masks and not hasattr(cell, "create_dropout_masks"):
        raise ValueError(
            f"{argument} has dropout but no `create_dropout_masks()`, so its "
            "masks cannot be shared across time steps. Use seq2seq.layers cells "
            "(same weights as Keras's) or dropout=0. "
            f"Received: {argument}={cell!r} with dropout={rates[0]}, "
            f"recurrent_dropout={rates[1]}"
        )


@keras.saving.register_keras_serializable(package="seq2seq")
class StackedRNNCells(keras.layers.Layer):
    """Cells stacked into one cell: the output of each is the next's input.

    Its states are the cells' states, flattened in order (for two LSTM cells:
    `[h0, c0, h1, c1]`); its weights are the cells' in order, as in
    `keras.layers.StackedRNNCells`. Masks: like any cell it never sees one;
    the driver carries all the stacked states over padded steps.

    Args:
        cells: A non-empty list of cells.
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = as_list(cells)
        if not cells:
            raise ValueError(
                "cells must be a non-empty list of cells. Received: cells=[]"
            )
        for cell in cells:
            check_cell(cell, "cells")
        self.cells = cells

    @property
    def state_size(self):
        return [size for cell in self.cells for size in state_sizes(cell)]

    @property
    def output_size(self) -> int:
        return output_size(self.cells[-1])

    def build(self, input_shape):
        shape = tuple(input_shape)
        for cell in self.cells:
            if isinstance(cell, keras.layers.Layer) and not cell.built:
                cell.build(shape)
            shape = shape[:-1] + (output_size(cell),)

    def _split_states(self, states):
        states, grouped = as_list(states), []
        for cell in self.cells:
            count = len(state_sizes(cell))
            grouped.append(states[:count])
            states = states[count:]
        return grouped

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, cell_states in zip(
            self.cells, self._split_states(states), strict=True
        ):
            inputs, cell_new_states = call_cell(cell, inputs, cell_states, training)
            new_states.extend(cell_new_states)
        return inputs, new_states

    def get_initial_state(self, batch_size):
        return [
            state
            for cell in self.cells
            for state in initial_states_of(cell, batch_size, self.compute_dtype)
        ]

    def create_dropout_masks(self, batch_size, training=False):
        for cell in self.cells:
            if hasattr(cell, "create_dropout_masks"):
                cell.create_dropout_masks(batch_size, training)

    def clear_dropout_masks(self):
        for cell in self.cells:
            if hasattr(cell, "clear_dropout_masks"):
                cell.clear_dropout_masks()

    def get_config(self):
        config = super().get_config()
        config["cells"] = [keras.saving.serialize_keras_object(c) for c in self.cells]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cells"] = [
            keras.saving.deserialize_keras_object(c) for c in config["cells"]
        ]
        return cls(**config)


def initial_states_of(cell, batch_size, dtype):
    """The cell's own `get_initial_state`, or zeros."""
    if hasattr(cell, "get_initial_state"):
        return as_list(cell.get_initial_state(batch_size))
    return [tf.zeros([batch_size, size], dtype=dtype) for size in state_sizes(cell)]


@keras.saving.register_keras_serializable(package="seq2seq")
class RNN(keras.layers.Layer):
    """Runs a cell over the time axis: the driver that owns time.

    The cell computes one step; this layer owns the loop, masks,
    `go_backwards`, what is returned, initial states and the lifetime of the
    dropout masks. The loop is the one method `inner_loop()`, so a subclass
    can plug in a fused implementation while this generic one stays the
    reference.

    Masks: a boolean `[batch, time]` mask, True at valid steps, from an
    upstream `Embedding(mask_zero=True)` or passed as `mask=`. Batches are
    right-padded. At a padded step the states are carried unchanged, so the
    final states are those of the last valid step, and the output is the
    previous output (or zeros, with `zero_output_for_mask=True`). With
    `return_sequences=True` the mask is passed on.

    `go_backwards` reads each row's valid prefix in reverse and returns the
    outputs in the order they were computed, still right-padded, so the
    propagated mask still describes them. A mask with gaps (a `Masking`
    layer meeting an all-zero step) reverses up to the last valid step, the
    gaps carrying the state. Without a mask this is exactly Keras's
    behaviour; with one, the final states equal Keras's, while Keras
    places the reversed outputs after the padding.

    Args:
        cell: A cell (`state_size` and `call(inputs, states)`; `output_size`
            optional, default the first state size), or a list of cells,
            which are stacked.
        return_sequences: Return the output at every step, `[batch, time,
            output_size]`, rather than the last valid one.
        return_state: Also return the final states.
        go_backwards: Process each sequence from its last valid step to its
            first.
        zero_output_for_mask: With `return_sequences`, output zeros at padded
            steps instead of repeating the previous output.
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        sequences: `[batch, time, features]`.
        initial_state: Optional list of tensors, one per state, each
            `[batch, state_size]`. Default: the cell's `get_initial_state`,
            or zeros.
        mask: Optional boolean `[batch, time]`.
        training: Whether dropout is applied.

    Returns:
        The output (see `return_sequences`); with `return_state`, a tuple
        `(output, *final_states)`.

    >>> from seq2seq.layers import GRUCell, LSTMCell
    >>> layer = RNN([LSTMCell(8), GRUCell(4)], return_sequences=True)
    >>> layer(np.zeros((2, 5, 3))).shape
    TensorShape([2, 5, 4])
    """

    def __init__(
        self,
        cell,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs,
    ):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        check_cell(cell)
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True

    @property
    def state_size(self) -> list[int]:
        return state_sizes(self.cell)

    def build(self, sequences_shape, initial_state_shape=None):
        sequences_shape = tuple(sequences_shape)
        if len(sequences_shape) != 3:
            raise ValueError(
                f"{type(self).__name__} expects sequences of shape "
                f"(batch, time, features). Received: sequences.shape={sequences_shape}"
            )
        if isinstance(self.cell, keras.layers.Layer) and not self.cell.built:
            self.cell.build((sequences_shape[0], sequences_shape[2]))

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, time = sequences_shape[0], sequences_shape[1]
        size = output_size(self.cell)
        output = (batch, time, size) if self.return_sequences else (batch, size)
        if not self.return_state:
            return output
        return (output, *[(batch, s) for s in self.state_size])

    def compute_mask(self, sequences, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    def _check_initial_state(self, initial_state, batch_size):
        states = as_list(initial_state)
        expected = self.state_size
        shapes = [tuple(getattr(s, "shape", ())) for s in states]
        good = len(states) == len(expected) and all(
            len(shape) == 2
            and shape[1] in (None, size)
            and (shape[0] is None or batch_size is None or shape[0] == batch_size)
            for shape, size in zip(shapes, expected, strict=False)
        )
        if not good:
            wanted = ", ".join(f"(batch_size, {size})" for size in expected)
            raise ValueError(
                f"initial_state must be a list of {len(expected)} tensor(s) of "
                f"shapes [{wanted}] with batch_size={batch_size}. "
                f"Received: initial_state with shapes {shapes}"
            )
        return [tf.convert_to_tensor(s, dtype=self.compute_dtype) for s in states]

    def call(self, sequences, initial_state=None, mask=None, training=None):
        training = bool(training)
        batch_size = tf.shape(sequences)[0]
        if initial_state is None:
            states = initial_states_of(self.cell, batch_size, self.compute_dtype)
        else:
            states = self._check_initial_state(initial_state, sequences.shape[0])
        if mask is not None:
            mask = tf.cast(mask, tf.bool)
        if self.go_backwards:
            lengths = masking.sequence_lengths(mask)
            sequences = masking.reverse_valid_steps(sequences, lengths)
            if mask is not None:  # unchanged when right-padded, not with gaps
                mask = masking.reverse_valid_steps(mask, lengths)
        if hasattr(self.cell, "create_dropout_masks"):
            self.cell.create_dropout_masks(batch_size, training)
        try:
            last_output, outputs, states = self.inner_loop(
                sequences, states, mask, training
            )
        finally:
            if hasattr(self.cell, "clear_dropout_masks"):
                self.cell.clear_dropout_masks()
        output = outputs if self.return_sequences else last_output
        if self.return_state:
            return (output, *states)
        return output

    def inner_loop(self, sequences, initial_states, mask, training=False):
        """Runs the cell forward over every step: the generic reference path.

        Subclasses override this with a fused implementation for their cell,
        falling back to `super().inner_loop` in the cases they don't cover.

        Args:
            sequences: `[batch, time, features]` in processing order (already
                reversed for `go_backwards`).
            initial_states: List of `[batch, size]` tensors.
            mask: Boolean `[batch, time]`, or None.
            training: Python bool.

        Returns:
            `(last_output, outputs, final_states)`: the output at the last
            valid step `[batch, output_size]`; every step's output
            `[batch, time, output_size]` when `return_sequences` is set, else
            None; and the list of final states.
        """
        cell = self.cell
        inputs_tm = tf.transpose(sequences, [1, 0, 2])
        time_steps = tf.shape(inputs_tm)[0]
        batch_size = tf.shape(sequences)[0]
        zero_output = tf.zeros([batch_size, output_size(cell)], dtype=sequences.dtype)
        mask_tm = None
        if mask is not None:
            mask_tm = tf.transpose(mask)[:, :, tf.newaxis]

        def body(t, last_output, states, *outputs_ta):
            output, new_states = call_cell(cell, inputs_tm[t], states, training)
            output_to_write = output
            if mask_tm is not None:
                valid = mask_tm[t]
                new_states = [
                    tf.where(valid, new, old)
                    for new, old in zip(new_states, states, strict=True)
                ]
                padding_output = (
                    zero_output if self.zero_output_for_mask else last_output
                )
                output_to_write = tf.where(valid, output, padding_output)
                output = tf.where(valid, output, last_output)
            # The TensorArray is a loop variable only when sequences are
            # returned: XLA rejects the gradient of one that is never written.
            outputs_ta = tuple(ta.write(t, output_to_write) for ta in outputs_ta)
            return (t + 1, output, new_states, *outputs_ta)

        loop_vars = (tf.constant(0), zero_output, list(initial_states))
        if self.return_sequences:
            loop_vars += (tf.TensorArray(sequences.dtype, size=time_steps),)
        _, last_output, states, *outputs_ta = tf.while_loop(
            lambda t, *_: t < time_steps,
            body,
            loop_vars,
            maximum_iterations=time_steps,
        )
        outputs = None
        if self.return_sequences:
            outputs = tf.transpose(outputs_ta[0].stack(), [1, 0, 2])
        return last_output, outputs, states

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "cell": keras.saving.serialize_keras_object(self.cell),
                "return_sequences": self.return_sequences,
                "return_state": self.return_state,
                "go_backwards": self.go_backwards,
                "zero_output_for_mask": self.zero_output_for_mask,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)


def outputs_of_fused_loop(layer, outputs, last_output, mask, states):
    """`inner_loop`'s result from a fused loop that outputs carried states.

    A fused loop writes its carried output at a masked step; the driver's
    contract is the previous *output*, which is zero before a row's first
    valid step (or zero at every masked step, with `zero_output_for_mask`),
    and the last output of a row with no valid step is zero.
    """
    if mask is not None:
        valid_so_far = tf.cumsum(tf.cast(mask, tf.int32), axis=1) > 0
        shown = mask if layer.zero_output_for_mask else valid_so_far
        if layer.return_sequences:
            outputs = tf.where(shown[..., tf.newaxis], outputs, tf.zeros_like(outputs))
        any_valid = tf.reduce_any(mask, axis=1, keepdims=True)
        last_output = tf.where(any_valid, last_output, tf.zeros_like(last_output))
    return last_output, outputs if layer.return_sequences else None, states


def cell_argument_names(cell_class) -> list[str]:
    """Named `__init__` arguments of `cell_class` and its cell base classes."""
    names = []
    for klass in cell_class.__mro__:
        if klass is keras.layers.Layer or not issubclass(klass, keras.layers.Layer):
            break
        if "__init__" not in vars(klass):
            continue
        for param in inspect.signature(klass.__init__).parameters.values():
            named = param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
            if named and param.name != "self" and param.name not in names:
                names.append(param.name)
    return names


# Layer arguments the cell shares with the layer that owns it.
_SHARED_WITH_CELL = ("dtype", "trainable")


class CellRNN(RNN):
    """Base of the thin layers `SimpleRNN`, `LSTM` and `GRU`.

    A subclass names its `cell_class`; its constructor takes the cell's
    arguments and `RNN`'s together, builds the cell, and exposes each cell
    argument as a same-named read-only attribute. Its config is flat, as
    Keras's layers' are. Masks: as `RNN`.

    A subclass with a whole-sequence implementation (`LSTM`, `GRU`) names it
    as `fused_function` and overrides `can_fuse()`; it then runs instead of
    the generic loop, in training with its hand-written backward pass and in
    inference as a forward loop that keeps nothing for one.

    Args:
        units: The cell's `units`.
        fused: Use the fused implementation when the cell allows it (see
            `can_fuse`). False forces the generic loop, the reference.
        matmul_dtype: None, or `"bfloat16"`: in training, the fused
            implementation runs its matmuls on bfloat16 operands, states and
            gate arithmetic in the compute dtype (`seq2seq.layers.fused.
            matmul`): a speed setting for training. Inference
            (`training=False`) and the generic loop compute in the compute
            dtype as without it.
        **kwargs: The cell's arguments and `RNN`'s.
    """

    cell_class: type = None
    # `(inputs, *states, mask, kernel, recurrent_kernel, bias,
    # recurrent_dropout_mask, differentiable=) -> (outputs, *states)`, as in
    # `seq2seq.layers.fused`; None for no fused implementation. In training
    # it is also given `matmul_dtype=` when the layer's is set.
    fused_function = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.cell_class is None:
            return
        for name in cell_argument_names(cls.cell_class):
            if not hasattr(cls, name):
                setattr(cls, name, property(lambda self, n=name: getattr(self.cell, n)))

    def __init__(self, units, fused: bool = True, matmul_dtype=None, **kwargs):
        cell_names = set(cell_argument_names(self.cell_class))
        cell_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in cell_names}
        for name in _SHARED_WITH_CELL:
            if name in kwargs:
                cell_kwargs[name] = kwargs[name]
        cell = self.cell_class(units, name="cell", **cell_kwargs)
        super().__init__(cell, **kwargs)
        self.fused = bool(fused)
        self.matmul_dtype = validation.one_of(
            "matmul_dtype", matmul_dtype, MATMUL_DTYPES
        )

    def can_fuse(self) -> bool:
        """Whether `fused_sequence` computes exactly what the cell would."""
        return False

    def fused_sequence(
        self,
        sequences,
        initial_states,
        mask,
        recurrent_dropout_mask,
        differentiable=True,
    ):
        """Runs the whole sequence: `(outputs [batch, time, units], states)`.

        `differentiable=False` (inference) needs only the forward pass.
        """
        extra = {}
        if self.matmul_dtype is not None and differentiable:
            extra["matmul_dtype"] = self.matmul_dtype
        outputs, *states = self.fused_function(
            sequences,
            *initial_states,
            mask,
            *self._cell_weights(sequences.dtype),
            recurrent_dropout_mask,
            differentiable=differentiable,
            **extra,
        )
        return outputs, states

    def inner_loop(self, sequences, initial_states, mask, training=False):
        if not (self.fused and self.can_fuse()):
            return super().inner_loop(sequences, initial_states, mask, training)
        cell = self.cell
        if cell.input_dropout_mask is not None:
            sequences = sequences * cell.input_dropout_mask[:, tf.newaxis, :]
        outputs, states = self.fused_sequence(
            sequences,
            list(initial_states),
            mask,
            cell.recurrent_dropout_mask,
            differentiable=training,
        )
        return outputs_of_fused_loop(self, outputs, states[0], mask, states)

    def _cell_weights(self, dtype):
        """The cell's kernels and bias as tensors of `dtype` (zeros bias if none)."""
        cell = self.cell
        weights = [cell.kernel, cell.recurrent_kernel]
        weights = [tf.cast(tf.convert_to_tensor(w), dtype) for w in weights]
        if cell.bias is None:
            bias = tf.zeros(cell.bias_shape(), dtype)
        else:
            bias = tf.cast(tf.convert_to_tensor(cell.bias), dtype)
        return (*weights, bias)

    def _has_standard_cell(self, cell_class) -> bool:
        """The cell is `cell_class`'s own step with tanh and sigmoid."""
        cell = self.cell
        steps = ("call", "dropped_inputs", "dropped_state")
        return (
            all(getattr(type(cell), m) is getattr(cell_class, m) for m in steps)
            and cell.activation is keras.activations.tanh
            and cell.recurrent_activation is keras.activations.sigmoid
        )

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        for name in ("name", *_SHARED_WITH_CELL):
            cell_config.pop(name, None)
        config.update(cell_config)
        config["fused"] = self.fused
        config["matmul_dtype"] = self.matmul_dtype
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
