"""The whole attentional decoder over a target sequence, BPTT by hand.

The teacher-forced decoder runs, at every target step t,

    x(t)   = [e(t); a(t-1)]                        (input feeding)
    h_l(t) = cell_l(x_l(t), h_l(t-1))              (stacked LSTM or GRU)
    w(t)   = softmax over valid s of score(h_L(t), k(s))
    ctx(t) = sum_s w(t, s) m(s)
    a(t)   = drop(tanh(W_c [h_L(t); ctx(t)]))      (the output, and the feed)

with Bahdanau scores `v . tanh(W_q h + k(s))` or Luong's `h . k(s)`
(optionally divided by sqrt(key size)). Keys `k = process_keys(m)` are an
input: they are computed once per source by the caller, and their gradient
is returned to it.

As in `seq2seq.layers.fused`, the work that does not need the recurrence
leaves the loop:

- forward: the embedding part of the first cell's input projection,
  `e W_e + b`, is one matmul over every target step; the loop does the
  recurrent matmuls, the attention and the combination;
- backward: one reverse loop carries dL/da(t-1) (input feeding), dL/dh_l
  and dL/dc_l, and runs attention's backward step; each weight gradient
  (cells, combination, query kernel, the keys' and memory's gradients
  except Bahdanau's keys, accumulated in the loop) is then one matmul over
  all steps, and so is the embeddings' gradient.

Dropout is variational: one `[batch, units]` keep-mask between stacked
cells (per layer above the first) and one on the attentional state, shared
by every step (`AttentionDecoderCell.create_dropout_masks`).

Masks: a boolean `[batch, target]` mask; at a masked step every state,
the feed included, is carried unchanged and the written output is the
carried feed, as the generic `RNN` loop does (the caller zeroes outputs
before a row's first valid step).

TensorFlow has no such op; the generic `RNN` loop over
`AttentionDecoderCell` stays the reference, and the tests hold this function
to it within 1e-5 (values and gradients).
"""

from __future__ import annotations

import tensorflow as tf

from seq2seq import validation
from seq2seq.layers.fused import (
    MATMUL_DTYPES,
    _arrays,
    _flat,
    _gru_biases,
    _loop,
    _previous_states,
    _rounded,
    _sum_over_steps,
    _time_major,
    _unstack,
    _zeros_for_none,
    matmul,
)
from seq2seq.layers.masking import mask_fill_value

CELL_TYPES = ("lstm", "gru")
_GATES = {"lstm": 4, "gru": 3}


def _lstm_step(x_proj, states, recurrent_kernel, dtype=None):
    h, c = states
    z = x_proj + matmul(h, recurrent_kernel, dtype)
    z_i, z_f, z_c, z_o = tf.split(z, 4, axis=-1)
    i, f, g, o = tf.sigmoid(z_i), tf.sigmoid(z_f), tf.tanh(z_c), tf.sigmoid(z_o)
    c_new = f * c + i * g
    tanh_c = tf.tanh(c_new)
    h_new = o * tanh_c
    return [h_new, c_new], (tanh_c, i, f, g, o)


def _lstm_step_gradient(d_h, d_states_next, previous, saved, recurrent_t, dtype=None):
    """`(d_input_projection, d_recurrent_projection, d_previous_states)`."""
    (d_c_next,) = d_states_next
    _, c_prev = previous
    tanh_c, i, f, g, o = saved
    d_c = d_c_next + d_h * o * (1.0 - tanh_c * tanh_c)
    d_z = tf.concat(
        [
            d_c * g * i * (1.0 - i),
            d_c * c_prev * f * (1.0 - f),
            d_c * i * (1.0 - g * g),
            d_h * tanh_c * o * (1.0 - o),
        ],
        axis=-1,
    )
    return d_z, d_z, [matmul(d_z, recurrent_t, dtype), d_c * f]


def _gru_step(x_proj, states, recurrent_kernel, recurrent_bias, dtype=None):
    (h,) = states
    x_z, x_r, x_n = tf.split(x_proj, 3, axis=-1)
    recurrent = matmul(h, recurrent_kernel, dtype) + recurrent_bias
    h_z, h_r, h_n = tf.split(recurrent, 3, axis=-1)
    z, r = tf.sigmoid(x_z + h_z), tf.sigmoid(x_r + h_r)
    n = tf.tanh(x_n + r * h_n)
    return [z * h + (1.0 - z) * n], (z, r, n, h_n)


