"""A recurrent text classifier (many-to-one) and its macro-F1 metric."""

from __future__ import annotations

import keras
import tensorflow as tf

from seq2seq import validation
from seq2seq.layers import POOLING_MODES, SequencePooling, get_cell_type
from seq2seq.models.base import SequenceModel
from seq2seq.models.encoder import RecurrentEncoder


@keras.saving.register_keras_serializable(package="seq2seq")
class TextClassifier(SequenceModel):
    """Token ids to class logits: embeddings, an RNN encoder, pooling, a head.

        e(t) = Embedding(ids(t))              (id 0 is padding)
        h(1..T) = RecurrentEncoder(dropout(e))
        v = pool(h)                           (last, mean, max or attention)
        logits = W dropout(v) + b             [batch, num_classes]

    Binary classification is `num_classes=2`: the head is always a softmax
    over `num_classes` logits (no sigmoid variant), so the probabilities of
    an export have one column per label name.

    Masks: id 0 is padding; the mask `ids != 0` (True = valid) goes to the
    encoder and the pooling, so padding never changes a row's logits. With
    `pooling="last"` the pooled vector is the top layer's final hidden state:
    the forward direction at the last valid token, concatenated (when
    bidirectional) with the backward direction at the first token, which is
    where the backward reading ends.

    Args:
        vocabulary_size: Size of the id vocabulary (SentencePiece pieces).
        num_classes: Number of classes (>= 2).
        embedding_size: Size of the token embeddings.
        units: Units per RNN layer (per direction when bidirectional).
        num_layers: Stacked RNN layers (residual between equal sizes).
        cell_type: A registered cell type (`seq2seq.layers.cell_names()`).
        bidirectional: Whether the encoder reads both ways.
        pooling: `"last"`, `"mean"`, `"max"` or `"attention"`.
        attention_units: Hidden width of the attention scorer (attention
            pooling only; default the encoder output size).
        dropout: Dropout on the embeddings, between RNN layers and on the
            pooled vector.
        **kwargs: Base `keras.Model` arguments.

    Call arguments:
        ids: int `[batch, time]`, 0-padded on the right.
        training: Whether dropout is applied.
        return_attention_scores: With `pooling="attention"`, also return the
            pooling weights `[batch, time]` (0 on padding).

    Returns:
        Logits `[batch, num_classes]`, or `(logits, weights)`.

    >>> model = TextClassifier(8000, num_classes=2, pooling="attention")
    >>> ids = np.array([[5, 42, 7, 0], [9, 0, 0, 0]])  # 0 is padding
    >>> logits, weights = model(ids, return_attention_scores=True)
    >>> logits.shape, weights.numpy()[1]
    (TensorShape([2, 2]), array([1., 0., 0., 0.], dtype=float32))
    """

    def __init__(
        self,
        vocabulary_size,
        num_classes=2,
        embedding_size=128,
        units=128,
        num_layers=1,
        cell_type="lstm",
        bidirectional=True,
        pooling="max",
        attention_units=None,
        dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = validation.positive_int(
            "vocabulary_size", vocabulary_size
        )
        self.num_classes = validation.positive_int("num_classes", num_classes)
        if self.num_classes < 2:
            raise ValueError(
                "num_classes must be at least 2 (binary is num_classes=2 with a "
                f"softmax head). Received: num_classes={num_classes!r}"
            )
        self.embedding_size = validation.positive_int("embedding_size", embedding_size)
        self.units = validation.positive_int("units", units)
        self.num_layers = validation.positive_int("num_layers", num_layers)
        self.cell_type = get_cell_type(cell_type).name
        self.bidirectional = bool(bidirectional)
        self.pooling = validation.one_of("pooling", pooling, POOLING_MODES)
        self.attention_units = attention_units
        self.dropout = validation.rate("dropout", dropout)

        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_size, mask_zero=True, name="embedding"
        )
        self.embedding_dropout = keras.layers.Dropout(self.dropout)
        self.encoder = RecurrentEncoder(
            units,
            num_layers=num_layers,
            cell_type=cell_type,
            bidirectional=bidirectional,
            dropout=dropout,
            name="encoder",
        )
        self.pooling_layer = SequencePooling(
            pooling, attention_units=attention_units, name="pooling"
        )
        self.pooled_dropout = keras.layers.Dropout(self.dropout)
        self.head = keras.layers.Dense(num_classes, name="head")

    def build(self, ids_shape):
        ids_shape = tuple(ids_shape)
        self.embedding.build(ids_shape)
        self.encoder.build((*ids_shape, self.embedding_size))
        self.pooling_layer.build((*ids_shape, self.encoder.output_size))
        self.head.build((ids_shape[0], self.encoder.output_size))

    def call(self, ids, training=False, return_attention_scores=False):
        if return_attention_scores and self.pooling != "attention":
            raise ValueError(
                "return_attention_scores needs pooling='attention'. Received: "
                f"pooling={self.pooling!r}"
            )
        ids = tf.cast(ids, tf.int32)
        mask = tf.not_equal(ids, 0)
        embedded = self.embedding_dropout(self.embedding(ids), training=training)
        outputs, states = self.encoder(embedded, mask=mask, training=training)
        weights = None
        if self.pooling == "last":
            pooled = states[-1][0]  # the top layer's final h (both directions)
        elif return_attention_scores:
            pooled, weights = self.pooling_layer(
                outputs, mask=mask, return_attention_scores=True
            )
        else:
            pooled = self.pooling_layer(outputs, mask=mask)
        pooled = self.pooled_dropout(pooled, training=training)
        logits = self.head(pooled)
        if return_attention_scores:
            return logits, weights
        return logits

    def probabilities(self, ids):
        """Softmax of the logits: `[batch, num_classes]`, rows sum to 1."""
        return tf.nn.softmax(self(ids, training=False), axis=-1)

    def task_loss(self, x, y, y_pred, sample_weight=None):
        """Mean cross-entropy of the integer labels `y` under the logits."""
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
            tf.cast(tf.reshape(y, [-1]), tf.int32), tf.cast(y_pred, tf.float32)
        )
        return tf.reduce_mean(losses)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "num_classes": self.num_classes,
            "embedding_size": self.embedding_size,
            "units": self.units,
            "num_layers": self.num_layers,
            "cell_type": self.cell_type,
            "bidirectional": self.bidirectional,
            "pooling": self.pooling,
            "attention_units": self.attention_units,
            "dropout": self.dropout,
        }


