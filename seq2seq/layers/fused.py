"""Whole-sequence LSTM and GRU with backpropagation through time by hand.

Autodiff through a time loop differentiates one step at a time: every step
does its own small weight-gradient matmuls and the loop carries them along.
Written out, the BPTT equations say more:

    dL/dW_hx = sum_t x(t)^T dz(t)      dL/dW_hh = sum_t h(t-1)^T dz(t)
    dL/db    = sum_t dz(t)             dL/dx(t) = dz(t) W_hx^T

where dz(t) is the gradient of the gates' pre-activations at step t. Only
dz(t) needs the reverse loop (it depends on dz(t+1) through W_hh). So:

- forward: the input projection `x W_hx + b` is one matmul over all steps;
  the loop does only `h W_hh` and the gate arithmetic, and keeps the gate
  activations;
- backward: one reverse loop carries dL/dh (and dL/dc), computing dz(t) with
  one matmul `dz(t) W_hh^T` per step; then each weight gradient and the input
  gradient is one large matmul over all steps at once.

TensorFlow and Keras have no such op for the CPU (Keras 3 fuses only through
cuDNN on a GPU), which is why it is written here. The generic `RNN` loop stays
the reference: the tests hold these functions to it within 1e-5.

Conventions: Keras weight layouts (LSTM gates i, f, c, o; GRU z, r, h with
`reset_after=True`, bias `[2, 3 * units]`), sigmoid gates and tanh, a boolean
`[batch, time]` mask under which a masked step carries the states unchanged
(its output is the carried `h`), and optional variational dropout masks.
"""

from __future__ import annotations

import tensorflow as tf


def _time_major(x):
    return tf.transpose(x, [1, 0, 2])


def _unstack(values, size):
    return tf.TensorArray(values.dtype, size=size).unstack(values)


def _loop(time_steps, body, carry, reverse=False):
    """Runs `carry = body(t, carry)` for every step, optionally last first."""

    def step(i, *carry):
        t = time_steps - 1 - i if reverse else i
        return (i + 1, *body(t, carry))

    result = tf.while_loop(
        lambda i, *_: i < time_steps,
        step,
        (tf.constant(0), *carry),
        maximum_iterations=time_steps,
    )
    return result[1:]


def _input_projection(x_tm, kernel, bias):
    """`x W_hx + b` for every step in one matmul: `[time, batch, width]`."""
    shape = tf.shape(x_tm)
    flat = tf.matmul(tf.reshape(x_tm, [-1, shape[2]]), kernel) + bias
    return tf.reshape(flat, [shape[0], shape[1], -1])


def _input_gradients(x_tm, kernel, d_projection):
    """`dL/dW_hx`, `dL/dx` and `dL/db` from the projection's gradient."""
    shape = tf.shape(x_tm)
    flat_d = tf.reshape(d_projection, [-1, tf.shape(d_projection)[-1]])
    flat_x = tf.reshape(x_tm, [-1, shape[2]])
    d_kernel = tf.matmul(flat_x, flat_d, transpose_a=True)
    d_x = tf.reshape(tf.matmul(flat_d, kernel, transpose_b=True), shape)
    return d_kernel, d_x, tf.reduce_sum(flat_d, axis=0)


def _zeros_for_none(gradients, like):
    """Unused outputs may arrive with no gradient: treat it as zero."""
    return [
        tf.zeros_like(x) if g is None else g
        for g, x in zip(gradients, like, strict=True)
    ]


def _recurrent_kernel_gradient(h0, H, drop, d_projection):
    """`dL/dW_hh = sum_t h_in(t-1)^T d(t)` as one matmul over all steps.

    `h_in` is `h(t-1)`, times the recurrent dropout mask when there is one.
    """
    H_prev = _previous_states(h0, H)
    if drop is not None:
        H_prev = H_prev * drop
    return tf.matmul(
        tf.reshape(H_prev, [-1, tf.shape(h0)[-1]]),
        tf.reshape(d_projection, [-1, tf.shape(d_projection)[-1]]),
        transpose_a=True,
    )


def _previous_states(h0, H):
    """`h(t-1)` for every step, `[time, batch, units]`."""
    return tf.concat([h0[tf.newaxis], H[:-1]], axis=0)


