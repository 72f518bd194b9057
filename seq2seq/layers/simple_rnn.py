"""The vanilla (Elman) recurrent cell and its layer."""

from __future__ import annotations

import keras
from keras import ops

from seq2seq.layers.recurrent_cell import RecurrentCell
from seq2seq.layers.rnn import CellRNN


@keras.saving.register_keras_serializable(package="seq2seq")
class SimpleRNNCell(RecurrentCell):
    """The vanilla recurrent cell, one time step.

        h(t) = activation(W_hx x(t) + W_hh h(t-1) + b_h)

    `W_hx` is `kernel` (`[input_size, units]`), `W_hh` is `recurrent_kernel`
    (`[units, units]`) and `b_h` is `bias`, the layout of
    `keras.layers.SimpleRNNCell`. The output is `h(t)`; a readout
    `y(t) = f(W_yh h(t) + b_y)` is a `keras.layers.Dense` on top of the layer.

    Args: see `RecurrentCell`.

    Call arguments:
        inputs: `[batch, input_size]`, the input `x(t)`.
        states: A list holding `h(t-1)`, `[batch, units]`.
        training: Whether dropout is applied.

    Returns:
        `(h(t), [h(t)])`.

    >>> cell = SimpleRNNCell(4)
    >>> h, [h_again] = cell(np.ones((2, 3)), [np.zeros((2, 4))])
    >>> h.shape
    TensorShape([2, 4])
    """

    def call(self, inputs, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        x = self.dropped_inputs(inputs, training)
        h_in = self.dropped_state(h_prev, training)
        # (W_hx x + b_h) first: the input projection with its bias is what a
        # fused path computes for all steps at once, and Keras sums in this
        # order too, so training runs agree to the last bit.
        input_projection = ops.matmul(x, self.kernel)
        if self.use_bias:
            input_projection = input_projection + self.bias
        pre_activation = input_projection + ops.matmul(h_in, self.recurrent_kernel)
        h = self.activation(pre_activation)
        return h, [h]


@keras.saving.register_keras_serializable(package="seq2seq")
class SimpleRNN(CellRNN):
    """A vanilla RNN layer: `RNN(SimpleRNNCell(...))`.

    Takes the arguments of `SimpleRNNCell` and of `RNN`. Masks: see `RNN`.

    >>> layer = SimpleRNN(8, return_sequences=True)
    >>> layer(np.zeros((2, 5, 3))).shape
    TensorShape([2, 5, 8])
    """

    cell_class = SimpleRNNCell
