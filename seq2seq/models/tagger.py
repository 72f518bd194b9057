"""A recurrent sequence tagger: word, character and casing features, a CRF."""

from __future__ import annotations

import keras
import tensorflow as tf

from seq2seq import validation
from seq2seq.layers import CRF, LSTM, Bidirectional, masking
from seq2seq.models.base import SequenceModel
from seq2seq.models.encoder import RecurrentEncoder
from seq2seq.text.word_features import CASINGS

HEADS = ("crf", "softmax")
CHARACTER_ENCODERS = ("lstm", "cnn", "none")


@keras.saving.register_keras_serializable(package="seq2seq")
class CharacterEncoder(keras.layers.Layer):
    """One vector per word from its characters: a BiLSTM or a CNN.

    `lstm` concatenates the final states of a bidirectional LSTM over the
    characters (Lample et al. 2016); `cnn` max-pools a width-3 convolution
    over them (Ma & Hovy 2016). Character id 0 is padding: the BiLSTM reads
    only the real characters and the max ignores padded positions; a word
    with no characters (a padding word) gets zeros.

    Args:
        vocabulary_size: Characters, including padding 0 and OOV 1.
        embedding_size: Size of the character embeddings.
        units: LSTM units per direction, or CNN filters.
        encoder: `"lstm"` or `"cnn"`.

    Call arguments:
        characters: int `[batch, time, characters]`.

    Returns:
        `[batch, time, output_size]`.
    """

    def __init__(
        self, vocabulary_size, embedding_size=25, units=25, encoder="lstm", **kwargs
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = validation.positive_int(
            "vocabulary_size", vocabulary_size
        )
        self.embedding_size = validation.positive_int("embedding_size", embedding_size)
        self.units = validation.positive_int("units", units)
        self.encoder = validation.one_of("encoder", encoder, ("lstm", "cnn"))
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_size, name="embedding"
        )
        if encoder == "lstm":
            self.rnn = Bidirectional(LSTM(units), name="bidirectional")
        else:
            self.convolution = keras.layers.Conv1D(
                units, 3, padding="same", activation="tanh", name="convolution"
            )

    @property
    def output_size(self) -> int:
        return 2 * self.units if self.encoder == "lstm" else self.units

    def build(self, characters_shape):
        self.embedding.build(characters_shape)
        shape = (None, characters_shape[-1], self.embedding_size)
        (self.rnn if self.encoder == "lstm" else self.convolution).build(shape)

    def call(self, characters, training=False):
        shape = tf.shape(characters)
        flat = tf.reshape(characters, [-1, shape[-1]])  # one row per word
        mask = flat > 0
        embedded = self.embedding(flat)
        if self.encoder == "lstm":
            vectors = self.rnn(embedded, mask=mask, training=training)
        else:
            features = self.convolution(embedded)
            pooled = tf.reduce_max(masking.fill_masked(features, mask[..., None]), 1)
            any_character = tf.reduce_any(mask, axis=1, keepdims=True)
            vectors = tf.where(any_character, pooled, tf.zeros_like(pooled))
        return tf.reshape(vectors, tf.concat([shape[:-1], [self.output_size]], 0))

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_size": self.embedding_size,
            "units": self.units,
            "encoder": self.encoder,
        }


