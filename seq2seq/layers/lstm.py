"""The long short-term memory cell and its layer."""

from __future__ import annotations

import keras
from keras import ops

from seq2seq.layers import fused
from seq2seq.layers.recurrent_cell import GatedCell
from seq2seq.layers.rnn import CellRNN


@keras.saving.register_keras_serializable(package="seq2seq")
class LSTMCell(GatedCell):
    """The LSTM cell (Hochreiter & Schmidhuber 1997, with a forget gate).

        i(t) = sigmoid(W_ix x(t) + W_ih h(t-1) + b_i)      input gate
        f(t) = sigmoid(W_fx x(t) + W_fh h(t-1) + b_f)      forget gate
        g(t) = tanh(W_cx x(t) + W_ch h(t-1) + b_c)         candidate
        o(t) = sigmoid(W_ox x(t) + W_oh h(t-1) + b_o)      output gate
        c(t) = f(t) * c(t-1) + i(t) * g(t)                 cell state
        h(t) = o(t) * tanh(c(t))

    `sigmoid` is `recurrent_activation` and `tanh` is `activation`. The
    blocks of `kernel` (`[input_size, 4 * units]`), `recurrent_kernel`
    (`[units, 4 * units]`) and `bias` (`[4 * units]`) are in Keras's order
    i, f, c, o, so weights copy to and from `keras.layers.LSTMCell`.

    The cell state enters `c(t)` additively, so the gradient through `c` is
    scaled by `f(t)` only, not by a squashing Jacobian: that is what lets LSTMs
    carry information over long spans.

    Args:
        unit_forget_bias: If True, the forget gate's bias starts at 1 and the
            other blocks use `bias_initializer` (Jozefowicz et al. 2015).
        The other arguments: see `GatedCell` and `RecurrentCell`.

    Call arguments:
        inputs: `[batch, input_size]`.
        states: `[h(t-1), c(t-1)]`, each `[batch, units]`.
        training: Whether dropout is applied.

    Returns:
        `(h(t), [h(t), c(t)])`.

    >>> cell = LSTMCell(4)
    >>> h, (h_again, c) = cell(np.ones((2, 3)), [np.zeros((2, 4))] * 2)
    >>> c.shape
    TensorShape([2, 4])
    """

    num_blocks = 4

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def bias_initializer_for_build(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, initializer = self.units, self.bias_initializer

        def forget_bias_one(shape, dtype=None):
            return ops.concatenate(
                [
                    initializer((units,), dtype=dtype),
                    ops.ones((units,), dtype=dtype),
                    initializer((2 * units,), dtype=dtype),
                ]
            )

        return forget_bias_one

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        x = self.dropped_inputs(inputs, training)
        h_in = self.dropped_state(h_prev, training)
        z = ops.matmul(x, self.kernel) + ops.matmul(h_in, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        g = self.activation(z_c)
        o = self.recurrent_activation(z_o)
        c = f * c_prev + i * g
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


@keras.saving.register_keras_serializable(package="seq2seq")
class LSTM(CellRNN):
    """An LSTM layer: `RNN(LSTMCell(...))`.

    Takes the arguments of `LSTMCell` and of `RNN`. Masks: see `RNN`. With
    `return_state=True` it returns `output, h, c`. It runs
    `fused.lstm_sequence` (the input projection as one matmul over all steps;
    in training, backpropagation through time written out, weight gradients
    as one matmul over all steps) unless `fused=False` or the cell has
    non-default activations.

    >>> layer = LSTM(8, return_state=True)
    >>> output, h, c = layer(np.zeros((2, 5, 3)))
    >>> c.shape
    TensorShape([2, 8])
    """

    cell_class = LSTMCell
    fused_function = staticmethod(fused.lstm_sequence)

    def can_fuse(self) -> bool:
        return self._has_standard_cell(LSTMCell)
