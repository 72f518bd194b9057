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
  activations (and tanh(c));
- backward: one reverse loop carries dL/dh (and dL/dc), computing dz(t) with
  `dz(t) W_hh^T` per step; then each weight gradient and the input gradient
  is one large matmul per gate over all steps at once (the LSTM's two weight
  gradients share them: `[x, h_in]^T dZ_k`).

Inside the loops every gate has its own arrays, and in the LSTM's loops and
the GRU's backward loop its own block of `W_hh`: under XLA on the CPU each
step runs as a handful of small kernels, and slicing a `[batch, gates *
units]` tensor inside them cost more than the gate arithmetic did (about 5%
of a training step, measured at batch 64, 512 units).

Nothing outside the loops joins or splits gates either: the input
projection is one matmul per gate written straight into that gate's array
(its bias is added in the loop, fused with the gate arithmetic), the reverse
loop writes each gate's dz(t) to an array of its own, and the weight
gradients take one matmul per gate. In a Keras training step the copies
that split the projection and joined the dz(t), and the zero-filling of one
`[time, batch, gates * units]` array, had taken a fifth of our kernels' time
(summed over threads on a loaded machine; they overlapped other work, so the
step's CPU time fell by only 1 to 2%).

In inference (`differentiable=False`) the same forward loop runs and keeps
only the outputs.

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


def _time_major_mask(mask):
    """A boolean `[batch, time]` mask as `[time, batch, 1]`, or None."""
    return None if mask is None else _time_major(tf.cast(mask, tf.bool)[..., None])


def _unstack(values, size):
    return tf.TensorArray(values.dtype, size=size).unstack(values)


def _arrays(dtype, size, count):
    return tuple(tf.TensorArray(dtype, size=size) for _ in range(count))


# What a fused function's `matmul_dtype` may be: as the inputs, or bfloat16.
MATMUL_DTYPES = (None, "bfloat16")


def matmul(a, b, dtype=None, **kwargs):
    """`tf.matmul(a, b, **kwargs)` with both operands rounded to `dtype`.

    `dtype=None` is `tf.matmul` itself. With `"bfloat16"` the product runs on
    bfloat16 operands (on CPUs with AMX or AVX512-BF16, oneDNN's bfloat16
    kernels run about twice as fast as float32's) and comes back in the
    compute dtype: `a`'s, or `b`'s when `a` was rounded already (an operand
    read by two matmuls, rounded once), so everything around the matmul
    (states, gate arithmetic, sums) stays in the compute dtype. This is what
    `mixed_bfloat16` does not do: it moves the elementwise work to bfloat16
    too, where TensorFlow's CPU kernels are slower than in float32. Weights
    are passed as `b`, already rounded once per sequence (`_rounded`):
    casting a bfloat16 tensor to bfloat16 is free.
    """
    if dtype is None:
        return tf.matmul(a, b, **kwargs)
    compute_dtype = b.dtype if a.dtype == dtype else a.dtype
    product = tf.matmul(tf.cast(a, dtype), tf.cast(b, dtype), **kwargs)
    return tf.cast(product, compute_dtype)


def _rounded(weights, dtype):
    """Weights as the matmuls read them: rounded to `dtype` once, or as they are."""
    return list(weights) if dtype is None else [tf.cast(w, dtype) for w in weights]


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


def _flat(x):
    """`[time, batch, width]` -> `[time * batch, width]`."""
    return tf.reshape(x, [-1, tf.shape(x)[-1]])


def _gate_projections(x_tm, kernels, dtype=None):
    """`x W_hx` for every step, one matmul and one array per gate.

    One matmul per gate writes each gate's block straight into its own array;
    one matmul for all gates would then have to be split into them, a copy of
    the whole projection (see the module docstring for why the loop reads
    each gate from its own array). The bias is added in the loop, where it
    fuses into the gate arithmetic instead of costing a pass over the
    projection.
    """
    shape = tf.shape(x_tm)
    flat = _flat(x_tm)
    # The width is given, not -1: with an empty batch there is no size to
    # infer it from.
    return [
        _unstack(
            tf.reshape(matmul(flat, k, dtype), [shape[0], shape[1], tf.shape(k)[-1]]),
            shape[0],
        )
        for k in kernels
    ]


def _sum_over_steps(d):
    """The bias gradient: `d [time, batch, width]` summed over time and batch.

    Summing time first (whole-vector adds) and then the batch is several
    times faster under XLA on the CPU than one reduction over the leading
    axis of the flattened `[time * batch, width]` matrix.
    """
    return tf.reduce_sum(tf.reduce_sum(d, axis=0), axis=0)


def _zeros_for_none(gradients, like):
    """Unused outputs may arrive with no gradient: treat it as zero."""
    return [
        tf.zeros_like(x) if g is None else g
        for g, x in zip(gradients, like, strict=True)
    ]


def _previous_states(h0, H):
    """`h(t-1)` for every step, `[time, batch, units]`."""
    return tf.concat([h0[tf.newaxis], H[:-1]], axis=0)


def _recurrent_inputs(H_prev, drop):
    """`h(t-1)` as the recurrent matmul saw it: times the dropout mask."""
    return H_prev if drop is None else H_prev * drop


def _through_kernels(d_gates, gate_kernels, dtype=None):
    """`sum_k d_k W_k^T`: the gradient that flows back into `h(t-1)`.

    `gate_kernels` are the forward pass's `[units, units]` blocks, read
    transposed by the matmul rather than copied transposed.
    """
    return tf.add_n(
        [
            matmul(d, k, dtype, transpose_b=True)
            for d, k in zip(d_gates, gate_kernels, strict=True)
        ]
    )


def _per_gate_weight_gradients(inputs_tm, d_gates, dtype=None):
    """`sum_t inputs(t)^T d_k(t)` for each gate's `d_k`, side by side.

    One matmul per gate reads each gate's gradient where the reverse loop
    wrote it: one matmul over all gates would first copy them all into one
    array.
    """
    flat = _flat(inputs_tm)
    return tf.concat(
        [matmul(flat, _flat(d), dtype, transpose_a=True) for d in d_gates],
        axis=-1,
    )


def _input_gradient(d_gates, kernels, x_tm, dtype=None):
    """`dL/dx(t) = sum_k d_k(t) W_kx^T` for every step, `[time, batch, features]`."""
    d_x = tf.add_n(
        [
            matmul(_flat(d), k, dtype, transpose_b=True)
            for d, k in zip(d_gates, kernels, strict=True)
        ]
    )
    return tf.reshape(d_x, tf.shape(x_tm))


def _lstm_forward(
    x_tm, h0, c0, mask_tm, kernels, recurrent_kernels, biases, drop, keep, dtype=None
):
    """The LSTM's forward loop over time-major inputs.

    `kernels`, `recurrent_kernels` and `biases` are the per-gate blocks (i, f,
    c, o). Returns `h_T`, `c_T` and a list of stacked `[time, batch, units]`
    arrays: the outputs, and with `keep` also what the backward pass reads
    (the cells, their tanh, and the gates i, f, g, o). `dtype`: the matmuls'
    operand dtype (`matmul`), the kernels already rounded to it.
    """
    time_steps = tf.shape(x_tm)[0]
    projections = _gate_projections(x_tm, kernels, dtype)

    def forward(t, carry):
        h, c, *saved = carry
        h_in = h if drop is None else h * drop
        z_i, z_f, z_c, z_o = (
            p.read(t) + matmul(h_in, k, dtype) + b
            for p, k, b in zip(projections, recurrent_kernels, biases, strict=True)
        )
        i, f, g, o = tf.sigmoid(z_i), tf.sigmoid(z_f), tf.tanh(z_c), tf.sigmoid(z_o)
        c_new = f * c + i * g
        tanh_c = tf.tanh(c_new)
        h_new = o * tanh_c
        if mask_tm is not None:
            valid = mask_tm[t]
            h_new, c_new = tf.where(valid, h_new, h), tf.where(valid, c_new, c)
        values = (h_new, c_new, tanh_c, i, f, g, o) if keep else (h_new,)
        saved = (a.write(t, v) for a, v in zip(saved, values, strict=True))
        return (h_new, c_new, *saved)

    arrays = _arrays(x_tm.dtype, time_steps, 7 if keep else 1)
    h_T, c_T, *saved = _loop(time_steps, forward, (h0, c0, *arrays))
    return h_T, c_T, [a.stack() for a in saved]


def _gate_blocks(kernel, recurrent_kernel, bias, gates, dtype=None):
    """Each weight split into its per-gate blocks, once per sequence.

    The kernels' blocks are rounded to the matmuls' `dtype` (if any).
    """
    return (
        _rounded(tf.split(kernel, gates, axis=-1), dtype),
        _rounded(tf.split(recurrent_kernel, gates, axis=-1), dtype),
        tf.split(bias, gates, axis=-1),
    )


def lstm_sequence(
    inputs,
    h0,
    c0,
    mask,
    kernel,
    recurrent_kernel,
    bias,
    recurrent_dropout_mask=None,
    differentiable=True,
    matmul_dtype=None,
):
    """Runs an LSTM over `inputs` with a hand-written backward pass.

    Args:
        inputs: `[batch, time, features]`, input dropout already applied.
        h0, c0: `[batch, units]` initial states.
        mask: Boolean `[batch, time]` or None.
        kernel, recurrent_kernel, bias: Keras layout; `bias` `[4 * units]`.
        recurrent_dropout_mask: Optional `[batch, units]` scaled keep-mask
            applied to `h(t-1)` before the recurrent matmul.
        differentiable: False for inference: the forward loop alone, keeping
            nothing for a backward pass (gradients, if asked for anyway, come
            from autodiff through the loop).
        matmul_dtype: None, or `"bfloat16"` to run every matmul, forward
            and backward, on bfloat16 operands (see `matmul`); the states,
            the gate arithmetic and the gradients stay in `inputs`' dtype.

    Returns:
        `(outputs [batch, time, units], h_T, c_T)`; at masked steps the output
        is the carried `h`.
    """
    x_tm = _time_major(inputs)
    mask_tm = _time_major_mask(mask)
    drop = recurrent_dropout_mask
    if not differentiable:
        h_T, c_T, (H,) = _lstm_forward(
            x_tm,
            h0,
            c0,
            mask_tm,
            *_gate_blocks(kernel, recurrent_kernel, bias, 4, matmul_dtype),
            drop,
            keep=False,
            dtype=matmul_dtype,
        )
        return _time_major(H), h_T, c_T

    @tf.custom_gradient
    def run(x_tm, h0, c0, kernel, recurrent_kernel, bias):
        time_steps = tf.shape(x_tm)[0]
        dtype = x_tm.dtype
        kernels, recurrent_kernels, biases = _gate_blocks(
            kernel, recurrent_kernel, bias, 4, matmul_dtype
        )
        h_T, c_T, (H, C, *activations) = _lstm_forward(
            x_tm,
            h0,
            c0,
            mask_tm,
            kernels,
            recurrent_kernels,
            biases,
            drop,
            keep=True,
            dtype=matmul_dtype,
        )

        def gradient(d_H, d_h_T, d_c_T):
            d_H, d_h_T, d_c_T = _zeros_for_none((d_H, d_h_T, d_c_T), (H, h0, c0))
            d_outputs = _unstack(d_H, time_steps)
            tanh_cells, *gates = (_unstack(a, time_steps) for a in activations)
            previous_cells = _unstack(_previous_states(c0, C), time_steps)

            def backward(t, carry):
                d_h_next, d_c_next, *d_z_arrays = carry
                d_h = d_outputs.read(t) + d_h_next
                i, f, g, o = (a.read(t) for a in gates)
                tanh_c = tanh_cells.read(t)
                d_c = d_c_next + d_h * o * (1.0 - tanh_c * tanh_c)
                d_z = [
                    d_c * g * i * (1.0 - i),
                    d_c * previous_cells.read(t) * f * (1.0 - f),
                    d_c * i * (1.0 - g * g),
                    d_h * tanh_c * o * (1.0 - o),
                ]
                d_c_prev = d_c * f
                if mask_tm is not None:  # a masked step passes gradients through
                    valid = mask_tm[t]
                    d_z = [tf.where(valid, d, tf.zeros_like(d)) for d in d_z]
                    d_c_prev = tf.where(valid, d_c_prev, d_c_next)
                d_h_prev = _through_kernels(d_z, recurrent_kernels, matmul_dtype)
                if drop is not None:
                    d_h_prev = d_h_prev * drop
                if mask_tm is not None:
                    d_h_prev = tf.where(valid, d_h_prev, d_h)
                d_z_arrays = (
                    a.write(t, d) for a, d in zip(d_z_arrays, d_z, strict=True)
                )
                return (d_h_prev, d_c_prev, *d_z_arrays)

            d_h0, d_c0, *d_z_arrays = _loop(
                time_steps,
                backward,
                (d_h_T, d_c_T, *_arrays(dtype, time_steps, 4)),
                reverse=True,
            )
            d_Z = [a.stack() for a in d_z_arrays]
            # Both weight gradients come from one matmul per gate of
            # `[x, h_in]^T`, which runs faster than two.
            H_in = _recurrent_inputs(_previous_states(h0, H), drop)
            both = _per_gate_weight_gradients(
                tf.concat([x_tm, H_in], axis=-1), d_Z, matmul_dtype
            )
            features = tf.shape(x_tm)[-1]
            d_kernel, d_recurrent = both[:features], both[features:]
            d_x = _input_gradient(d_Z, kernels, x_tm, matmul_dtype)
            d_bias = tf.concat([_sum_over_steps(d) for d in d_Z], axis=0)
            return d_x, d_h0, d_c0, d_kernel, d_recurrent, d_bias

        return (H, h_T, c_T), gradient

    H, h_T, c_T = run(x_tm, h0, c0, kernel, recurrent_kernel, bias)
    return _time_major(H), h_T, c_T


def _gru_biases(bias):
    """Keras's `[2, 3 * units]` GRU bias as (input, recurrent) for the loop.

    The update and reset gates add both biases to the input projection; the
    candidate's recurrent bias stays inside `r * (h W_hn + b_hn)`.
    """
    b_z, b_r, b_n = tf.split(bias[1], 3)
    zeros = tf.zeros_like(b_n)
    return (
        bias[0] + tf.concat([b_z, b_r, zeros], axis=0),
        tf.concat([zeros, zeros, b_n], axis=0),
    )


def _gru_forward(
    x_tm, h0, mask_tm, kernels, recurrent_kernel, bias, drop, keep, dtype=None
):
    """The GRU's forward loop over time-major inputs.

    `kernels` are the input kernel's per-gate blocks (z, r, h); `bias` is
    the layer's `[2, 3 * units]`. Returns `h_T` and a list of stacked
    `[time, batch, units]` arrays: the outputs, and with `keep` also what
    the backward pass reads (z, r, the candidate n and the candidate's
    recurrent part `h W_hn + b_hn`). `dtype`: as `_lstm_forward`'s.
    """
    time_steps = tf.shape(x_tm)[0]
    input_bias, recurrent_bias = _gru_biases(bias)
    input_biases = tf.split(input_bias, 3)
    projections = _gate_projections(x_tm, kernels, dtype)

    def forward(t, carry):
        h, *saved = carry
        h_in = h if drop is None else h * drop
        x_z, x_r, x_n = (
            p.read(t) + b for p, b in zip(projections, input_biases, strict=True)
        )
        # One matmul for the three gates: at batch 16 it ran 10% faster than
        # three (measured in inference); at batch 64 they tie.
        recurrent = matmul(h_in, recurrent_kernel, dtype) + recurrent_bias
        h_z, h_r, h_n = tf.split(recurrent, 3, axis=-1)
        z, r = tf.sigmoid(x_z + h_z), tf.sigmoid(x_r + h_r)
        n = tf.tanh(x_n + r * h_n)
        h_new = z * h + (1.0 - z) * n
        if mask_tm is not None:
            h_new = tf.where(mask_tm[t], h_new, h)
        values = (h_new, z, r, n, h_n) if keep else (h_new,)
        return (h_new, *(a.write(t, v) for a, v in zip(saved, values, strict=True)))

    arrays = _arrays(x_tm.dtype, time_steps, 5 if keep else 1)
    h_T, *saved = _loop(time_steps, forward, (h0, *arrays))
    return h_T, [a.stack() for a in saved]


def gru_sequence(
    inputs,
    h0,
    mask,
    kernel,
    recurrent_kernel,
    bias,
    recurrent_dropout_mask=None,
    differentiable=True,
    matmul_dtype=None,
):
    """Runs a GRU (`reset_after=True`) over `inputs`, backward pass by hand.

    Args:
        inputs, h0, mask, kernel, recurrent_kernel, recurrent_dropout_mask,
            differentiable, matmul_dtype: As in `lstm_sequence` (which also
            takes `c0`).
        bias: `[2, 3 * units]`: the input bias, then the recurrent bias.

    Returns:
        `(outputs [batch, time, units], h_T)`.
    """
    x_tm = _time_major(inputs)
    mask_tm = _time_major_mask(mask)
    drop = recurrent_dropout_mask
    if not differentiable:
        h_T, (H,) = _gru_forward(
            x_tm,
            h0,
            mask_tm,
            _rounded(tf.split(kernel, 3, axis=-1), matmul_dtype),
            *_rounded([recurrent_kernel], matmul_dtype),
            bias,
            drop,
            keep=False,
            dtype=matmul_dtype,
        )
        return _time_major(H), h_T

    @tf.custom_gradient
    def run(x_tm, h0, kernel, recurrent_kernel, bias):
        time_steps = tf.shape(x_tm)[0]
        dtype = x_tm.dtype
        kernels = _rounded(tf.split(kernel, 3, axis=-1), matmul_dtype)
        (recurrent_rounded,) = _rounded([recurrent_kernel], matmul_dtype)
        h_T, (H, Z, R, N, H_n) = _gru_forward(
            x_tm,
            h0,
            mask_tm,
            kernels,
            recurrent_rounded,
            bias,
            drop,
            keep=True,
            dtype=matmul_dtype,
        )

        def gradient(d_H, d_h_T):
            d_H, d_h_T = _zeros_for_none((d_H, d_h_T), (H, h0))
            d_outputs = _unstack(d_H, time_steps)
            z_ta, r_ta, n_ta, h_n_ta = (_unstack(a, time_steps) for a in (Z, R, N, H_n))
            H_prev = _previous_states(h0, H)
            previous = _unstack(H_prev, time_steps)
            recurrent_kernels = tf.split(recurrent_rounded, 3, axis=-1)

            def backward(t, carry):
                d_h_next, *d_x_arrays = carry
                d_h = d_outputs.read(t) + d_h_next
                z, r, n = z_ta.read(t), r_ta.read(t), n_ta.read(t)
                d_a_n = d_h * (1.0 - z) * (1.0 - n * n)
                d_a_z = d_h * (previous.read(t) - n) * z * (1.0 - z)
                d_a_r = d_a_n * h_n_ta.read(t) * r * (1.0 - r)
                d_x = [d_a_z, d_a_r, d_a_n]
                if mask_tm is not None:
                    valid = mask_tm[t]
                    d_x = [tf.where(valid, d, tf.zeros_like(d)) for d in d_x]
                # The candidate's recurrent pre-activation is `r * h_n`.
                d_recurrent = [d_x[0], d_x[1], d_x[2] * r]
                through = _through_kernels(d_recurrent, recurrent_kernels, matmul_dtype)
                if drop is not None:
                    through = through * drop
                d_h_prev = d_h * z + through
                if mask_tm is not None:
                    d_h_prev = tf.where(valid, d_h_prev, d_h)
                d_x_arrays = (
                    a.write(t, d) for a, d in zip(d_x_arrays, d_x, strict=True)
                )
                return (d_h_prev, *d_x_arrays)

            d_h0, *d_x_arrays = _loop(
                time_steps,
                backward,
                (d_h_T, *_arrays(dtype, time_steps, 3)),
                reverse=True,
            )
            d_X = [a.stack() for a in d_x_arrays]
            # The recurrent pre-activations' gradient equals the input ones'
            # for z and r; the candidate's is `d_X_n * r`.
            d_R = [d_X[0], d_X[1], d_X[2] * R]
            d_kernel = _per_gate_weight_gradients(x_tm, d_X, matmul_dtype)
            H_in = _recurrent_inputs(H_prev, drop)
            d_recurrent = _per_gate_weight_gradients(H_in, d_R, matmul_dtype)
            d_x = _input_gradient(d_X, kernels, x_tm, matmul_dtype)
            d_input_bias = [_sum_over_steps(d) for d in d_X]
            d_recurrent_bias = [*d_input_bias[:2], _sum_over_steps(d_R[2])]
            d_bias = tf.stack(
                [tf.concat(d_input_bias, axis=0), tf.concat(d_recurrent_bias, axis=0)]
            )
            return d_x, d_h0, d_kernel, d_recurrent, d_bias

        return (H, h_T), gradient

    H, h_T = run(x_tm, h0, kernel, recurrent_kernel, bias)
    return _time_major(H), h_T
