"""A stacked recurrent encoder."""

from __future__ import annotations

import keras
import tensorflow as tf

from seq2seq import validation
from seq2seq.layers import Bidirectional, get_cell_type
from seq2seq.layers.fused import MATMUL_DTYPES
from seq2seq.layers.rnn import CellRNN, state_sizes


@keras.saving.register_keras_serializable(package="seq2seq")
class RecurrentEncoder(keras.layers.Layer):
    """Stacked RNN layers over embedded source tokens.

    Layer i > 0 adds its input to its output (a residual connection) when the
    two have the same size, which helps deeper stacks train. Dropout is
    applied between layers.

    Masks: a boolean `[batch, source]` mask, True at real tokens, given to
    every layer; the backward direction reads each valid part in reverse.

    Args:
        units: Units of each layer (each direction when bidirectional).
        num_layers: How many layers are stacked.
        cell_type: A registered cell type (`seq2seq.layers.cell_names()`:
            `"lstm"`, `"gru"`, `"simple_rnn"` and any registered cell).
        bidirectional: Whether each layer reads both ways (outputs and
            states concatenated).
        dropout: Dropout rate between layers.
        residual: Whether to add residual connections.
        matmul_dtype: None, or `"bfloat16"`: passed to layers with a fused
            path (`CellRNN`'s `matmul_dtype`).

    Call arguments:
        embedded: `[batch, source, features]`.
        mask: Boolean `[batch, source]`.
        training: Whether dropout is applied.

    Returns:
        `(outputs, states)`: `[batch, source, output_size]` and, per layer, its
        final states (each `[batch, state_size]`, both directions
        concatenated).
    """

    def __init__(
        self,
        units,
        num_layers=1,
        cell_type="lstm",
        bidirectional=True,
        dropout=0.0,
        residual=True,
        matmul_dtype=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = validation.positive_int("units", units)
        self.num_layers = validation.positive_int("num_layers", num_layers)
        self.cell_type = cell_type
        spec = get_cell_type(cell_type)
        self.bidirectional = bool(bidirectional)
        self.dropout = validation.rate("dropout", dropout)
        self.residual = bool(residual)
        self.matmul_dtype = validation.one_of(
            "matmul_dtype", matmul_dtype, MATMUL_DTYPES
        )
        # Only layers with a fused path take `matmul_dtype`; a registered
        # cell's generic `RNN` has no matmuls of its own to round.
        extra = {}
        fused = spec.layer_class is not None and issubclass(spec.layer_class, CellRNN)
        if matmul_dtype is not None and fused:
            extra["matmul_dtype"] = matmul_dtype
        self.rnn_layers = []
        for index in range(self.num_layers):
            layer = spec.make_layer(
                units,
                return_sequences=True,
                return_state=True,
                name=f"rnn_{index}",
                **extra,
            )
            if self.bidirectional:
                layer = Bidirectional(layer, name=f"bidirectional_{index}")
            self.rnn_layers.append(layer)
        self.dropout_layer = keras.layers.Dropout(self.dropout)
        self.supports_masking = True

    @property
    def output_size(self) -> int:
        return self.units * (2 if self.bidirectional else 1)

    @property
    def state_sizes(self) -> list[int]:
        """Sizes of each layer's final states (as `states[i]` holds them)."""
        cell = get_cell_type(self.cell_type).make_cell(1)
        per_direction = len(state_sizes(cell))
        return [self.output_size] * per_direction

    def build(self, embedded_shape, mask_shape=None):
        shape = tuple(embedded_shape)
        for layer in self.rnn_layers:
            layer.build(shape)
            shape = shape[:-1] + (self.output_size,)

    def call(self, embedded, mask=None, training=False):
        x, states = embedded, []
        for index, layer in enumerate(self.rnn_layers):
            inputs = x
            if index > 0:
                inputs = self.dropout_layer(inputs, training=training)
            output, *final = layer(inputs, mask=mask, training=training)
            if self.bidirectional:
                half = len(final) // 2
                final = [
                    tf.concat([f, b], axis=-1)
                    for f, b in zip(final[:half], final[half:], strict=True)
                ]
            if self.residual and index > 0 and output.shape[-1] == x.shape[-1]:
                output = output + x
            x = output
            states.append(final)
        return x, states

    def compute_mask(self, embedded, mask=None):
        return mask

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "num_layers": self.num_layers,
            "cell_type": self.cell_type,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
            "residual": self.residual,
            "matmul_dtype": self.matmul_dtype,
        }
