"""Pretrain, then fine-tune: a language model's weights into another head.

`recipes/language_model.py` leaves `language_model.keras` and `spm.model` in
its output folder; `init_from_language_model(head, folder, head_tokens)`
copies into a `TextClassifier` or a `SequenceTagger`:

- the embedding rows of the tokens both vocabularies hold (matched by
  string: the same piece; a tagger's word `w` is the whole-word piece `▁w`);
- per layer, the recurrent weights into the layer's (forward) cell: each
  weight whose shape matches; a `kernel` whose head has more input rows
  (the tagger's character and casing features after the word embedding)
  gets the language model's rows as its leading rows.

Everything not loaded is named in the returned report: a backward
direction, layers beyond the language model's, weights of another shape.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import sentencepiece

from seq2seq.data.files import DataError
from seq2seq.layers import Bidirectional

MODEL_FILE = "language_model.keras"
TOKENIZER_FILE = "spm.model"
WORD_START = "\u2581"  # SentencePiece's word-boundary mark


def load_language_model(folder):
    """`(model, pieces)` from a folder written by `recipes/language_model.py`.

    Raises:
        DataError: naming the folder and the missing file.
    """
    folder = os.fspath(folder)
    paths = [os.path.join(folder, name) for name in (MODEL_FILE, TOKENIZER_FILE)]
    for path in paths:
        if not os.path.isfile(path):
            raise DataError(
                f"{path}: no such file; --init-from needs the output folder of "
                "recipes/language_model.py (language_model.keras and spm.model)"
            )
    model = keras.models.load_model(paths[0], compile=False)
    processor = sentencepiece.SentencePieceProcessor(model_file=paths[1])
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    return model, pieces


def _row_matches(source_tokens, target_tokens):
    """`(target_rows, source_rows)` of the tokens both vocabularies hold."""
    index = {token: row for row, token in enumerate(source_tokens)}
    pairs = []
    for row, token in enumerate(target_tokens):
        found = index.get(token) if token else None
        if found is not None:
            pairs.append((row, found))
    rows = np.array(pairs, np.int64).reshape(-1, 2)
    return rows[:, 0], rows[:, 1]


def _copy_weights(source, target, where, report):
    """Assigns each weight of cell `source` to `target`'s of the same name."""
    targets = {w.name: w for w in target.weights}
    for weight in source.weights:
        value = weight.numpy()
        other = targets.pop(weight.name, None)
        shape = tuple(value.shape)
        if other is None:
            report.append(f"not loaded: {where}/{weight.name} (the head has none)")
        elif tuple(other.shape) == shape:
            other.assign(value)
            report.append(f"loaded {where}/{weight.name} {list(shape)}")
        elif (
            weight.name == "kernel"
            and other.shape[1:] == shape[1:]
            and other.shape[0] > shape[0]
        ):
            merged = other.numpy().copy()
            merged[: shape[0]] = value
            other.assign(merged)
            report.append(
                f"loaded {where}/kernel rows 0-{shape[0] - 1} of "
                f"{list(other.shape)} (the rest: the head's other input features)"
            )
        else:
            report.append(
                f"not loaded: {where}/{weight.name}: the language model's "
                f"{list(shape)} against the head's {list(other.shape)}"
            )
    report.extend(
        f"not loaded: {where}/{name} (not in the language model)" for name in targets
    )


