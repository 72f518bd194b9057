"""The attentional encoder-decoder for translation."""

from __future__ import annotations

import keras
import tensorflow as tf

from seq2seq import decoding, validation
from seq2seq.layers.fused import MATMUL_DTYPES
from seq2seq.models.base import SequenceModel
from seq2seq.models.decoder import AttentionDecoder, AttentionDecoderCell, Bridge
from seq2seq.models.encoder import RecurrentEncoder
from seq2seq.models.losses import projected_cross_entropy, sequence_cross_entropy


@keras.saving.register_keras_serializable(package="seq2seq")
class EncoderDecoder(SequenceModel):
    """A recurrent encoder, a bridge, and an attentional decoder.

    Token id 0 is padding on both sides (masks come from it). Training uses
    teacher forcing: `model((source_ids, target_in))` returns logits for
    `target_out`, where `target_in` is the target with BOS in front and
    `target_out` the target with EOS at the end. `compute_loss` is the mean
    label-smoothed cross-entropy over non-padding target tokens.

    For decoding, `encode()` gives the initial decoding state and `step()`
    advances it by one token: exactly the computation the teacher-forced pass
    runs at each position (the tests hold them equal), and the only thing the
    search functions in `seq2seq.decoding` see.

    Args:
        source_vocabulary_size, target_vocabulary_size: Vocabulary sizes.
        embedding_size: Size of the token embeddings.
        units: Units of the encoder (per direction) and decoder cells.
        encoder_layers, decoder_layers: Stack depths.
        cell_type: A registered cell type (`seq2seq.layers.cell_names()`),
            for both sides.
        bidirectional: Whether the encoder reads both ways.
        attention: `"bahdanau"`, `"luong_dot"` or `"luong_general"`.
        input_feeding: Feed the attentional state into the next step.
        dropout: Dropout in the encoder, the decoder and on embeddings.
        bridge: `"dense"` or `"zero"`, see `Bridge`.
        tie_embeddings: Use the target embedding matrix as the output
            projection (`embedding_size` must equal `units`).
        share_embeddings: One embedding for source and target (one shared
            vocabulary: the sizes must be equal).
        label_smoothing: ε of the loss.
        matmul_dtype: `None` (the compute dtype) or `"bfloat16"`: a training
            speed setting. Every matmul of the training pass, forward and
            backward, runs on bfloat16 operands: the fused encoder and
            decoder (`seq2seq.layers.fused.matmul`) and the loss's output
            projection (`losses.projected_cross_entropy`). The weights,
            states, gate arithmetic, attention, softmax and gradients stay in
            the compute dtype. Inference (`training=False`: validation,
            search, the export) computes exactly as without it.
    """

    def __init__(
        self,
        source_vocabulary_size,
        target_vocabulary_size,
        embedding_size=256,
        units=256,
        encoder_layers=1,
        decoder_layers=1,
        cell_type="lstm",
        bidirectional=True,
        attention="bahdanau",
        input_feeding=True,
        dropout=0.0,
        bridge="dense",
        tie_embeddings=False,
        share_embeddings=False,
        label_smoothing=0.0,
        matmul_dtype=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.matmul_dtype = validation.one_of(
            "matmul_dtype", matmul_dtype, MATMUL_DTYPES
        )
        self.source_vocabulary_size = validation.positive_int(
            "source_vocabulary_size", source_vocabulary_size
        )
        self.target_vocabulary_size = validation.positive_int(
            "target_vocabulary_size", target_vocabulary_size
        )
        self.embedding_size = validation.positive_int("embedding_size", embedding_size)
        self.units = validation.positive_int("units", units)
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers
        self.cell_type = cell_type
        self.bidirectional = bool(bidirectional)
        self.attention = attention
        self.input_feeding = bool(input_feeding)
        self.dropout = validation.rate("dropout", dropout)
        self.bridge_mode = bridge
        self.tie_embeddings = bool(tie_embeddings)
        self.share_embeddings = bool(share_embeddings)
        self.label_smoothing = validation.rate("label_smoothing", label_smoothing)
        if self.tie_embeddings and embedding_size != units:
            raise ValueError(
                "tie_embeddings needs embedding_size == units. Received: "
                f"embedding_size={embedding_size}, units={units}"
            )
        memory_size = units * (2 if self.bidirectional else 1)
        if attention == "luong_dot" and memory_size != units:
            raise ValueError(
                "attention='luong_dot' needs the encoder output size to equal units; "
                f"a bidirectional encoder gives {memory_size}. Use "
                "attention='luong_general' or bidirectional=False. Received: "
                f"attention={attention!r}, bidirectional={bidirectional}"
            )
        if self.share_embeddings and source_vocabulary_size != target_vocabulary_size:
            raise ValueError(
                "share_embeddings needs one vocabulary. Received: "
                f"source_vocabulary_size={source_vocabulary_size}, "
                f"target_vocabulary_size={target_vocabulary_size}"
            )

        self.source_embedding = keras.layers.Embedding(
            source_vocabulary_size, embedding_size, name="source_embedding"
        )
        self.target_embedding = (
            self.source_embedding
            if self.share_embeddings
            else keras.layers.Embedding(
                target_vocabulary_size, embedding_size, name="target_embedding"
            )
        )
        self.embedding_dropout = keras.layers.Dropout(self.dropout)
        self.encoder = RecurrentEncoder(
            units,
            num_layers=encoder_layers,
            cell_type=cell_type,
            bidirectional=bidirectional,
            dropout=dropout,
            matmul_dtype=matmul_dtype,
            name="encoder",
        )
        self.decoder_cell = AttentionDecoderCell(
            units,
            num_layers=decoder_layers,
            cell_type=cell_type,
            attention=attention,
            input_feeding=input_feeding,
            dropout=dropout,
            matmul_dtype=matmul_dtype,
            name="decoder_cell",
        )
        self.decoder = AttentionDecoder(
            self.decoder_cell, return_sequences=True, name="decoder"
        )
        self.bridge = Bridge(
            self.decoder_cell.cell_state_sizes, mode=bridge, name="bridge"
        )
        self.output_projection = None
        if not self.tie_embeddings:
            self.output_projection = keras.layers.Dense(
                target_vocabulary_size, name="output_projection"
            )
        else:
            self.output_bias = self.add_weight(
                shape=(target_vocabulary_size,), initializer="zeros", name="output_bias"
            )

    # -- pieces shared by teacher forcing and decoding -------------------------

    def encode(self, source_ids, training=False):
        """Encoder memory, its mask, and the decoder's initial states."""
        source_mask = tf.not_equal(source_ids, 0)
        embedded = self.embedding_dropout(
            self.source_embedding(source_ids), training=training
        )
        memory, encoder_states = self.encoder(
            embedded, mask=source_mask, training=training
        )
        batch = tf.shape(source_ids)[0]
        cell_states = self.bridge(encoder_states)
        feed = tf.zeros([batch, self.units], memory.dtype)
        if not self.decoder_cell.built:
            self.decoder_cell.build_for_memory(self.embedding_size, memory.shape[-1])
        return memory, source_mask, [*cell_states, feed]

    def logits(self, attentional):
        if self.output_projection is not None:
            return self.output_projection(attentional)
        matrix = tf.cast(self.target_embedding.embeddings, attentional.dtype)
        return tf.matmul(attentional, matrix, transpose_b=True) + self.output_bias

    def decoder_outputs(self, inputs, training=False):
        """The attentional states `[batch, target, units]` before projection."""
        source_ids, target_in = inputs
        memory, source_mask, initial = self.encode(source_ids, training)
        embedded = self.embedding_dropout(
            self.target_embedding(target_in), training=training
        )
        with self.decoder_cell.memory(memory, source_mask):
            outputs = self.decoder(
                embedded,
                initial_state=initial,
                mask=tf.not_equal(target_in, 0),
                training=training,
            )
        return outputs

    def token_losses(self, attentional, labels, training=False):
        """Losses of `[tokens, units]` attentional states and `[tokens]` labels.

        In training the projection's matmuls run at `matmul_dtype`.
        """
        if self.output_projection is not None:
            weights = tf.transpose(self.output_projection.kernel)
            bias = self.output_projection.bias
        else:
            weights, bias = self.target_embedding.embeddings, self.output_bias
        dtype = attentional.dtype
        return projected_cross_entropy(
            labels,
            attentional,
            tf.cast(weights, dtype),
            tf.cast(bias, dtype),
            self.label_smoothing,
            matmul_dtype=self.matmul_dtype if training else None,
        )

    def call(self, inputs, training=False):
        return self.logits(self.decoder_outputs(inputs, training))

    def task_loss(self, x, y, y_pred, sample_weight=None):
        return sequence_cross_entropy(y, y_pred, self.label_smoothing)

    def batch_task_loss(self, x, y, sample_weight=None, training=True):
        """`task_loss(x, y, self(x))`, projecting only where tokens are.

        The attentional states of the non-padding target positions are
        gathered into one `[tokens, units]` matrix before the output
        projection, so the vocabulary-sized matmul and softmax skip the
        padding, and the projection and loss run as one function with a
        hand-written gradient (`losses.projected_cross_entropy`). The value
        equals `task_loss` on the full logits (a test holds them equal).
        """
        valid = tf.not_equal(y, 0)
        outputs = tf.boolean_mask(self.decoder_outputs(x, training), valid)
        losses = self.token_losses(outputs, tf.boolean_mask(y, valid), training)
        count = tf.cast(tf.size(losses), losses.dtype)
        return tf.math.divide_no_nan(tf.reduce_sum(losses), count)

    # -- decoding --------------------------------------------------------------

    def initial_decoding_state(self, source_ids):
        """The state `step` starts from: decoder states plus the memory."""
        memory, source_mask, states = self.encode(source_ids, training=False)
        return {
            "states": states,
            "memory": memory,
            "memory_mask": source_mask,
            "keys": self.decoder_cell.attention.process_keys(memory),
        }

    def step(self, ids, state):
        """One decoding step: `(logits, new_state, attention_weights)`."""
        embedded = self.target_embedding(ids)
        attentional, states, weights = self.decoder_cell.step_with_attention(
            embedded,
            state["states"],
            state["memory"],
            state["memory_mask"],
            state["keys"],
            training=False,
        )
        return self.logits(attentional), {**state, "states": states}, weights

    def translate(
        self,
        source_ids,
        bos_id,
        eos_id,
        max_length=100,
        beam_size=1,
        length_penalty_alpha=0.0,
        coverage_penalty_beta=0.0,
        max_length_ratio=None,
    ):
        """Decodes a batch: greedy for `beam_size=1`, else beam search.

        Returns:
            `(ids, lengths, scores)` of the best hypothesis per example:
            `[batch, max_length]`, `[batch]`, `[batch]`.
        """
        state = self.initial_decoding_state(source_ids)
        start = tf.fill([tf.shape(source_ids)[0]], tf.constant(bos_id, tf.int32))
        source_lengths = tf.reduce_sum(tf.cast(state["memory_mask"], tf.int32), axis=1)
        if beam_size == 1:
            return decoding.greedy_search(
                self.step,
                state,
                start,
                eos_id,
                max_length,
                source_lengths=source_lengths,
                max_length_ratio=max_length_ratio,
            )
        ids, lengths, scores = decoding.beam_search(
            self.step,
            state,
            start,
            eos_id,
            max_length,
            beam_size,
            length_penalty_alpha=length_penalty_alpha,
            coverage_penalty_beta=coverage_penalty_beta,
            source_lengths=source_lengths,
            max_length_ratio=max_length_ratio,
            source_mask=state["memory_mask"],
        )
        return ids[:, 0], lengths[:, 0], scores[:, 0]

    def get_config(self):
        return {
            **super().get_config(),
            "source_vocabulary_size": self.source_vocabulary_size,
            "target_vocabulary_size": self.target_vocabulary_size,
            "embedding_size": self.embedding_size,
            "units": self.units,
            "encoder_layers": self.encoder_layers,
            "decoder_layers": self.decoder_layers,
            "cell_type": self.cell_type,
            "bidirectional": self.bidirectional,
            "attention": self.attention,
            "input_feeding": self.input_feeding,
            "dropout": self.dropout,
            "bridge": self.bridge_mode,
            "tie_embeddings": self.tie_embeddings,
            "share_embeddings": self.share_embeddings,
            "label_smoothing": self.label_smoothing,
            "matmul_dtype": self.matmul_dtype,
        }
