"""A SentencePiece tokenizer that runs inside the TensorFlow graph."""

from __future__ import annotations

import base64
import os

import keras
import sentencepiece
import tensorflow as tf
import tensorflow_text


def read_model_proto(model) -> bytes:
    """The serialized model from a path or from bytes, checked."""
    if isinstance(model, (bytes, bytearray)):
        proto = bytes(model)
        source = "the model bytes"
    elif isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise ValueError(
                f"model must be a SentencePiece .model file or its bytes. "
                f"Received: model={path!r}, which is not a file"
            )
        with open(path, "rb") as file:
            proto = file.read()
        source = path
    else:
        raise ValueError(
            "model must be a path to a SentencePiece .model file or its bytes. "
            f"Received: model of type {type(model).__name__}"
        )
    try:
        sentencepiece.SentencePieceProcessor(model_proto=proto)
    except Exception as error:  # sentencepiece raises RuntimeError or OSError
        raise ValueError(
            f"model is not a valid SentencePiece model ({source}): {error}"
        ) from None
    return proto


@keras.saving.register_keras_serializable(package="seq2seq")
class SentencePieceTokenizer(keras.layers.Layer):
    """Strings to SentencePiece ids and back, in the graph.

    Wraps `tensorflow_text.SentencepieceTokenizer`, so its ids equal those of
    the `sentencepiece` package for the same model. The model proto travels
    in the layer's config, so a `.keras` file or a SavedModel that holds the
    layer tokenizes with no file beside it. Input that is not valid UTF-8
    does not fail: SentencePiece maps the bad bytes to pieces (often unknown).

    Masks: none; it outputs ids, and id 0 is padding when the model was
    trained with `pad_id=0` (as `tokenizers/train_sentencepiece.py` does).

    Args:
        model: Path to a `.model` file, or its bytes.
        add_bos: Prepend the BOS id to every sequence.
        add_eos: Append the EOS id to every sequence.
        sequence_length: None for ragged ids. An int returns dense
            `[batch, sequence_length]` ids for models that need a fixed
            width: padded with `pad_id` (the model must have one), and longer
            rows cut to that width, keeping their EOS when `add_eos`. This
            truncation is the option's purpose; leave it None to keep
            everything.
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: A string tensor, any shape.

    Returns:
        int32 ids: ragged with one more dimension than `inputs`, or dense
        `[batch, sequence_length]`.

    >>> from seq2seq.text import train_sentencepiece
    >>> lines = ["a man rides a bike", "the cat sat on the mat", "a dog ran"] * 10
    >>> _ = train_sentencepiece(lines, "spm", 24, "unigram", 1.0)
    >>> tokenizer = SentencePieceTokenizer("spm.model", add_eos=True)
    >>> ids = tokenizer(["a man rides a bike", "a cat"])
    >>> ids.shape.rank, int(ids[0][-1])  # ragged [batch, (pieces)], EOS is 3
    (2, 3)
    >>> tokenizer.detokenize(ids[:, :-1]).numpy()
    array([b'a man rides a bike', b'a cat'], dtype=object)
    """

    def __init__(
        self,
        model,
        add_bos: bool = False,
        add_eos: bool = False,
        sequence_length: int | None = None,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.proto = read_model_proto(model)
        self.add_bos = bool(add_bos)
        self.add_eos = bool(add_eos)
        if sequence_length is not None and (
            not isinstance(sequence_length, int) or sequence_length <= 0
        ):
            raise ValueError(
                "sequence_length must be None or a positive integer. "
                f"Received: sequence_length={sequence_length!r}"
            )
        self.sequence_length = sequence_length
        processor = sentencepiece.SentencePieceProcessor(model_proto=self.proto)
        self.pad_id, self.unk_id = processor.pad_id(), processor.unk_id()
        if sequence_length is not None and self.pad_id < 0:
            raise ValueError(
                "sequence_length pads with the model's pad id, but this model has "
                "none (pad_id=-1; train it with pad_id=0, as "
                "tokenizers/train_sentencepiece.py does). Received: "
                f"sequence_length={sequence_length}"
            )
        self.bos_id, self.eos_id = processor.bos_id(), processor.eos_id()
        self._vocabulary_size = processor.get_piece_size()
        self._tokenizer = self._new_tokenizer()
        self.built = True

    def _new_tokenizer(self):
        return tensorflow_text.SentencepieceTokenizer(
            model=self.proto, add_bos=self.add_bos, add_eos=self.add_eos
        )

    def _run(self, function, *args):
        """Runs `function(tokenizer, *args)`, re-creating a lost model resource.

        `tf.random.set_seed` (and so `keras.utils.set_random_seed`) clears
        TensorFlow's kernel cache, which deletes the SentencePiece resource
        tensorflow-text made: the next eager call would fail with NotFound.
        Called eagerly, the layer builds a fresh one and carries on.
        """
        try:
            return function(self._tokenizer, *args)
        except tf.errors.NotFoundError:
            if not tf.executing_eagerly():
                raise
            self._tokenizer = self._new_tokenizer()
            return function(self._tokenizer, *args)

    @property
    def model(self) -> bytes:
        return self.proto

    def vocabulary_size(self) -> int:
        return self._vocabulary_size

    def call(self, inputs):
        text = tf.convert_to_tensor(inputs, tf.string)
        ids = self._run(lambda tokenizer, text: tokenizer.tokenize(text), text)
        ids = tf.cast(ids, tf.int32)
        if self.sequence_length is None:
            return ids
        if self.add_eos:
            # A truncated row still ends with EOS.
            kept = tf.minimum(ids.row_lengths(), self.sequence_length)
            ids = ids[:, : self.sequence_length]
            positions = tf.range(self.sequence_length, dtype=kept.dtype)
            last = positions[tf.newaxis, :] == (kept - 1)[:, tf.newaxis]
            dense = ids.to_tensor(self.pad_id, shape=[None, self.sequence_length])
            return tf.where(last, self.eos_id, dense)
        return ids.to_tensor(self.pad_id, shape=[None, self.sequence_length])

    def detokenize(self, ids):
        """Ids (ragged, or dense padded with `pad_id`) back to strings.

        Control pieces (padding, BOS, EOS) produce no text.
        """
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.convert_to_tensor(ids)
        ids = tf.cast(ids, tf.int32)
        return self._run(lambda tokenizer, ids: tokenizer.detokenize(ids), ids)

    def id_to_piece(self, ids):
        ids = tf.cast(ids, tf.int32)
        return self._run(lambda tokenizer, ids: tokenizer.id_to_string(ids), ids)

    def compute_output_shape(self, input_shape):
        if self.sequence_length is None:
            return (*input_shape, None)
        return (input_shape[0], self.sequence_length)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "model": base64.b64encode(self.proto).decode("ascii"),
                "add_bos": self.add_bos,
                "add_eos": self.add_eos,
                "sequence_length": self.sequence_length,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["model"], str):
            config["model"] = base64.b64decode(config["model"])
        return cls(**config)