@keras.saving.register_keras_serializable(package="seq2seq")
class SequenceTagger(SequenceModel):
    """A BiRNN tagger with a CRF or softmax head (Lample et al. 2016).

    Each word is the concatenation of its word embedding, a character-level
    vector (`CharacterEncoder`) and a casing embedding; stacked
    bidirectional RNN layers (`RecurrentEncoder`, any of our cells) read the
    sentence; a dense layer scores every tag at every word; the head is a
    `CRF` (scores of tag transitions, Viterbi decoding, optional scheme
    constraints) or an independent softmax per word.

    Inputs are the dict `WordFeatures` gives: `words` `[batch, time]`,
    `characters` `[batch, time, max_word_length]` and `casing`
    `[batch, time]`, int ids with 0 for padding. The mask is `words > 0`.

    `model(inputs)` returns the tag potentials `[batch, time, num_tags]`;
    `compute_loss` is the CRF negative log-likelihood averaged over
    sentences (or the softmax cross-entropy averaged over words);
    `predict_tags(inputs)` and `model.predict` give the best tag ids
    `[batch, time]`, 0 at padding.

    Args:
        word_vocabulary_size: Words, including padding 0 and OOV 1.
        character_vocabulary_size: Characters, likewise.
        num_tags: Number of tags.
        word_embedding_size: Size of the word embeddings.
        character_embedding_size, character_units: Of the character encoder.
        character_encoder: `"lstm"`, `"cnn"` or `"none"` (no character
            features).
        casing_embedding_size: Size of the casing embedding (0: none).
        units: RNN units per direction.
        num_layers: Stacked bidirectional layers.
        cell_type: A registered cell type (`seq2seq.layers.cell_names()`).
        dropout: Dropout on the word representations and the RNN outputs.
        word_dropout: In training, the chance that a word id is replaced by
            the OOV id, so the model learns to tag unseen words.
        head: `"crf"` or `"softmax"`.
        allowed_transitions, allowed_start, allowed_end: CRF constraints
            (see `seq2seq.tagging_schemes.transition_constraints`).

    >>> from seq2seq.text import CharacterVocabulary, WordFeatures, WordVocabulary
    >>> sentences = [["Peter", "lives", "in", "Bonn"], ["EU", "talks"]]
    >>> words = WordVocabulary.from_sentences(sentences, lowercase=True)
    >>> characters = CharacterVocabulary.from_sentences(sentences)
    >>> featurize = WordFeatures(words, characters, max_word_length=8)
    >>> features = featurize(tf.ragged.constant(sentences))
    >>> tagger = SequenceTagger(
    ...     words.vocabulary_size(), characters.vocabulary_size(), num_tags=5)
    >>> tagger(features).shape  # potentials [batch, time, num_tags]
    TensorShape([2, 4, 5])
    >>> tagger.predict_tags(features).numpy()[1]  # 0 at padding
    array([..., ..., 0, 0], dtype=int32)
    """

    def __init__(
        self,
        word_vocabulary_size,
        character_vocabulary_size,
        num_tags,
        word_embedding_size=100,
        character_embedding_size=25,
        character_units=25,
        character_encoder="lstm",
        casing_embedding_size=8,
        units=200,
        num_layers=1,
        cell_type="lstm",
        dropout=0.5,
        word_dropout=0.0,
        head="crf",
        allowed_transitions=None,
        allowed_start=None,
        allowed_end=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.word_vocabulary_size = validation.positive_int(
            "word_vocabulary_size", word_vocabulary_size
        )
        self.character_vocabulary_size = validation.positive_int(
            "character_vocabulary_size", character_vocabulary_size
        )
        self.num_tags = validation.positive_int("num_tags", num_tags)
        self.word_embedding_size = validation.positive_int(
            "word_embedding_size", word_embedding_size
        )
        self.character_embedding_size = character_embedding_size
        self.character_units = character_units
        self.character_encoder = validation.one_of(
            "character_encoder", character_encoder, CHARACTER_ENCODERS
        )
        self.casing_embedding_size = int(casing_embedding_size)
        self.units = units
        self.num_layers = num_layers
        self.cell_type = cell_type
        self.dropout = validation.rate("dropout", dropout)
        self.word_dropout = validation.rate("word_dropout", word_dropout)
        self.head = validation.one_of("head", head, HEADS)
        self.allowed_transitions = allowed_transitions
        self.allowed_start = allowed_start
        self.allowed_end = allowed_end
        self.seed = seed

        self.word_embedding = keras.layers.Embedding(
            word_vocabulary_size, word_embedding_size, name="word_embedding"
        )
        self.character_features = None
        if character_encoder != "none":
            self.character_features = CharacterEncoder(
                character_vocabulary_size,
                character_embedding_size,
                character_units,
                character_encoder,
                name="character_encoder",
            )
        self.casing_embedding = None
        if self.casing_embedding_size:
            self.casing_embedding = keras.layers.Embedding(
                len(CASINGS), self.casing_embedding_size, name="casing_embedding"
            )
        self.input_dropout = keras.layers.Dropout(self.dropout, seed=seed)
        self.encoder = RecurrentEncoder(
            units,
            num_layers,
            cell_type,
            bidirectional=True,
            dropout=self.dropout,
            name="encoder",
        )
        self.output_dropout = keras.layers.Dropout(self.dropout, seed=seed)
        self.scorer = keras.layers.Dense(num_tags, name="tag_scores")
        self.crf = None
        if head == "crf":
            self.crf = CRF(
                num_tags,
                allowed_transitions=allowed_transitions,
                allowed_start=allowed_start,
                allowed_end=allowed_end,
                name="crf",
            )
        self.seed_generator = keras.random.SeedGenerator(seed)

    @staticmethod
    def mask_of(inputs):
        return inputs["words"] > 0

    def build(self, input_shape=None):
        words = (None, None)
        self.word_embedding.build(words)
        size = self.word_embedding_size
        if self.character_features is not None:
            self.character_features.build((None, None, None))
            size += self.character_features.output_size
        if self.casing_embedding is not None:
            self.casing_embedding.build(words)
            size += self.casing_embedding_size
        self.encoder.build((None, None, size))
        self.scorer.build((None, None, self.encoder.output_size))
        if self.crf is not None:
            self.crf.build()
        self.built = True

    def call(self, inputs, training=False):
        words = tf.cast(inputs["words"], tf.int32)
        mask = words > 0
        if training and self.word_dropout:
            drop = keras.random.uniform(tf.shape(words), seed=self.seed_generator)
            words = tf.where(mask & (drop < self.word_dropout), 1, words)
        parts = [self.word_embedding(words)]
        if self.character_features is not None:
            parts.append(
                self.character_features(
                    tf.cast(inputs["characters"], tf.int32), training=training
                )
            )
        if self.casing_embedding is not None:
            parts.append(self.casing_embedding(tf.cast(inputs["casing"], tf.int32)))
        x = self.input_dropout(tf.concat(parts, -1), training=training)
        x, _ = self.encoder(x, mask=mask, training=training)
        x = self.output_dropout(x, training=training)
        return self.scorer(x)

    def task_loss(self, x, y, y_pred, sample_weight=None):
        mask = self.mask_of(x)
        y_pred = tf.cast(y_pred, tf.float32)
        if self.crf is not None:
            loss = tf.reduce_mean(self.crf.negative_log_likelihood(y_pred, y, mask))
        else:
            per_word = keras.losses.sparse_categorical_crossentropy(
                y, y_pred, from_logits=True
            )
            weights = tf.cast(mask, per_word.dtype)
            loss = tf.reduce_sum(per_word * weights) / tf.maximum(
                tf.reduce_sum(weights), 1.0
            )
        return loss

    def decode(self, potentials, mask):
        """Best tag ids `[batch, time]` (0 at padding) from the potentials."""
        if self.crf is not None:
            return self.crf.decode(tf.cast(potentials, tf.float32), mask)[0]
        tags = tf.argmax(potentials, axis=-1, output_type=tf.int32)
        return tf.where(mask, tags, tf.zeros_like(tags))

    def predict_tags(self, inputs):
        """Tag ids `[batch, time]` for a batch of `WordFeatures` inputs."""
        return self.decode(self(inputs, training=False), self.mask_of(inputs))

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.predict_tags(x)

    def get_config(self):
        return {
            **super().get_config(),
            "word_vocabulary_size": self.word_vocabulary_size,
            "character_vocabulary_size": self.character_vocabulary_size,
            "num_tags": self.num_tags,
            "word_embedding_size": self.word_embedding_size,
            "character_embedding_size": self.character_embedding_size,
            "character_units": self.character_units,
            "character_encoder": self.character_encoder,
            "casing_embedding_size": self.casing_embedding_size,
            "units": self.units,
            "num_layers": self.num_layers,
            "cell_type": self.cell_type,
            "dropout": self.dropout,
            "word_dropout": self.word_dropout,
            "head": self.head,
            "allowed_transitions": self.allowed_transitions,
            "allowed_start": self.allowed_start,
            "allowed_end": self.allowed_end,
            "seed": self.seed,
        }
