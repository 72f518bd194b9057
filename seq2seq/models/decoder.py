"""The attentional decoder cell and the bridge from encoder to decoder."""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from seq2seq import validation
from seq2seq.layers import BahdanauAttention, LuongAttention, get_cell_type
from seq2seq.layers.rnn import call_cell, state_sizes

ATTENTIONS = ("bahdanau", "luong_dot", "luong_general")


def make_attention(kind, units):
    if kind == "bahdanau":
        return BahdanauAttention(units, name="attention")
    return LuongAttention(kind.removeprefix("luong_"), name="attention")


@keras.saving.register_keras_serializable(package="seq2seq")
class AttentionDecoderCell(keras.layers.Layer):
    """One decoder step: stacked cells, attention, and input feeding.

        x'(t)    = [embedding(y(t-1)); a(t-1)]            (input feeding)
        h(t)     = stacked cells(x'(t), states)
        c(t), w  = attention(h_top(t), encoder memory)
        a(t)     = tanh(W_a [h_top(t); c(t)])              (attentional state)

    Its output is `a(t)`; its states are every cell's states, then `a(t)`.
    It is a cell like any other, so the `RNN` driver runs it for teacher
    forcing and a decoding loop calls `step_with_attention` one step at a
    time: both run the same code.

    The encoder memory is not a state: the owner attaches it for the length
    of a call (`with cell.memory(memory, mask): ...`), and decoding loops pass
    it explicitly.

    Masks: the cell sees none over the target (the driver keeps states at
    padded target steps); the memory mask hides source padding from the
    attention.

    Args:
        units: Units of every cell and of the attentional state.
        num_layers: How many cells are stacked.
        cell_type: A registered cell type (`seq2seq.layers.cell_names()`).
        attention: `"bahdanau"`, `"luong_dot"` or `"luong_general"`.
        input_feeding: Feed `a(t-1)` into the next step (Luong et al. 2015).
        dropout: Dropout on the attentional state and between cells.
    """

    def __init__(
        self,
        units,
        num_layers=1,
        cell_type="lstm",
        attention="bahdanau",
        input_feeding=True,
        dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = validation.positive_int("units", units)
        self.num_layers = validation.positive_int("num_layers", num_layers)
        self.cell_type = cell_type
        spec = get_cell_type(cell_type)
        self.attention_type = validation.one_of("attention", attention, ATTENTIONS)
        self.input_feeding = bool(input_feeding)
        self.dropout = validation.rate("dropout", dropout)
        self.cells = [
            spec.make_cell(units, name=f"cell_{i}") for i in range(self.num_layers)
        ]
        self.attention = make_attention(attention, units)
        self.combine = keras.layers.Dense(
            units, activation="tanh", use_bias=False, name="combine"
        )
        self.dropout_layer = keras.layers.Dropout(self.dropout)
        self._memory = None

    @property
    def cell_state_sizes(self) -> list[int]:
        return [size for cell in self.cells for size in state_sizes(cell)]

    @property
    def state_size(self):
        return [*self.cell_state_sizes, self.units]

    @property
    def output_size(self) -> int:
        return self.units

    def build_for_memory(self, input_size, memory_size):
        """Creates every weight; needs the memory's feature size."""
        size = input_size + (self.units if self.input_feeding else 0)
        for cell in self.cells:
            if not cell.built:
                cell.build((None, size))
            size = self.units
        if not self.attention.built:
            self.attention.build((None, self.units), (None, None, memory_size))
        if not self.combine.built:
            self.combine.build((None, self.units + memory_size))
        self.built = True

    def build(self, input_shape):
        # Weights are made by build_for_memory(), which knows the memory size.
        if self._memory is not None:
            self.build_for_memory(input_shape[-1], self._memory[0].shape[-1])

    @contextlib.contextmanager
    def memory(self, memory, memory_mask=None):
        """Attaches the encoder memory for the calls made inside the block."""
        self._memory = (memory, memory_mask, self.attention.process_keys(memory))
        try:
            yield
        finally:
            self._memory = None

    def step_with_attention(self, inputs, states, memory, memory_mask, keys, training):
        """One step: `(a(t), new_states, attention_weights)`."""
        states = list(states)
        cell_states, feed = states[:-1], states[-1]
        x = tf.concat([inputs, feed], axis=-1) if self.input_feeding else inputs
        new_states, offset = [], 0
        for index, cell in enumerate(self.cells):
            count = len(state_sizes(cell))
            if index > 0:
                x = self.dropout_layer(x, training=training)
            x, cell_new = call_cell(
                cell, x, cell_states[offset : offset + count], training
            )
            new_states.extend(cell_new)
            offset += count
        context, weights = self.attention(
            x, memory, memory_mask=memory_mask, processed_keys=keys
        )
        attentional = self.combine(tf.concat([x, context], axis=-1))
        attentional = self.dropout_layer(attentional, training=training)
        return attentional, [*new_states, attentional], weights

    def call(self, inputs, states, training=False):
        if self._memory is None:
            raise ValueError(
                "AttentionDecoderCell needs the encoder memory: call it inside "
                "`with cell.memory(memory, mask):`"
            )
        memory, memory_mask, keys = self._memory
        output, new_states, _ = self.step_with_attention(
            inputs, states, memory, memory_mask, keys, training
        )
        return output, new_states

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "num_layers": self.num_layers,
            "cell_type": self.cell_type,
            "attention": self.attention_type,
            "input_feeding": self.input_feeding,
            "dropout": self.dropout,
        }


BRIDGES = ("dense", "zero")


@keras.saving.register_keras_serializable(package="seq2seq")
class Bridge(keras.layers.Layer):
    """Maps the encoder's final states to the decoder's initial cell states.

    `"dense"`: each decoder state is `tanh(W s + b)` of the concatenated final
    states of every encoder layer. `"zero"`: the decoder starts from zeros
    and learns from attention alone.

    Args:
        state_sizes: Sizes of the decoder cell states to produce.
        mode: `"dense"` or `"zero"`.
    """

    def __init__(self, state_sizes, mode="dense", **kwargs):
        super().__init__(**kwargs)
        self.state_sizes = [int(s) for s in state_sizes]
        self.mode = validation.one_of("mode", mode, BRIDGES)
        self.projections = []
        if self.mode == "dense":
            self.projections = [
                keras.layers.Dense(size, activation="tanh", name=f"state_{i}")
                for i, size in enumerate(self.state_sizes)
            ]

    def call(self, encoder_states):
        flat = [s for layer_states in encoder_states for s in layer_states]
        if self.mode == "zero":
            batch = tf.shape(flat[0])[0]
            return [tf.zeros([batch, size], flat[0].dtype) for size in self.state_sizes]
        joined = tf.concat(flat, axis=-1)
        return [projection(joined) for projection in self.projections]

    def get_config(self):
        return {
            **super().get_config(),
            "state_sizes": self.state_sizes,
            "mode": self.mode,
        }