def _gru_step_gradient(d_h, d_states_next, previous, saved, recurrent_t, dtype=None):
    (h_prev,) = previous
    z, r, n, h_n = saved
    d_a_n = d_h * (1.0 - z) * (1.0 - n * n)
    d_a_z = d_h * (h_prev - n) * z * (1.0 - z)
    d_a_r = d_a_n * h_n * r * (1.0 - r)
    d_x = tf.concat([d_a_z, d_a_r, d_a_n], axis=-1)
    # The candidate's recurrent pre-activation is `r * (h W_hn + b_hn)`.
    d_recurrent = tf.concat([d_a_z, d_a_r, d_a_n * r], axis=-1)
    return d_x, d_recurrent, [d_h * z + matmul(d_recurrent, recurrent_t, dtype)]


class _Decoder:
    """The loops of `attention_decoder_sequence`, with its fixed settings.

    A plain holder of what every step reads, so that the forward and the
    backward loop share one definition of the step's pieces.
    """

    def __init__(self, settings, params):
        for name, value in {**settings, **params}.items():
            setattr(self, name, value)
        if self.matmul_dtype is not None:
            # Every weight that only a matmul reads, rounded once (`matmul`).
            self.layers = [
                (*_rounded(layer[:2], self.matmul_dtype), layer[2])
                for layer in self.layers
            ]
            (self.combine_kernel,) = _rounded([self.combine_kernel], self.matmul_dtype)
            if self.attention == "bahdanau":
                (self.query_kernel,) = _rounded([self.query_kernel], self.matmul_dtype)
        self.lstm = self.cell_type == "lstm"
        self.per_layer = 2 if self.lstm else 1
        # Activations a step saves per cell: LSTM tanh(c), i, f, g, o; GRU
        # z, r, n and the candidate's recurrent part.
        self.saved_per_cell = 5 if self.lstm else 4
        self.num_layers = len(self.layers)
        self.input_biases, self.recurrent_biases = [], []
        for _, _, bias in self.layers:
            if self.lstm:
                self.input_biases.append(bias)
                self.recurrent_biases.append(None)
            else:
                b_in, b_rec = _gru_biases(bias)
                self.input_biases.append(b_in)
                self.recurrent_biases.append(b_rec)
        kernel0 = self.layers[0][0]
        self.embedding_kernel = kernel0[: self.embedding_size]
        self.feed_kernel = kernel0[self.embedding_size :]
        self.combine_h = self.combine_kernel[: self.units]
        self.combine_c = self.combine_kernel[self.units :]
        self.key_scale = None
        if self.attention == "luong" and self.scale:
            self.key_scale = tf.math.rsqrt(tf.cast(tf.shape(self.keys)[-1], self.dtype))

    def mm(self, a, b, **kwargs):
        """A matmul at the decoder's `matmul_dtype` (`fused.matmul`)."""
        return matmul(a, b, self.matmul_dtype, **kwargs)

    def layer_states(self, states, index):
        return states[self.per_layer * index : self.per_layer * (index + 1)]

    def scores(self, h_top):
        """`(query or None, scores [batch, source])`."""
        if self.attention == "bahdanau":
            query = self.mm(h_top, self.query_kernel)
            hidden = tf.tanh(query[:, tf.newaxis, :] + self.keys)
            return query, tf.tensordot(hidden, self.score_vector, 1)
        scores = tf.linalg.matvec(self.keys, h_top)
        if self.key_scale is not None:
            scores = scores * self.key_scale
        return None, scores

    def attend(self, h_top):
        """`(query, weights [batch, source], context [batch, memory_size])`."""
        query, scores = self.scores(h_top)
        valid = self.valid_memory
        if valid is not None:
            scores = tf.where(valid, scores, mask_fill_value(scores.dtype))
        weights = tf.nn.softmax(scores, axis=-1)
        if valid is not None:
            weights = tf.where(valid, weights, tf.zeros_like(weights))
        # A batched matrix-vector product reads the memory once, where the
        # broadcast product and sum wrote and read a `[batch, source,
        # memory]` temporary (about 5% of a Multi30k update, both ways).
        context = tf.linalg.matvec(self.memory, weights, transpose_a=True)
        return query, weights, context

    def step(self, projected, states, feed):
        """One step: `(new cell states, new feed, saved activations)`."""
        new_states, saved, x = [], [], None
        for index, (kernel, recurrent_kernel, _) in enumerate(self.layers):
            if index == 0:
                x_proj = projected
                if self.input_feeding:
                    x_proj += self.mm(feed, self.feed_kernel)
            else:
                drop = self.between_masks[index - 1]
                x_in = x if drop is None else x * drop
                x_proj = self.mm(x_in, kernel) + self.input_biases[index]
            previous = self.layer_states(states, index)
            if self.lstm:
                layer_new, activations = _lstm_step(
                    x_proj, previous, recurrent_kernel, self.matmul_dtype
                )
            else:
                layer_new, activations = _gru_step(
                    x_proj,
                    previous,
                    recurrent_kernel,
                    self.recurrent_biases[index],
                    self.matmul_dtype,
                )
            new_states.extend(layer_new)
            saved.extend(activations)
            x = layer_new[0]
        query, weights, context = self.attend(x)
        attentional = tf.tanh(
            self.mm(x, self.combine_h) + self.mm(context, self.combine_c)
        )
        if self.output_mask is not None:
            feed = attentional * self.output_mask
        else:
            feed = attentional
        if query is not None:
            saved.append(query)
        saved.extend([weights, context, attentional])
        return new_states, feed, saved

    def forward(self, e_tm, states0, feed0, keep):
        """The forward loop: `(final states, final feed, stacked arrays)`.

        The arrays: the outputs (the carried feed), then with `keep` every
        layer's carried states and the step's saved activations.
        """
        time_steps = tf.shape(e_tm)[0]
        kernel0 = self.layers[0][0]
        shape = tf.shape(e_tm)
        projection = self.mm(_flat(e_tm), self.embedding_kernel)
        projection = projection + self.input_biases[0]
        # The width is given, not -1: an empty batch has none to infer.
        projection = _unstack(
            tf.reshape(projection, [shape[0], shape[1], tf.shape(kernel0)[-1]]),
            time_steps,
        )
        count = len(states0)

        def body(t, carry):
            states, feed, arrays = list(carry[:count]), carry[count], carry[count + 1]
            new_states, new_feed, saved = self.step(projection.read(t), states, feed)
            if self.mask_tm is not None:
                valid = self.mask_tm[t]
                new_states = [
                    tf.where(valid, n, o)
                    for n, o in zip(new_states, states, strict=True)
                ]
                new_feed = tf.where(valid, new_feed, feed)
            values = [new_feed, *new_states, *saved] if keep else [new_feed]
            arrays = [a.write(t, v) for a, v in zip(arrays, values, strict=True)]
            return (*new_states, new_feed, arrays)

        num_arrays = 1 + (count + self.saved_count() if keep else 0)
        arrays = list(_arrays(self.dtype, time_steps, num_arrays))
        result = _loop(time_steps, body, (*states0, feed0, arrays))
        return list(result[:count]), result[count], [a.stack() for a in result[-1]]

    def saved_count(self):
        return (
            self.saved_per_cell * self.num_layers + (self.attention == "bahdanau") + 3
        )

    def backward(self, e_tm, states0, feed0, stacked, d_outputs, d_states, d_feed):
        """The reverse loop, then every weight gradient as one matmul.

        Returns the gradients of `(e_tm, feed0, memory, keys, combine_kernel,
        *attention parameters, *states0, *layer weights)`.
        """
        time_steps = tf.shape(e_tm)[0]
        count = len(states0)
        outputs, states_tm = stacked[0], stacked[1 : 1 + count]
        saved_tm = stacked[1 + count :]
        per_cell = self.saved_per_cell
        cell_saved = [
            saved_tm[per_cell * i : per_cell * (i + 1)] for i in range(self.num_layers)
        ]
        rest = saved_tm[per_cell * self.num_layers :]
        queries = rest[0] if self.attention == "bahdanau" else None
        weights_tm, contexts, attentionals = rest[-3:]
        previous_tm = [
            _previous_states(s0, s) for s0, s in zip(states0, states_tm, strict=True)
        ]

        read = {
            "d_output": _unstack(d_outputs, time_steps),
            "previous": [_unstack(p, time_steps) for p in previous_tm],
            "saved": [[_unstack(a, time_steps) for a in c] for c in cell_saved],
            "weights": _unstack(weights_tm, time_steps),
            "attentional": _unstack(attentionals, time_steps),
        }
        if queries is not None:
            read["query"] = _unstack(queries, time_steps)
        recurrent_t = [tf.transpose(r) for _, r, _ in self.layers]
        kernel_t = [tf.transpose(k) for k, _, _ in self.layers]
        feed_kernel_t = tf.transpose(self.feed_kernel)
        combine_t = tf.transpose(self.combine_kernel)
        bahdanau = self.attention == "bahdanau"
        step_gradient = _lstm_step_gradient if self.lstm else _gru_step_gradient

        def body(t, carry):
            d_feed, d_cells, accumulators, arrays = carry
            d_cells = list(d_cells)
            valid = None if self.mask_tm is None else self.mask_tm[t]
            d_out = read["d_output"].read(t) + d_feed
            d_att = d_out if self.output_mask is None else d_out * self.output_mask
            attentional = read["attentional"].read(t)
            d_pre = d_att * (1.0 - attentional * attentional)
            if valid is not None:
                d_pre = tf.where(valid, d_pre, tf.zeros_like(d_pre))
            d_combined = self.mm(d_pre, combine_t)
            d_top, d_context = d_combined[:, : self.units], d_combined[:, self.units :]
            weights = read["weights"].read(t)
            d_weights = tf.linalg.matvec(self.memory, d_context)
            d_scores = weights * (
                d_weights - tf.reduce_sum(weights * d_weights, axis=-1, keepdims=True)
            )
            if bahdanau:
                d_keys, d_vector = accumulators
                hidden = tf.tanh(read["query"].read(t)[:, tf.newaxis, :] + self.keys)
                d_hidden = (
                    d_scores[..., tf.newaxis]
                    * self.score_vector
                    * (1.0 - hidden * hidden)
                )
                d_query = tf.reduce_sum(d_hidden, axis=1)
                accumulators = (
                    d_keys + d_hidden,
                    d_vector + tf.tensordot(d_scores, hidden, [[0, 1], [0, 1]]),
                )
                d_top += self.mm(d_query, self.query_kernel, transpose_b=True)
                attention_written = d_query
            else:
                if self.key_scale is not None:
                    d_scores = d_scores * self.key_scale
                d_top += tf.linalg.matvec(self.keys, d_scores, transpose_a=True)
                attention_written = d_scores
            written = [d_pre, d_context, attention_written]
            d_below, new_d_cells = d_top, [None] * len(d_cells)
            for index in reversed(range(self.num_layers)):
                d_layer = self.layer_states(d_cells, index)
                d_h = d_below + d_layer[0]
                d_x, d_recurrent, d_previous = step_gradient(
                    d_h,
                    d_layer[1:],
                    [p.read(t) for p in self.layer_states(read["previous"], index)],
                    [a.read(t) for a in read["saved"][index]],
                    recurrent_t[index],
                    self.matmul_dtype,
                )
                if valid is not None:  # a masked step carries its states
                    d_x = tf.where(valid, d_x, tf.zeros_like(d_x))
                    d_recurrent = tf.where(
                        valid, d_recurrent, tf.zeros_like(d_recurrent)
                    )
                    d_previous = [
                        tf.where(valid, d, carried)
                        for d, carried in zip(
                            d_previous, [d_h, *d_layer[1:]], strict=True
                        )
                    ]
                new_d_cells[self.per_layer * index : self.per_layer * (index + 1)] = (
                    d_previous
                )
                written.append(d_x)
                if not self.lstm:
                    written.append(d_recurrent)
                if index > 0:
                    d_below = self.mm(d_x, kernel_t[index])
                    drop = self.between_masks[index - 1]
                    if drop is not None:
                        d_below = d_below * drop
            if self.input_feeding:
                d_feed_previous = self.mm(d_x, feed_kernel_t)
            else:
                d_feed_previous = tf.zeros_like(d_feed)
            if valid is not None:
                d_feed_previous = tf.where(valid, d_feed_previous, d_out)
            arrays = [a.write(t, v) for a, v in zip(arrays, written, strict=True)]
            return d_feed_previous, new_d_cells, accumulators, arrays

        accumulators = ()
        if bahdanau:
            accumulators = (
                tf.zeros_like(self.keys),
                tf.zeros_like(self.score_vector),
            )
        num_written = 3 + self.num_layers * (1 if self.lstm else 2)
        d_feed0, d_states0, accumulators, arrays = _loop(
            time_steps,
            body,
            (
                d_feed,
                list(d_states),
                accumulators,
                list(_arrays(self.dtype, time_steps, num_written)),
            ),
            reverse=True,
        )
        d_pre, d_contexts, d_attention, *d_layers = [a.stack() for a in arrays]
        # Written from the top layer down; per layer d_x (and GRU's d_recurrent).
        step = 1 if self.lstm else 2
        d_layers = [d_layers[step * i : step * (i + 1)] for i in range(self.num_layers)]
        d_layers.reverse()

        h_top = states_tm[self.per_layer * (self.num_layers - 1)]
        d_combine = self.mm(
            _flat(tf.concat([h_top, contexts], axis=-1)), _flat(d_pre), transpose_a=True
        )
        d_memory = tf.einsum("tbs,tbd->bsd", weights_tm, d_contexts)
        if bahdanau:
            d_keys, d_vector = accumulators
            d_query_kernel = self.mm(_flat(h_top), _flat(d_attention), transpose_a=True)
            d_attention_params = [d_query_kernel, d_vector]
        else:
            d_keys = tf.einsum("tbs,tbk->bsk", d_attention, h_top)
            d_attention_params = []

        d_weights = []
        d_embedded = None
        feed_previous = _previous_states(feed0, outputs)
        for index in range(self.num_layers):
            d_x = d_layers[index][0]
            d_recurrent = d_layers[index][-1]
            if index == 0:
                inputs = [e_tm, feed_previous] if self.input_feeding else [e_tm]
                d_embedded = tf.reshape(
                    self.mm(_flat(d_x), self.embedding_kernel, transpose_b=True),
                    tf.shape(e_tm),
                )
            else:
                below = states_tm[self.per_layer * (index - 1)]
                drop = self.between_masks[index - 1]
                inputs = [below if drop is None else below * drop]
            h_previous = previous_tm[self.per_layer * index]
            if self.lstm:
                both = self.mm(
                    _flat(tf.concat([*inputs, h_previous], axis=-1)),
                    _flat(d_x),
                    transpose_a=True,
                )
                rows = tf.shape(both)[0] - self.units
                d_kernel, d_recurrent_kernel = both[:rows], both[rows:]
                d_bias = _sum_over_steps(d_x)
            else:
                d_kernel = self.mm(
                    _flat(tf.concat(inputs, axis=-1)), _flat(d_x), transpose_a=True
                )
                d_recurrent_kernel = self.mm(
                    _flat(h_previous), _flat(d_recurrent), transpose_a=True
                )
                d_input_bias = _sum_over_steps(d_x)
                d_recurrent_bias = tf.concat(
                    [
                        d_input_bias[: 2 * self.units],
                        _sum_over_steps(d_recurrent[..., 2 * self.units :]),
                    ],
                    axis=0,
                )
                d_bias = tf.stack([d_input_bias, d_recurrent_bias])
            d_weights += [d_kernel, d_recurrent_kernel, d_bias]
        return (
            d_embedded,
            d_feed0,
            d_memory,
            d_keys,
            d_combine,
            *d_attention_params,
            *d_states0,
            *d_weights,
        )


