"""A recurrent language model (one-to-many) and its perplexity metric."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from seq2seq import decoding, validation
from seq2seq.layers import get_cell_type
from seq2seq.layers.rnn import call_cell, state_sizes
from seq2seq.models import ngram
from seq2seq.models.base import SequenceModel
from seq2seq.models.losses import sequence_cross_entropy, token_cross_entropy


@keras.saving.register_keras_serializable(package="seq2seq")
class LanguageModel(SequenceModel):
    """Stacked RNN language model, optionally conditioned on a class or vector.

        e(t) = Embedding(ids(t)) [+ W_s c]         (W_s c: `condition_every_step`)
        h_1..h_L = stacked RNN layers over e, from states s0 = tanh(W_0 c + b_0)
        logits(t) = W_out dropout(h_L(t)) + b       (W_out = E^T when tied)

    `c` is `Embedding(num_conditions, units)(label)` for class conditioning,
    the given vector for `condition_size`, and there is none (zero initial
    states) otherwise: one label in, a sequence out. Layer i > 0 adds its
    input to its output when the sizes agree (`residual`), as
    `RecurrentEncoder` does, so a unidirectional encoder with this model's
    weights computes exactly its hidden states (`transfer` relies on it).

    Dropout (training only): `embedding_dropout` zeroes whole token vectors;
    `dropout` between layers and `output_dropout` on the top layer are
    variational, one mask per sequence shared over time (Gal & Ghahramani
    2016).

    Inputs: `ids` `[batch, time]` (BOS first, 0 pads on the right), or the
    pair `(ids, condition)` with condition `[batch]` int class ids or
    `[batch, condition_size]` floats. Targets are the ids shifted left (EOS
    last); the loss is the mean cross-entropy over non-padding targets.
    `step(ids, state)` advances one token from `initial_decoding_state` or
    `prefix_state`, the same computation as the teacher-forced pass (the
    tests hold them equal), so `seq2seq.decoding` samples and beam-searches
    it.

    Masks: `ids != 0`; padded steps carry the states unchanged.

    Args:
        vocabulary_size: Pieces, id 0 padding.
        embedding_size: Size of the token embeddings.
        units: Units of each RNN layer.
        num_layers: Stacked layers.
        cell_type: A registered cell type (`seq2seq.layers.cell_names()`).
        tie_embeddings: Use the embedding matrix as the output projection
            (needs `embedding_size == units`).
        embedding_dropout, dropout, output_dropout: Rates, see above.
        residual: Residual connections between equal-sized layers.
        num_conditions: Number of classes to condition on (or None).
        condition_size: Size of a feature vector to condition on (or None).
        condition_every_step: Also add the projected condition to every
            step's input.

    >>> model = LanguageModel(100, embedding_size=8, units=8, num_conditions=2)
    >>> model((np.array([[2, 5, 7]]), np.array([1]))).shape
    TensorShape([1, 3, 100])
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_size=256,
        units=256,
        num_layers=2,
        cell_type="lstm",
        tie_embeddings=False,
        embedding_dropout=0.0,
        dropout=0.0,
        output_dropout=0.0,
        residual=True,
        num_conditions=None,
        condition_size=None,
        condition_every_step=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = validation.positive_int(
            "vocabulary_size", vocabulary_size
        )
        self.embedding_size = validation.positive_int("embedding_size", embedding_size)
        self.units = validation.positive_int("units", units)
        self.num_layers = validation.positive_int("num_layers", num_layers)
        self.cell_type = get_cell_type(cell_type).name
        self.tie_embeddings = bool(tie_embeddings)
        self.embedding_dropout = validation.rate("embedding_dropout", embedding_dropout)
        self.dropout = validation.rate("dropout", dropout)
        self.output_dropout = validation.rate("output_dropout", output_dropout)
        self.residual = bool(residual)
        if num_conditions is not None and condition_size is not None:
            raise ValueError(
                "Give num_conditions (class ids) or condition_size (vectors), not "
                f"both. Received: num_conditions={num_conditions}, "
                f"condition_size={condition_size}"
            )
        self.num_conditions = num_conditions
        self.condition_size = condition_size
        if num_conditions is not None:
            validation.positive_int("num_conditions", num_conditions)
        if condition_size is not None:
            validation.positive_int("condition_size", condition_size)
        self.condition_every_step = bool(condition_every_step)
        if self.condition_every_step and not self.conditioned:
            raise ValueError(
                "condition_every_step needs num_conditions or condition_size. "
                "Received: both None"
            )
        if self.tie_embeddings and embedding_size != units:
            raise ValueError(
                "tie_embeddings needs embedding_size == units. Received: "
                f"embedding_size={embedding_size}, units={units}"
            )

        spec = get_cell_type(cell_type)
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_size, name="embedding"
        )
        self.rnn_layers = [
            spec.make_layer(
                units, return_sequences=True, return_state=True, name=f"rnn_{i}"
            )
            for i in range(self.num_layers)
        ]
        self._state_sizes = state_sizes(spec.make_cell(units))
        self.token_dropout = keras.layers.Dropout(
            self.embedding_dropout, noise_shape=(None, None, 1)
        )
        self.between_dropout = keras.layers.Dropout(
            self.dropout, noise_shape=(None, 1, None)
        )
        self.top_dropout = keras.layers.Dropout(
            self.output_dropout, noise_shape=(None, 1, None)
        )
        self.condition_embedding = None
        if num_conditions is not None:
            self.condition_embedding = keras.layers.Embedding(
                num_conditions, units, name="condition_embedding"
            )
        if self.conditioned:
            total = self.num_layers * sum(self._state_sizes)
            self.initial_state_layer = keras.layers.Dense(
                total, activation="tanh", name="initial_state"
            )
        if self.condition_every_step:
            self.step_condition = keras.layers.Dense(
                embedding_size, use_bias=False, name="step_condition"
            )
        if self.tie_embeddings:
            self.output_bias = self.add_weight(
                shape=(vocabulary_size,), initializer="zeros", name="output_bias"
            )
        else:
            self.output_projection = keras.layers.Dense(
                vocabulary_size, name="output_projection"
            )

    @property
    def conditioned(self) -> bool:
        return self.num_conditions is not None or self.condition_size is not None

    def build(self, input_shape):
        ids_shape = tuple(input_shape[0] if self.conditioned else input_shape)
        self.embedding.build(ids_shape)
        shape = (None, None, self.embedding_size)
        for layer in self.rnn_layers:
            layer.build(shape)
            shape = (None, None, self.units)
        if self.condition_embedding is not None:
            self.condition_embedding.build((None,))
        if self.conditioned:
            self.initial_state_layer.build((None, self._condition_width))
        if self.condition_every_step:
            self.step_condition.build((None, self._condition_width))
        if not self.tie_embeddings:
            self.output_projection.build((None, self.units))

    @property
    def _condition_width(self) -> int:
        return self.units if self.num_conditions is not None else self.condition_size

    # -- pieces shared by teacher forcing and decoding -----------------------

    def split_inputs(self, inputs):
        """`(ids, condition)` from the model's inputs (condition None if not
        conditioned)."""
        if not self.conditioned:
            return tf.cast(inputs, tf.int32), None
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise ValueError(
                "A conditioned LanguageModel takes (ids, condition). Received: "
                f"{type(inputs).__name__}"
            )
        return tf.cast(inputs[0], tf.int32), inputs[1]

    def condition_vector(self, condition):
        """`c`: the class embedding, or the feature vector as floats."""
        if self.condition_embedding is not None:
            return self.condition_embedding(
                tf.cast(tf.reshape(condition, [-1]), "int32")
            )
        return tf.cast(condition, self.compute_dtype)

    def initial_decoding_state(self, condition=None, batch_size=None):
        """The decoding state before any token: per-layer states (and, with
        `condition_every_step`, the projected condition)."""
        if not self.conditioned:
            zeros = [
                tf.zeros([batch_size, s], self.compute_dtype) for s in self._state_sizes
            ]
            return {"states": [list(zeros) for _ in range(self.num_layers)]}
        c = self.condition_vector(condition)
        flat = tf.split(
            self.initial_state_layer(c), self.num_layers * self._state_sizes, axis=-1
        )
        per = len(self._state_sizes)
        state = {
            "states": [flat[i * per : (i + 1) * per] for i in range(self.num_layers)]
        }
        if self.condition_every_step:
            state["step_input"] = self.step_condition(c)
        return state

    def _embed(self, ids, state):
        embedded = self.embedding(ids)
        if self.condition_every_step:
            step_input = state["step_input"]
            if embedded.shape.rank == 3:
                step_input = step_input[:, None, :]
            embedded = embedded + step_input
        return embedded

    def logits(self, hidden):
        if self.tie_embeddings:
            matrix = tf.cast(self.embedding.embeddings, hidden.dtype)
            return tf.matmul(hidden, matrix, transpose_b=True) + self.output_bias
        return self.output_projection(hidden)

    def run(self, ids, state, training=False):
        """Teacher forcing from `state`: top outputs `[batch, time, units]`
        and the decoding state after the last valid token of each row."""
        mask = tf.not_equal(ids, 0)
        x = self.token_dropout(self._embed(ids, state), training=training)
        final = []
        for index, (layer, initial) in enumerate(
            zip(self.rnn_layers, state["states"], strict=True)
        ):
            inputs = x
            if index > 0:
                inputs = self.between_dropout(x, training=training)
            output, *states = layer(
                inputs, initial_state=list(initial), mask=mask, training=training
            )
            if self.residual and index > 0 and output.shape[-1] == x.shape[-1]:
                output = output + x
            x = output
            final.append(states)
        return self.top_dropout(x, training=training), {**state, "states": final}

    def hidden(self, inputs, training=False):
        """The top layer's outputs `[batch, time, units]` (before projection)."""
        ids, condition = self.split_inputs(inputs)
        state = self.initial_decoding_state(condition, tf.shape(ids)[0])
        return self.run(ids, state, training)[0]

    def call(self, inputs, training=False):
        return self.logits(self.hidden(inputs, training))

    def task_loss(self, x, y, y_pred, sample_weight=None):
        return sequence_cross_entropy(y, y_pred)

    def token_losses(self, x, y, training=False):
        """Negative log-likelihood of each non-padding target: `[tokens]`,
        projecting only those positions (padding costs no matmul)."""
        valid = tf.not_equal(y, 0)
        hidden = tf.boolean_mask(self.hidden(x, training), valid)
        return token_cross_entropy(tf.boolean_mask(y, valid), self.logits(hidden))

    def batch_task_loss(self, x, y, sample_weight=None, training=True):
        """`task_loss(x, y, self(x))`: the mean over non-padding targets.

        Unlike `token_losses` it projects every position: under XLA the
        boolean gather of the valid positions compiles to a step a thousand
        times slower (75 s against 0.08 s for 32 x 31 tokens on CPU).
        """
        return sequence_cross_entropy(y, self(x, training=training))

    # -- decoding --------------------------------------------------------------

    def prefix_state(self, ids, condition=None):
        """The decoding state after reading `ids` (0-padded rows, possibly
        empty): what `step` continues from."""
        ids = tf.cast(ids, tf.int32)
        state = self.initial_decoding_state(condition, tf.shape(ids)[0])
        return self.run(ids, state, training=False)[1]

    def step(self, ids, state):
        """One token: `(logits [batch, vocabulary], new_state)`."""
        x = self._embed(tf.cast(ids, tf.int32), state)
        new_states = []
        for index, (layer, states) in enumerate(
            zip(self.rnn_layers, state["states"], strict=True)
        ):
            output, states = call_cell(layer.cell, x, list(states), training=False)
            if self.residual and index > 0 and output.shape[-1] == x.shape[-1]:
                output = output + x
            x = output
            new_states.append(states)
        return self.logits(x), {**state, "states": new_states}

    def generate(self, count, bos_id, eos_id, max_length, condition=None, **sampling):
        """`count` sampled texts from the start: `(ids, lengths, scores)` as
        `seq2seq.decoding.sample` returns them (`sampling`: its options)."""
        return decoding.sample(
            self.step,
            self.initial_decoding_state(condition, count),
            tf.fill([count], tf.constant(bos_id, tf.int32)),
            eos_id,
            max_length,
            **sampling,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_size": self.embedding_size,
            "units": self.units,
            "num_layers": self.num_layers,
            "cell_type": self.cell_type,
            "tie_embeddings": self.tie_embeddings,
            "embedding_dropout": self.embedding_dropout,
            "dropout": self.dropout,
            "output_dropout": self.output_dropout,
            "residual": self.residual,
            "num_conditions": self.num_conditions,
            "condition_size": self.condition_size,
            "condition_every_step": self.condition_every_step,
        }


