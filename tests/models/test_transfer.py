"""--init-from: a language model's weights into a classifier and a tagger."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from seq2seq.data import DataError
from seq2seq.models import LanguageModel, SequenceTagger, TextClassifier, transfer
from seq2seq.text import (
    CharacterVocabulary,
    SentencePieceTokenizer,
    WordFeatures,
    WordVocabulary,
)

IDS = np.array([[2, 5, 7, 9], [2, 4, 6, 0]])


@pytest.fixture(scope="module")
def saved(spm_model, tmp_path_factory):
    """A language model's output folder, and the model."""
    folder = tmp_path_factory.mktemp("lm")
    shutil.copy(spm_model, folder / transfer.TOKENIZER_FILE)
    tokenizer = SentencePieceTokenizer(spm_model)
    model = LanguageModel(tokenizer.vocabulary_size(), 8, 8, num_layers=2)
    model(IDS)
    model.save(folder / transfer.MODEL_FILE)
    return folder, model, tokenizer


def _array(variable):
    return tf.convert_to_tensor(variable).numpy()


def test_a_forward_classifier_gets_every_array_and_computes_the_same(saved):
    folder, lm, tokenizer = saved
    head = TextClassifier(
        tokenizer.vocabulary_size(), 2, 8, 8, num_layers=2, bidirectional=False
    )
    head(IDS)
    report = transfer.init_from(head, str(folder), tokenizer)
    assert not [line for line in report if line.startswith("not loaded")], report
    np.testing.assert_array_equal(
        _array(head.embedding.embeddings), _array(lm.embedding.embeddings)
    )
    for mine, theirs in zip(head.encoder.rnn_layers, lm.rnn_layers, strict=True):
        for a, b in zip(mine.cell.weights, theirs.cell.weights, strict=True):
            np.testing.assert_array_equal(_array(a), _array(b))
    # The head's encoder now computes the language model's hidden states.
    outputs, _ = head.encoder(head.embedding(IDS), mask=IDS != 0)
    np.testing.assert_allclose(
        outputs.numpy()[IDS != 0], lm.hidden(IDS).numpy()[IDS != 0], atol=1e-6
    )


def test_a_bidirectional_classifier_gets_the_forward_direction(saved):
    folder, lm, tokenizer = saved
    head = TextClassifier(tokenizer.vocabulary_size(), 2, 8, 8, num_layers=3)
    head(IDS)
    before = _array(head.encoder.rnn_layers[0].backward_layer.cell.kernel)
    report = transfer.init_from(head, str(folder), tokenizer)
    first, second = head.encoder.rnn_layers[:2]
    np.testing.assert_array_equal(
        _array(first.forward_layer.cell.kernel), _array(lm.rnn_layers[0].cell.kernel)
    )
    np.testing.assert_array_equal(_array(first.backward_layer.cell.kernel), before)
    # Layer 2 reads [forward, backward]: the LM's kernel fills the forward rows.
    kernel = _array(second.forward_layer.cell.kernel)
    np.testing.assert_array_equal(kernel[:8], _array(lm.rnn_layers[1].cell.kernel))
    assert (
        "not loaded: bidirectional_0/backward (the language model reads forwards only)"
        in report
    )
    assert any(
        "bidirectional_1/forward/kernel rows 0-7 of [16, 32]" in line for line in report
    )
    assert "not loaded: encoder layer 2 (the language model has 2)" in report


def test_mismatched_shapes_are_named_not_loaded(saved):
    folder, lm, tokenizer = saved
    head = TextClassifier(
        tokenizer.vocabulary_size(), 2, 6, 8, num_layers=1, cell_type="gru",
        bidirectional=False,
    )  # fmt: skip
    head(IDS)
    embedding = _array(head.embedding.embeddings)
    report = transfer.init_from(head, str(folder), tokenizer)
    np.testing.assert_array_equal(_array(head.embedding.embeddings), embedding)
    assert (
        "not loaded: embedding: the language model's size 8 against the head's 6"
        in report
    )
    wanted = "recurrent_kernel: the language model's [8, 32] against the head's [8, 24]"
    assert f"not loaded: rnn_0/{wanted}" in report
    assert "not loaded: language model layer 1 (the head has 1)" in report


def test_a_tagger_gets_the_rows_of_the_words_the_pieces_spell(saved):
    folder, lm, tokenizer = saved
    # The tiny model's whole-word pieces: ▁t, ▁s, ▁p (not "a", an inner piece).
    sentences = [["t", "s", "zebra"], ["a", "p", "dog"]]
    words = WordVocabulary.from_sentences(sentences, lowercase=True)
    characters = CharacterVocabulary.from_sentences(sentences)
    features = WordFeatures(words, characters, max_word_length=6)
    head = SequenceTagger(
        words.vocabulary_size(), characters.vocabulary_size(), 3,
        word_embedding_size=8, units=8, character_units=4, casing_embedding_size=2,
    )  # fmt: skip
    head(features(tf.ragged.constant(sentences)))
    report = transfer.init_from(head, str(folder), words)
    pieces = transfer.vocabulary_tokens(tokenizer)
    tokens = transfer.vocabulary_tokens(words)
    matched = 0
    for row, word in enumerate(words.vocabulary, start=2):
        assert tokens[row] == "\u2581" + word
        if tokens[row] in pieces:
            np.testing.assert_array_equal(
                _array(head.word_embedding.embeddings)[row],
                _array(lm.embedding.embeddings)[pieces.index(tokens[row])],
            )
            matched += 1
    assert matched == 3
    assert f"loaded embedding: {matched} of {len(tokens)} rows" in report[0]
    kernel = _array(head.encoder.rnn_layers[0].forward_layer.cell.kernel)
    np.testing.assert_array_equal(kernel[:8], _array(lm.rnn_layers[0].cell.kernel))


def test_a_folder_without_a_language_model_is_a_data_error(tmp_path, saved):
    _, _, tokenizer = saved
    head = TextClassifier(tokenizer.vocabulary_size(), 2, 8, 8)
    head(IDS)
    with pytest.raises(DataError, match="language_model.keras: no such file"):
        transfer.init_from(head, str(tmp_path), tokenizer)
    assert transfer.init_from(head, None, tokenizer) == []