def transfer_language_model(
    language_model, embedding, encoder, source_tokens, target_tokens
) -> list[str]:
    """Copies `language_model`'s embeddings and RNN layers into a head's.

    Args:
        language_model: A built `LanguageModel`.
        embedding: The head's (built) token `keras.layers.Embedding`.
        encoder: The head's (built) `RecurrentEncoder`.
        source_tokens: The language model's token of each id.
        target_tokens: The head's token of each id.

    Returns:
        The report: one line per thing loaded or not loaded.
    """
    report = []
    source = language_model.embedding.embeddings.numpy()
    matrix = embedding.embeddings.numpy().copy()
    if source.shape[1] != matrix.shape[1]:
        report.append(
            f"not loaded: embedding: the language model's size {source.shape[1]} "
            f"against the head's {matrix.shape[1]}"
        )
    else:
        rows, found = _row_matches(source_tokens, target_tokens)
        matrix[rows] = source[found]
        embedding.embeddings.assign(matrix)
        report.append(
            f"loaded embedding: {len(rows)} of {matrix.shape[0]} rows (matched by "
            f"token); not loaded: the other {matrix.shape[0] - len(rows)}"
        )
    for index, layer in enumerate(language_model.rnn_layers):
        if index >= len(encoder.rnn_layers):
            report.append(
                f"not loaded: language model layer {index} (the head has "
                f"{len(encoder.rnn_layers)})"
            )
            continue
        target = encoder.rnn_layers[index]
        if isinstance(target, Bidirectional):
            _copy_weights(
                layer.cell, target.forward_layer.cell, target.name + "/forward", report
            )
            report.append(
                f"not loaded: {target.name}/backward (the language model reads "
                "forwards only)"
            )
        else:
            _copy_weights(layer.cell, target.cell, target.name, report)
    report.extend(
        f"not loaded: encoder layer {i} (the language model has "
        f"{len(language_model.rnn_layers)})"
        for i in range(len(language_model.rnn_layers), len(encoder.rnn_layers))
    )
    return report


def init_from_language_model(head, folder, head_tokens) -> list[str]:
    """Loads the language model saved in `folder` into a built head.

    Args:
        head: A `TextClassifier` (its `embedding`) or a `SequenceTagger` (its
            `word_embedding`), built.
        folder: The output folder of `recipes/language_model.py`.
        head_tokens: The head's token of each id (pieces, or words).

    Returns:
        The report of `transfer_language_model`.
    """
    model, pieces = load_language_model(folder)
    embedding = getattr(head, "embedding", None) or head.word_embedding
    return transfer_language_model(model, embedding, head.encoder, pieces, head_tokens)


def vocabulary_tokens(vocabulary) -> list[str]:
    """The piece of each id of a `SentencePieceTokenizer`, or of a
    `WordVocabulary` (padding "", OOV, then each word `w` as the whole-word
    piece `▁w`), for matching embedding rows by string."""
    if hasattr(vocabulary, "model"):
        processor = sentencepiece.SentencePieceProcessor(model_proto=vocabulary.model)
        return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    return ["", "[UNK]", *(WORD_START + word for word in vocabulary.vocabulary)]


def tokenizer_file(folder):
    """The language model's SentencePiece file in `folder` (None for None)."""
    return None if folder is None else os.path.join(folder, TOKENIZER_FILE)


def init_from(head, folder, vocabulary) -> list[str]:
    """`init_from_language_model` for a recipe's `--init-from`: does nothing
    when `folder` is None, else loads and prints the report.

    Args:
        head: A built `TextClassifier` or `SequenceTagger`.
        folder: The language model's output folder, or None.
        vocabulary: The head's `SentencePieceTokenizer` or `WordVocabulary`.
    """
    if folder is None:
        return []
    report = init_from_language_model(head, folder, vocabulary_tokens(vocabulary))
    print(f"--init-from {folder}:\n" + "\n".join(f"  {line}" for line in report))
    return report


INPUT_LAYERS = ("embedding", "word_embedding", "character_features", "casing_embedding")


def fine_tuning_groups(head):
    """The head's trainable variables in groups, bottom to top, for
    discriminative learning rates and gradual unfreezing
    (`seq2seq.training.layerwise_rules`):

    1. the inputs: the embedding (a tagger's word embedding, character
       encoder and casing embedding);
    2. each layer of `head.encoder`, the lowest first;
    3. the rest: pooling, the output layer, a tagger's CRF.

    Every trainable variable is in exactly one group.
    """
    inputs = [
        variable
        for name in INPUT_LAYERS
        if getattr(head, name, None) is not None
        for variable in getattr(head, name).trainable_variables
    ]
    layers = [layer.trainable_variables for layer in head.encoder.rnn_layers]
    grouped = {id(v) for v in inputs} | {id(v) for layer in layers for v in layer}
    rest = [v for v in head.trainable_variables if id(v) not in grouped]
    return [inputs, *layers, rest]
