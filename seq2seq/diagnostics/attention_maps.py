"""Attention maps of an `EncoderDecoder` under teacher forcing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from seq2seq.layers import RNN


class _AttentionRecorder:
    """The decoder cell, with its attention weights appended to its output.

    Output at step t: `[a(t); weights(t, :)]`, `units + source_len` wide;
    states: the decoder cell's. A plain object, so the decoder cell keeps its
    weights and the `RNN` driver calls `step_with_attention`, the step that
    teacher forcing and decoding share, once per target position.
    """

    def __init__(self, decoder_cell, memory, memory_mask, keys):
        self.decoder_cell = decoder_cell
        self.memory, self.memory_mask, self.keys = memory, memory_mask, keys
        self.state_size = decoder_cell.state_size
        self.output_size = decoder_cell.output_size + int(memory.shape[1])

    def call(self, inputs, states):
        attentional, new_states, weights = self.decoder_cell.step_with_attention(
            inputs, states, self.memory, self.memory_mask, self.keys, training=False
        )
        return tf.concat([attentional, weights], axis=-1), new_states


def attention_weights(model, source_ids, target_in) -> np.ndarray:
    """The attention weights of every target position over the source.

    Runs the teacher-forced pass of `model((source_ids, target_in))` (the
    `RNN` driver over the decoder cell, inference mode) and records, at every
    target position t, the attention distribution the decoder used.

    Masks: id 0 is padding on both sides. A row (a valid target position) is
    a distribution over the valid source positions: it sums to 1 and is 0 at
    source padding. Rows at target padding are all 0.

    Args:
        model: A `seq2seq.models.EncoderDecoder`.
        source_ids: `[batch, source_len]` int ids, right-padded with 0. Its
            length must be known when traced.
        target_in: `[batch, target_len]` int ids, BOS first, right-padded.

    Returns:
        `[batch, target_len, source_len]` NumPy array.

    >>> from seq2seq.models import EncoderDecoder
    >>> model = EncoderDecoder(20, 20, embedding_size=8, units=8)
    >>> source_ids = np.array([[5, 6, 7, 0], [5, 6, 7, 8], [9, 0, 0, 0]])
    >>> target_in = np.array([[1, 4, 4, 0, 0], [1, 4, 4, 4, 4], [1, 4, 0, 0, 0]])
    >>> weights = attention_weights(model, source_ids, target_in)
    >>> weights.shape  # [batch, target_len, source_len]
    (3, 5, 4)
    >>> weights[0].sum(axis=1).round(6)  # 3 valid target positions, then padding
    array([1., 1., 1., 0., 0.], dtype=float32)
    """
    source_ids = tf.convert_to_tensor(source_ids)
    target_in = tf.convert_to_tensor(target_in)
    memory, source_mask, initial = model.encode(source_ids, training=False)
    cell = model.decoder_cell
    recorder = _AttentionRecorder(
        cell, memory, source_mask, cell.attention.process_keys(memory)
    )
    driver = RNN(recorder, return_sequences=True, zero_output_for_mask=True)
    outputs = driver.inner_loop(
        model.target_embedding(target_in),
        initial,
        tf.not_equal(target_in, 0),
        training=False,
    )[1]
    return outputs[..., cell.output_size :].numpy()


def plot_attention(
    weights,
    source_pieces: Sequence[str],
    target_pieces: Sequence[str],
    path: str,
    title: str | None = None,
) -> str:
    """Draws one attention map as a heat map with the pieces as labels.

    Args:
        weights: `[target_len, source_len]`, one example of
            `attention_weights`; rows and columns beyond the labels (padding)
            are cut off.
        source_pieces: The source's pieces (x axis), one per valid position.
        target_pieces: The pieces each row predicts or reads (y axis).
        path: Where the PNG goes.
        title: Optional title.

    Returns:
        `path`.

    >>> weights = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> plot_attention(weights, ["▁5", "▁May"], ["<s>", "2020"], "map.png")
    'map.png'
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    weights = np.asarray(weights)
    if weights.ndim != 2:
        raise ValueError(
            "weights must be one [target_len, source_len] map. Received: "
            f"weights.shape={weights.shape}"
        )
    rows, columns = len(target_pieces), len(source_pieces)
    if rows > weights.shape[0] or columns > weights.shape[1]:
        raise ValueError(
            f"There are more labels ({rows} target, {columns} source) than "
            f"weights ({weights.shape[0]}, {weights.shape[1]})."
        )
    weights = weights[:rows, :columns]
    figure, axis = pyplot.subplots(
        figsize=(max(3.0, 0.45 * columns + 1.5), max(2.5, 0.4 * rows + 1.2))
    )
    image = axis.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axis.set_xticks(range(columns), list(source_pieces), rotation=90)
    axis.set_yticks(range(rows), list(target_pieces))
    axis.set_xlabel("source")
    axis.set_ylabel("target")
    if title:
        axis.set_title(title)
    figure.colorbar(image, ax=axis)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path
