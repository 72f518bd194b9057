"""The base class of the built-in cells: one time step, plus dropout masks."""

from __future__ import annotations

import keras
from keras import ops

from seq2seq import validation


class RecurrentCell(keras.layers.Layer):
    """One time step of a recurrent network.

    A cell maps `(inputs, states)` at one time step to `(output, new_states)`.
    It knows nothing about time: the `RNN` driver loops over the steps, applies
    masks and decides when dropout masks are drawn.

    Masks: a cell never sees one; the driver keeps the states unchanged at
    padded steps.

    Subclasses create `kernel`, `recurrent_kernel` and `bias` in `build()` and
    write the equations in `call()`. A cell a user writes for `RNN` does not
    need this base class: `state_size` and `call(inputs, states)` are enough.

    Dropout is variational (Gal & Ghahramani, 2016): the driver calls
    `create_dropout_masks()` once per sequence, so the same input units and the
    same recurrent units are dropped at every time step, and calls
    `clear_dropout_masks()` when the sequence is done. A cell called on its own
    in training mode, outside a driver, draws fresh masks on every call.

    Args:
        units: Positive integer, the size of the hidden state.
        activation: Activation of the candidate state (default `tanh`).
        use_bias: Whether the cell has a bias vector.
        kernel_initializer, recurrent_initializer, bias_initializer:
            Initializers of `kernel` (input weights), `recurrent_kernel`
            (state weights) and `bias`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            Optional regularizers of the same three weights.
        kernel_constraint, recurrent_constraint, bias_constraint:
            Optional constraints of the same three weights.
        dropout: Float in [0, 1). Fraction of the input units to drop.
        recurrent_dropout: Float in [0, 1). Fraction of the units of the
            previous hidden state `h(t-1)` to drop before the recurrent
            matmul.
        seed: Optional integer, seed of the dropout masks.
        **kwargs: Base `keras.layers.Layer` arguments (`name`, `dtype`, ...).
    """

    #: How many blocks of `units` columns the kernels hold (LSTM: 4, GRU: 3).
    num_blocks = 1

    def __init__(
        self,
        units: int,
        activation="tanh",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = validation.positive_int("units", units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = validation.rate("dropout", dropout)
        self.recurrent_dropout = validation.rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._input_dropout_mask = None
        self._recurrent_dropout_mask = None

    def build(self, input_shape):
        """Creates `kernel`, `recurrent_kernel` and `bias` in Keras's layout.

        `kernel` is `[input_size, num_blocks * units]`, `recurrent_kernel` is
        `[units, num_blocks * units]` and `bias` is `bias_shape()`, so weights
        copy to and from Keras's built-in layers with `set_weights`.
        """
        input_size = input_shape[-1]
        if input_size is None:
            raise ValueError(
                f"{type(self).__name__} needs a known input feature size. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.input_size = int(input_size)
        width = self.num_blocks * self.units
        self.kernel = self.add_weight(
            shape=(input_size, width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self.bias_shape(),
                name="bias",
                initializer=self.bias_initializer_for_build(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def bias_shape(self) -> tuple:
        return (self.num_blocks * self.units,)

    def bias_initializer_for_build(self):
        """The initializer `build()` gives the bias (LSTM overrides it)."""
        return self.bias_initializer

    @property
    def state_size(self):
        return [self.units]

    @property
    def output_size(self) -> int:
        return self.units

    def get_initial_state(self, batch_size):
        """Returns the zero state: one `[batch_size, size]` tensor per state."""
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype)
            for size in self.state_size
        ]

    # Dropout masks. The driver owns their lifetime; the cell owns their shape.

    def _draw_mask(self, batch_size, size, rate):
        ones = ops.ones((batch_size, size), dtype=self.compute_dtype)
        return keras.random.dropout(ones, rate=rate, seed=self.seed_generator)

    def create_dropout_masks(self, batch_size, training=False):
        """Draws the masks that every step of one sequence will share.

        Args:
            batch_size: Scalar (Python int or scalar tensor).
            training: Masks are drawn only when truthy.
        """
        self.clear_dropout_masks()
        if not training:
            return
        if self.dropout > 0:
            self._input_dropout_mask = self._draw_mask(
                batch_size, self.input_size, self.dropout
            )
        if self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._draw_mask(
                batch_size, self.units, self.recurrent_dropout
            )

    def clear_dropout_masks(self):
        self._input_dropout_mask = None
        self._recurrent_dropout_mask = None

    @property
    def input_dropout_mask(self):
        """The scaled keep-mask on the inputs, or None when dropout is off."""
        return self._input_dropout_mask

    @property
    def recurrent_dropout_mask(self):
        """The scaled keep-mask on `h(t-1)`, or None when dropout is off."""
        return self._recurrent_dropout_mask

    def dropped_inputs(self, inputs, training):
        """`inputs` with the input dropout mask applied (when training)."""
        if not training or self.dropout == 0:
            return inputs
        mask = self._input_dropout_mask
        if mask is None:  # Called outside a driver: a fresh mask per call.
            mask = self._draw_mask(ops.shape(inputs)[0], inputs.shape[-1], self.dropout)
        return inputs * mask

    def dropped_state(self, h_prev, training):
        """`h(t-1)` with the recurrent dropout mask applied (when training)."""
        if not training or self.recurrent_dropout == 0:
            return h_prev
        mask = self._recurrent_dropout_mask
        if mask is None:
            mask = self._draw_mask(
                ops.shape(h_prev)[0], self.units, self.recurrent_dropout
            )
        return h_prev * mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "recurrent_initializer": keras.initializers.serialize(
                    self.recurrent_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(
                    self.kernel_regularizer
                ),
                "recurrent_regularizer": keras.regularizers.serialize(
                    self.recurrent_regularizer
                ),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(
                    self.kernel_constraint
                ),
                "recurrent_constraint": keras.constraints.serialize(
                    self.recurrent_constraint
                ),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed,
            }
        )
        return config


class GatedCell(RecurrentCell):
    """A `RecurrentCell` with gates: adds `recurrent_activation`.

    Args:
        recurrent_activation: Activation of the gates (default `sigmoid`).
        The other arguments: see `RecurrentCell`.
    """

    def __init__(self, units: int, recurrent_activation="sigmoid", **kwargs):
        super().__init__(units, **kwargs)
        self.recurrent_activation = keras.activations.get(recurrent_activation)

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = keras.activations.serialize(
            self.recurrent_activation
        )
        return config
