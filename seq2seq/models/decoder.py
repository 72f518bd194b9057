"""The attentional decoder cell and the bridge from encoder to decoder."""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from seq2seq import validation
from seq2seq.layers import (
    RNN,
    BahdanauAttention,
    GRUCell,
    LSTMCell,
    LuongAttention,
    get_cell_type,
)
from seq2seq.layers.fused import MATMUL_DTYPES
from seq2seq.layers.fused_attention import attention_decoder_sequence
from seq2seq.layers.rnn import call_cell, outputs_of_fused_loop, state_sizes

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

    Dropout is variational, like the cells': a driver calls
    `create_dropout_masks()` once per sequence, and the same units of the
    attentional state and of each input between stacked cells are dropped at
    every step (`clear_dropout_masks()` ends the sequence). Called on its
    own in training mode, the cell draws fresh masks on every call.

    Args:
        units: Units of every cell and of the attentional state.
        num_layers: How many cells are stacked.
        cell_type: A registered cell type (`seq2seq.layers.cell_names()`).
        attention: `"bahdanau"`, `"luong_dot"` or `"luong_general"`.
        input_feeding: Feed `a(t-1)` into the next step (Luong et al. 2015).
        dropout: Dropout on the attentional state and between cells.
        seed: Optional integer, seed of the dropout masks.
        matmul_dtype: None, or `"bfloat16"`: in training, the fused
            teacher-forced path runs its matmuls on bfloat16 operands
            (`seq2seq.layers.fused.matmul`). Inference, stepwise decoding
            included, computes as without it.
    """

    def __init__(
        self,
        units,
        num_layers=1,
        cell_type="lstm",
        attention="bahdanau",
        input_feeding=True,
        dropout=0.0,
        seed=None,
        matmul_dtype=None,
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
        self.matmul_dtype = validation.one_of(
            "matmul_dtype", matmul_dtype, MATMUL_DTYPES
        )
        self.cells = [
            spec.make_cell(units, name=f"cell_{i}") for i in range(self.num_layers)
        ]
        self.attention = make_attention(attention, units)
        self.combine = keras.layers.Dense(
            units, activation="tanh", use_bias=False, name="combine"
        )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._dropout_masks = None
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

    def _draw_dropout_masks(self, batch_size):
        """`(between-cell masks, attentional-state mask)`, scaled keep-masks."""
        ones = tf.ones([batch_size, self.units], self.compute_dtype)

        def draw():
            return keras.random.dropout(ones, self.dropout, seed=self.seed_generator)

        return [draw() for _ in self.cells[1:]], draw()

    def create_dropout_masks(self, batch_size, training=False):
        """Draws this sequence's masks (none unless training with dropout)."""
        self.clear_dropout_masks()
        if training and self.dropout > 0:
            self._dropout_masks = self._draw_dropout_masks(batch_size)

    def clear_dropout_masks(self):
        self._dropout_masks = None

    @property
    def dropout_masks(self):
        """`(between-cell masks, output mask)` of the current sequence, or None."""
        return self._dropout_masks

    def step_with_attention(self, inputs, states, memory, memory_mask, keys, training):
        """One step: `(a(t), new_states, attention_weights)`."""
        states = list(states)
        cell_states, feed = states[:-1], states[-1]
        masks = self._dropout_masks
        if masks is None and training and self.dropout > 0:
            masks = self._draw_dropout_masks(tf.shape(inputs)[0])
        x = tf.concat([inputs, feed], axis=-1) if self.input_feeding else inputs
        new_states, offset = [], 0
        for index, cell in enumerate(self.cells):
            count = len(state_sizes(cell))
            if index > 0 and masks is not None:
                x = x * masks[0][index - 1]
            x, cell_new = call_cell(
                cell, x, cell_states[offset : offset + count], training
            )
            new_states.extend(cell_new)
            offset += count
        context, weights = self.attention(
            x, memory, memory_mask=memory_mask, processed_keys=keys
        )
        attentional = self.combine(tf.concat([x, context], axis=-1))
        if masks is not None:
            attentional = attentional * masks[1]
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
            "seed": self.seed,
            "matmul_dtype": self.matmul_dtype,
        }

    # -- the fused path ----------------------------------------------------

    def can_fuse(self) -> bool:
        """Whether `attention_decoder_sequence` computes exactly this cell.

        It does for stacked built-in LSTM or GRU cells (tanh and sigmoid, a
        bias, GRU's `reset_after`, no dropout of their own) and the built-in
        Bahdanau and Luong attentions.
        """
        standard = {"lstm": LSTMCell, "gru": GRUCell}.get(self.cell_type)
        if standard is None or type(self.attention) not in (
            BahdanauAttention,
            LuongAttention,
        ):
            return False
        return all(
            type(cell) is standard
            and cell.activation is keras.activations.tanh
            and cell.recurrent_activation is keras.activations.sigmoid
            and cell.use_bias
            and getattr(cell, "reset_after", True)
            and not cell.dropout
            and not cell.recurrent_dropout
            for cell in self.cells
        )

    def fused_sequence(self, inputs, initial_states, mask, differentiable):
        """The whole teacher-forced sequence through the fused decoder.

        Returns `(outputs [batch, time, units], final states)`, the states
        as the cell orders them (every cell's, then the feed).
        """
        memory, memory_mask, keys = self._memory
        dtype = inputs.dtype

        def tensor(weight):
            return tf.cast(tf.convert_to_tensor(weight), dtype)

        cell_weights = [
            (tensor(c.kernel), tensor(c.recurrent_kernel), tensor(c.bias))
            for c in self.cells
        ]
        if isinstance(self.attention, BahdanauAttention):
            kind, scale = "bahdanau", False
            attention_weights = [
                tensor(self.attention.query_kernel),
                tensor(self.attention.score_vector),
            ]
        else:
            kind, scale, attention_weights = "luong", self.attention.scale, []
        masks = self._dropout_masks or (None, None)
        outputs, states, feed = attention_decoder_sequence(
            inputs,
            initial_states[:-1],
            initial_states[-1],
            memory,
            keys,
            memory_mask,
            mask,
            cell_weights,
            attention_weights,
            tensor(self.combine.kernel),
            cell_type=self.cell_type,
            attention=kind,
            scale=scale,
            input_feeding=self.input_feeding,
            between_masks=masks[0],
            output_mask=masks[1],
            differentiable=differentiable,
            # A training speed setting: inference computes as without it.
            matmul_dtype=self.matmul_dtype if differentiable else None,
        )
        return outputs, [*states, feed]