@keras.saving.register_keras_serializable(package="seq2seq")
class Perplexity(keras.metrics.Metric):
    """exp(mean negative log-likelihood per non-padding target token).

    Accumulates the summed NLL and the token count, so the result is the
    exact perplexity of everything seen since the last reset (not a mean of
    per-batch perplexities). Targets equal to `pad_id` do not count.

    Args:
        pad_id: The padding id of the targets.
        name: Metric name (`perplexity`; Keras logs `val_perplexity`).
    """

    def __init__(self, pad_id=0, name="perplexity", **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_id = int(pad_id)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        losses = token_cross_entropy(y_true, y_pred)
        valid = tf.cast(tf.not_equal(tf.cast(y_true, tf.int32), self.pad_id), "float32")
        self.total.assign_add(tf.reduce_sum(losses * valid))
        self.count.assign_add(tf.reduce_sum(valid))

    def result(self):
        return tf.exp(tf.math.divide_no_nan(self.total, self.count))

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}


def summed_negative_log_likelihood(model, batches) -> tuple[float, int]:
    """`(total NLL in nats, target tokens)` of a `LanguageModel` over batches
    of `(x, y)`; exp(total / tokens) is the perplexity per piece."""
    compute = tf.function(lambda x, y: model.token_losses(x, y), reduce_retracing=True)
    total, count = 0.0, 0
    for x, y in batches:
        losses = compute(x, y).numpy().astype(np.float64)
        total += float(losses.sum())
        count += losses.size
    return total, count


