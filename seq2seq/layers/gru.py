"""The gated recurrent unit cell and its layer."""

from __future__ import annotations

import keras
from keras import ops

from seq2seq.layers import fused
from seq2seq.layers.recurrent_cell import GatedCell
from seq2seq.layers.rnn import CellRNN


@keras.saving.register_keras_serializable(package="seq2seq")
class GRUCell(GatedCell):
    """The GRU cell (Cho et al. 2014), with Keras's `reset_after` variants.

        z(t) = sigmoid(W_zx x(t) + W_zh h(t-1) + b_z)            update gate
        r(t) = sigmoid(W_rx x(t) + W_rh h(t-1) + b_r)            reset gate
      reset_after=False (the paper):
        n(t) = tanh(W_nx x(t) + W_nh (r(t) * h(t-1)) + b_n)
      reset_after=True (Keras's default, cuDNN's form):
        n(t) = tanh(W_nx x(t) + b_nx + r(t) * (W_nh h(t-1) + b_nh))
        h(t) = z(t) * h(t-1) + (1 - z(t)) * n(t)

    The blocks of `kernel` (`[input_size, 3 * units]`) and
    `recurrent_kernel` (`[units, 3 * units]`) are in Keras's order z, r, h.
    `bias` is `[3 * units]`, or `[2, 3 * units]` with `reset_after` (row 0 the
    input bias, row 1 the recurrent bias), as in `keras.layers.GRUCell`, so
    weights copy both ways.

    Args:
        reset_after: Apply the reset gate after the recurrent matmul.
        The other arguments: see `GatedCell` and `RecurrentCell`.

    Call arguments:
        inputs: `[batch, input_size]`.
        states: `[h(t-1)]`, `[batch, units]`.
        training: Whether dropout is applied.

    Returns:
        `(h(t), [h(t)])`.

    >>> cell = GRUCell(4)
    >>> h, [h_again] = cell(np.ones((2, 3)), [np.zeros((2, 4))])
    >>> h.shape
    TensorShape([2, 4])
    """

    num_blocks = 3

    def __init__(self, units: int, reset_after: bool = True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def bias_shape(self) -> tuple:
        if self.reset_after:
            return (2, 3 * self.units)
        return (3 * self.units,)

    def call(self, inputs, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        x = self.dropped_inputs(inputs, training)
        h_in = self.dropped_state(h_prev, training)
        input_bias = recurrent_bias = None
        if self.use_bias:
            if self.reset_after:
                input_bias, recurrent_bias = self.bias[0], self.bias[1]
            else:
                input_bias = self.bias
        x_proj = ops.matmul(x, self.kernel)
        if input_bias is not None:
            x_proj = x_proj + input_bias
        x_z, x_r, x_n = ops.split(x_proj, 3, axis=-1)
        if self.reset_after:
            h_proj = ops.matmul(h_in, self.recurrent_kernel)
            if recurrent_bias is not None:
                h_proj = h_proj + recurrent_bias
            h_z, h_r, h_n = ops.split(h_proj, 3, axis=-1)
            z = self.recurrent_activation(x_z + h_z)
            r = self.recurrent_activation(x_r + h_r)
            n = self.activation(x_n + r * h_n)
        else:
            u_zr = self.recurrent_kernel[:, : 2 * self.units]
            u_n = self.recurrent_kernel[:, 2 * self.units :]
            h_z, h_r = ops.split(ops.matmul(h_in, u_zr), 2, axis=-1)
            z = self.recurrent_activation(x_z + h_z)
            r = self.recurrent_activation(x_r + h_r)
            n = self.activation(x_n + ops.matmul(r * h_in, u_n))
        h = z * h_prev + (1.0 - z) * n
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config["reset_after"] = self.reset_after
        return config


@keras.saving.register_keras_serializable(package="seq2seq")
class GRU(CellRNN):
    """A GRU layer: `RNN(GRUCell(...))`.

    Takes the arguments of `GRUCell` and of `RNN`. Masks: see `RNN`.
    It runs `fused.gru_sequence` (as `LSTM` does) unless `fused=False`,
    `reset_after=False` or the cell has non-default activations.

    >>> layer = GRU(8, return_sequences=True, reset_after=False)
    >>> layer(np.zeros((2, 5, 3))).shape
    TensorShape([2, 5, 8])
    """

    cell_class = GRUCell
    fused_function = staticmethod(fused.gru_sequence)

    def can_fuse(self) -> bool:
        return self.cell.reset_after and self._has_standard_cell(GRUCell)