def attention_decoder_sequence(
    embedded,
    cell_states,
    feed,
    memory,
    keys,
    memory_mask,
    target_mask,
    cell_weights,
    attention_weights,
    combine_kernel,
    cell_type="lstm",
    attention="bahdanau",
    scale=False,
    input_feeding=True,
    between_masks=None,
    output_mask=None,
    differentiable=True,
    matmul_dtype=None,
):
    """Runs the attentional decoder over every target step.

    Args:
        embedded: `[batch, target, embedding]`, embedding dropout applied.
        cell_states: The cells' states, flat: `h, c` per LSTM layer, `h` per
            GRU layer, `[batch, units]` each.
        feed: `[batch, units]`, the attentional state before the first step.
        memory: `[batch, source, memory_size]`, the encoder outputs.
        keys: `[batch, source, key_size]`, the attention's processed keys.
        memory_mask: Boolean `[batch, source]` or None.
        target_mask: Boolean `[batch, target]` or None.
        cell_weights: One `(kernel, recurrent_kernel, bias)` per layer, in
            Keras's layouts (the first kernel's rows: embedding, then feed).
        attention_weights: Bahdanau: `(query_kernel, score_vector)`; Luong:
            `()` (the keys already hold `W_a m` for the general form).
        combine_kernel: `[units + memory_size, units]`.
        cell_type: `"lstm"` or `"gru"` (`reset_after=True`).
        attention: `"bahdanau"` or `"luong"`.
        scale: Luong scores divided by sqrt(key size).
        input_feeding: Whether `a(t-1)` is part of the first cell's input.
        between_masks: None, or one `[batch, units]` keep-mask (or None) per
            layer above the first, applied to its input.
        output_mask: Optional `[batch, units]` keep-mask on `a(t)`.
        differentiable: False runs the forward loop alone (inference);
            gradients, if asked for anyway, come from autodiff.
        matmul_dtype: None, or `"bfloat16"`: every matmul, forward and
            backward, on bfloat16 operands (`seq2seq.layers.fused.matmul`);
            states, attention and gradients stay in `embedded`'s dtype.

    Returns:
        `(outputs [batch, target, units], final cell states (flat), final
        feed)`. At a masked step the output is the carried feed.
    """
    validation.one_of("cell_type", cell_type, CELL_TYPES)
    validation.one_of("attention", attention, ("bahdanau", "luong"))
    validation.one_of("matmul_dtype", matmul_dtype, MATMUL_DTYPES)
    num_layers = len(cell_weights)
    settings = {
        "matmul_dtype": matmul_dtype,
        "cell_type": cell_type,
        "attention": attention,
        "scale": bool(scale),
        "input_feeding": bool(input_feeding),
        "between_masks": list(between_masks or [None] * (num_layers - 1)),
        "output_mask": output_mask,
        "dtype": embedded.dtype,
        "embedding_size": embedded.shape[-1],
        "units": combine_kernel.shape[-1],
        "valid_memory": None if memory_mask is None else tf.cast(memory_mask, tf.bool),
        "mask_tm": None
        if target_mask is None
        else _time_major(tf.cast(target_mask, tf.bool)[..., tf.newaxis]),
    }
    e_tm = _time_major(embedded)
    cell_states = list(cell_states)
    flat_weights = [w for layer in cell_weights for w in layer]
    attention_weights = list(attention_weights)
    num_states = len(cell_states)

    def params_of(memory, keys, combine_kernel, attention_params, weights):
        params = {
            "memory": memory,
            "keys": keys,
            "combine_kernel": combine_kernel,
            "layers": [tuple(weights[3 * i : 3 * i + 3]) for i in range(num_layers)],
        }
        if attention == "bahdanau":
            params["query_kernel"], params["score_vector"] = attention_params
        return params

    if not differentiable:
        decoder = _Decoder(
            settings,
            params_of(memory, keys, combine_kernel, attention_weights, flat_weights),
        )
        states, final_feed, (outputs,) = decoder.forward(
            e_tm, cell_states, feed, keep=False
        )
        return _time_major(outputs), states, final_feed

    num_attention = len(attention_weights)

    @tf.custom_gradient
    def run(e_tm, feed, memory, keys, combine_kernel, *rest):
        attention_params = rest[:num_attention]
        states0 = list(rest[num_attention : num_attention + num_states])
        weights = rest[num_attention + num_states :]
        decoder = _Decoder(
            settings, params_of(memory, keys, combine_kernel, attention_params, weights)
        )
        states, final_feed, stacked = decoder.forward(e_tm, states0, feed, keep=True)

        def gradient(d_outputs, *d_finals):
            d_outputs, *d_finals = _zeros_for_none(
                (d_outputs, *d_finals), (stacked[0], *states, final_feed)
            )
            d_states, d_feed = d_finals[:-1], d_finals[-1]
            return decoder.backward(
                e_tm, states0, feed, stacked, d_outputs, d_states, d_feed
            )

        return (stacked[0], *states, final_feed), gradient

    outputs, *finals = run(
        e_tm,
        feed,
        memory,
        keys,
        combine_kernel,
        *attention_weights,
        *cell_states,
        *flat_weights,
    )
    return _time_major(outputs), finals[:-1], finals[-1]