def perplexity_scores(model, batches, train_windows, valid_windows, words) -> dict:
    """Validation perplexity per piece and per word, and the n-gram baselines.

    Args:
        model: A `LanguageModel`.
        batches: The validation batches of `(x, y)`.
        train_windows, valid_windows: `(inputs, targets)` id lists of the
            windows (as `seq2seq.data.language_model.windows` cuts them),
            for the baselines, which score the very targets the model does.
        words: Words of the validation texts (the per-word denominator).

    Returns:
        A dict of the perplexities, the counts and the bigram's λ.
    """
    total, pieces = summed_negative_log_likelihood(model, batches)
    baselines = ngram.baseline_perplexities(
        ngram.pairs_of(*train_windows),
        ngram.pairs_of(*valid_windows),
        model.vocabulary_size,
    )
    return {
        "valid_perplexity_per_piece": float(np.exp(total / pieces)),
        "valid_perplexity_per_word": float(np.exp(total / words)),
        "unigram_perplexity_per_piece": baselines["unigram"],
        "bigram_perplexity_per_piece": baselines["bigram"],
        "bigram_interpolation": baselines["bigram_interpolation"],
        "valid_pieces": pieces,
        "valid_words": words,
    }


def describe_perplexity(scores) -> str:
    """One line of `perplexity_scores`."""
    return (
        f"validation perplexity per piece {scores['valid_perplexity_per_piece']:.2f}"
        f" (unigram {scores['unigram_perplexity_per_piece']:.2f}, interpolated "
        f"bigram {scores['bigram_perplexity_per_piece']:.2f} at "
        f"λ={scores['bigram_interpolation']}), per word "
        f"{scores['valid_perplexity_per_word']:.2f} ({scores['valid_pieces']} "
        f"pieces, {scores['valid_words']} words)"
    )