def lstm_sequence(
    inputs, h0, c0, mask, kernel, recurrent_kernel, bias, recurrent_dropout_mask=None
):
    """Runs an LSTM over `inputs` with a hand-written backward pass.

    Args:
        inputs: `[batch, time, features]`, input dropout already applied.
        h0, c0: `[batch, units]` initial states.
        mask: Boolean `[batch, time]` or None.
        kernel, recurrent_kernel, bias: Keras layout; `bias` `[4 * units]`.
        recurrent_dropout_mask: Optional `[batch, units]` scaled keep-mask
            applied to `h(t-1)` before the recurrent matmul.

    Returns:
        `(outputs [batch, time, units], h_T, c_T)`; at masked steps the output
        is the carried `h`.
    """
    x_tm = _time_major(inputs)
    mask_tm = None if mask is None else _time_major(tf.cast(mask, tf.bool)[..., None])
    drop = recurrent_dropout_mask

    @tf.custom_gradient
    def run(x_tm, h0, c0, kernel, recurrent_kernel, bias):
        time_steps = tf.shape(x_tm)[0]
        dtype = x_tm.dtype
        projection = _unstack(_input_projection(x_tm, kernel, bias), time_steps)

        def forward(t, carry):
            h, c, outputs, cells, gates = carry
            h_in = h if drop is None else h * drop
            z = projection.read(t) + tf.matmul(h_in, recurrent_kernel)
            z_i, z_f, z_c, z_o = tf.split(z, 4, axis=-1)
            i, f, g, o = tf.sigmoid(z_i), tf.sigmoid(z_f), tf.tanh(z_c), tf.sigmoid(z_o)
            c_new = f * c + i * g
            h_new = o * tf.tanh(c_new)
            if mask_tm is not None:
                valid = mask_tm[t]
                h_new, c_new = tf.where(valid, h_new, h), tf.where(valid, c_new, c)
            return (
                h_new,
                c_new,
                outputs.write(t, h_new),
                cells.write(t, c_new),
                gates.write(t, tf.concat([i, f, g, o], axis=-1)),
            )

        h_T, c_T, outputs, cells, gates = _loop(
            time_steps,
            forward,
            (h0, c0, *(tf.TensorArray(dtype, size=time_steps) for _ in range(3))),
        )
        H, C, G = outputs.stack(), cells.stack(), gates.stack()

        def gradient(d_H, d_h_T, d_c_T):
            d_H, d_h_T, d_c_T = _zeros_for_none((d_H, d_h_T, d_c_T), (H, h0, c0))
            d_outputs = _unstack(d_H, time_steps)
            gates_ta = _unstack(G, time_steps)
            cells_ta = _unstack(C, time_steps)
            previous_cells = _unstack(_previous_states(c0, C), time_steps)

            def backward(t, carry):
                d_h_next, d_c_next, d_z_ta = carry
                d_h = d_outputs.read(t) + d_h_next
                i, f, g, o = tf.split(gates_ta.read(t), 4, axis=-1)
                tanh_c = tf.tanh(cells_ta.read(t))
                d_c = d_c_next + d_h * o * (1.0 - tanh_c * tanh_c)
                d_z = tf.concat(
                    [
                        d_c * g * i * (1.0 - i),
                        d_c * previous_cells.read(t) * f * (1.0 - f),
                        d_c * i * (1.0 - g * g),
                        d_h * tanh_c * o * (1.0 - o),
                    ],
                    axis=-1,
                )
                d_h_prev = tf.matmul(d_z, recurrent_kernel, transpose_b=True)
                if drop is not None:
                    d_h_prev = d_h_prev * drop
                d_c_prev = d_c * f
                if mask_tm is not None:  # a masked step passes gradients through
                    valid = mask_tm[t]
                    d_z = tf.where(valid, d_z, tf.zeros_like(d_z))
                    d_h_prev = tf.where(valid, d_h_prev, d_h)
                    d_c_prev = tf.where(valid, d_c_prev, d_c_next)
                return d_h_prev, d_c_prev, d_z_ta.write(t, d_z)

            d_h0, d_c0, d_z_ta = _loop(
                time_steps,
                backward,
                (d_h_T, d_c_T, tf.TensorArray(dtype, size=time_steps)),
                reverse=True,
            )
            d_Z = d_z_ta.stack()
            d_kernel, d_x, d_bias = _input_gradients(x_tm, kernel, d_Z)
            d_recurrent = _recurrent_kernel_gradient(h0, H, drop, d_Z)
            return d_x, d_h0, d_c0, d_kernel, d_recurrent, d_bias

        return (H, h_T, c_T), gradient

    H, h_T, c_T = run(x_tm, h0, c0, kernel, recurrent_kernel, bias)
    return _time_major(H), h_T, c_T