@keras.saving.register_keras_serializable(package="seq2seq")
class MacroF1Score(keras.metrics.Metric):
    """Macro-averaged F1 of integer labels against logits or probabilities.

    Accumulates a `[num_classes, num_classes]` confusion matrix (rows: true,
    columns: predicted = argmax), so the result is the exact macro F1 of
    everything seen since the last reset: the mean over classes of
    2 TP / (2 TP + FP + FN), where a class with no true and no predicted
    example scores 0 (as scikit-learn's default `zero_division` does).

    Args:
        num_classes: Number of classes.
        name: Metric name (`macro_f1`, so Keras logs `val_macro_f1`).
    """

    def __init__(self, num_classes, name="macro_f1", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = validation.positive_int("num_classes", num_classes)
        self.confusion = self.add_variable(
            shape=(num_classes, num_classes), initializer="zeros", name="confusion"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
        predicted = tf.argmax(tf.reshape(y_pred, [-1, self.num_classes]), -1)
        weights = None
        if sample_weight is not None:
            weights = tf.cast(tf.reshape(sample_weight, [-1]), self.confusion.dtype)
        counts = tf.math.confusion_matrix(
            labels,
            tf.cast(predicted, tf.int32),
            num_classes=self.num_classes,
            weights=weights,
            dtype=self.confusion.dtype,
        )
        self.confusion.assign_add(counts)

    def result(self):
        confusion = tf.convert_to_tensor(self.confusion)
        true_positives = tf.linalg.diag_part(confusion)
        false_positives = tf.reduce_sum(confusion, axis=0) - true_positives
        false_negatives = tf.reduce_sum(confusion, axis=1) - true_positives
        f1 = tf.math.divide_no_nan(
            2 * true_positives, 2 * true_positives + false_positives + false_negatives
        )
        return tf.reduce_mean(f1)

    def reset_state(self):
        self.confusion.assign(tf.zeros_like(self.confusion))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