@keras.saving.register_keras_serializable(package="seq2seq")
class AttentionDecoder(RNN):
    """`RNN` over an `AttentionDecoderCell`, fused where the cell allows.

    The teacher-forced pass runs `seq2seq.layers.fused_attention` (one
    hoisted embedding projection, a hand-written backward pass) when
    `fused` is set and the cell `can_fuse()`; otherwise, and as the
    reference, the generic loop. Both give the same values and gradients.

    Masks: as `RNN`'s (right-padded targets; a masked step carries every
    state, the output is the previous output).

    Args:
        cell: An `AttentionDecoderCell`.
        fused: Use the fused path when the cell allows it.
        **kwargs: `RNN`'s arguments.
    """

    def __init__(self, cell, fused: bool = True, **kwargs):
        super().__init__(cell, **kwargs)
        self.fused = bool(fused)

    def inner_loop(self, sequences, initial_states, mask, training=False):
        if not (self.fused and self.cell.can_fuse()):
            return super().inner_loop(sequences, initial_states, mask, training)
        outputs, states = self.cell.fused_sequence(
            sequences, list(initial_states), mask, differentiable=training
        )
        return outputs_of_fused_loop(self, outputs, states[-1], mask, states)

    def get_config(self):
        return {**super().get_config(), "fused": self.fused}


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