def gru_sequence(
    inputs, h0, mask, kernel, recurrent_kernel, bias, recurrent_dropout_mask=None
):
    """Runs a GRU (`reset_after=True`) over `inputs`, backward pass by hand.

    Args:
        inputs: `[batch, time, features]`, input dropout already applied.
        h0: `[batch, units]` initial state.
        mask: Boolean `[batch, time]` or None.
        kernel, recurrent_kernel: Keras layout.
        bias: `[2, 3 * units]`: the input bias, then the recurrent bias.
        recurrent_dropout_mask: Optional `[batch, units]` scaled keep-mask
            applied to `h(t-1)` before the recurrent matmul.

    Returns:
        `(outputs [batch, time, units], h_T)`.
    """
    x_tm = _time_major(inputs)
    mask_tm = None if mask is None else _time_major(tf.cast(mask, tf.bool)[..., None])
    drop = recurrent_dropout_mask

    @tf.custom_gradient
    def run(x_tm, h0, kernel, recurrent_kernel, bias):
        time_steps = tf.shape(x_tm)[0]
        dtype = x_tm.dtype
        projection = _unstack(_input_projection(x_tm, kernel, bias[0]), time_steps)

        def forward(t, carry):
            h, outputs, saved = carry
            h_in = h if drop is None else h * drop
            x_z, x_r, x_n = tf.split(projection.read(t), 3, axis=-1)
            recurrent = tf.matmul(h_in, recurrent_kernel) + bias[1]
            h_z, h_r, h_n = tf.split(recurrent, 3, axis=-1)
            z, r = tf.sigmoid(x_z + h_z), tf.sigmoid(x_r + h_r)
            n = tf.tanh(x_n + r * h_n)
            h_new = z * h + (1.0 - z) * n
            if mask_tm is not None:
                h_new = tf.where(mask_tm[t], h_new, h)
            return (
                h_new,
                outputs.write(t, h_new),
                saved.write(t, tf.concat([z, r, n, h_n], axis=-1)),
            )

        h_T, outputs, saved = _loop(
            time_steps,
            forward,
            (h0, *(tf.TensorArray(dtype, size=time_steps) for _ in range(2))),
        )
        H, S = outputs.stack(), saved.stack()

        def gradient(d_H, d_h_T):
            d_H, d_h_T = _zeros_for_none((d_H, d_h_T), (H, h0))
            d_outputs = _unstack(d_H, time_steps)
            saved_ta = _unstack(S, time_steps)
            previous = _unstack(_previous_states(h0, H), time_steps)

            def backward(t, carry):
                d_h_next, d_x_ta, d_rec_ta = carry
                d_h = d_outputs.read(t) + d_h_next
                z, r, n, h_n = tf.split(saved_ta.read(t), 4, axis=-1)
                d_a_n = d_h * (1.0 - z) * (1.0 - n * n)
                d_a_z = d_h * (previous.read(t) - n) * z * (1.0 - z)
                d_a_r = d_a_n * h_n * r * (1.0 - r)
                # Gradients of the input projection and of the recurrent one.
                d_x_proj = tf.concat([d_a_z, d_a_r, d_a_n], axis=-1)
                d_rec_proj = tf.concat([d_a_z, d_a_r, d_a_n * r], axis=-1)
                through_matmul = tf.matmul(
                    d_rec_proj, recurrent_kernel, transpose_b=True
                )
                if drop is not None:
                    through_matmul = through_matmul * drop
                d_h_prev = d_h * z + through_matmul
                if mask_tm is not None:
                    valid = mask_tm[t]
                    d_x_proj = tf.where(valid, d_x_proj, tf.zeros_like(d_x_proj))
                    d_rec_proj = tf.where(valid, d_rec_proj, tf.zeros_like(d_rec_proj))
                    d_h_prev = tf.where(valid, d_h_prev, d_h)
                return (
                    d_h_prev,
                    d_x_ta.write(t, d_x_proj),
                    d_rec_ta.write(t, d_rec_proj),
                )

            d_h0, d_x_ta, d_rec_ta = _loop(
                time_steps,
                backward,
                (d_h_T, *(tf.TensorArray(dtype, size=time_steps) for _ in range(2))),
                reverse=True,
            )
            d_kernel, d_x, d_input_bias = _input_gradients(x_tm, kernel, d_x_ta.stack())
            d_rec = d_rec_ta.stack()
            d_recurrent = _recurrent_kernel_gradient(h0, H, drop, d_rec)
            d_recurrent_bias = tf.reduce_sum(d_rec, axis=[0, 1])
            d_bias = tf.stack([d_input_bias, d_recurrent_bias])
            return d_x, d_h0, d_kernel, d_recurrent, d_bias

        return (H, h_T), gradient

    H, h_T = run(x_tm, h0, kernel, recurrent_kernel, bias)
    return _time_major(H), h_T
