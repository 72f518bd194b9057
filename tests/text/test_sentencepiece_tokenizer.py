"""SentencePieceTokenizer: exact ids, round trips, and a self-contained proto."""

import json
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import sentencepiece
import tensorflow as tf

from seq2seq.text import SentencePieceTokenizer
from tests.conftest import SENTENCES

PROBES = SENTENCES + ["", "a zebra!", "Ünïcödé and 日本", "  extra   spaces  "]


@pytest.mark.parametrize(
    "add_bos, add_eos", [(False, False), (True, True), (False, True)]
)
def test_ids_equal_the_sentencepiece_package(spm_model, add_bos, add_eos):
    tokenizer = SentencePieceTokenizer(spm_model, add_bos=add_bos, add_eos=add_eos)
    processor = sentencepiece.SentencePieceProcessor(model_file=str(spm_model))
    expected = processor.encode(PROBES, add_bos=add_bos, add_eos=add_eos)
    assert tokenizer(PROBES).to_list() == expected
    assert tokenizer.vocabulary_size() == processor.get_piece_size()
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id) == (
        0,
        1,
        2,
        3,
    )


def test_detokenize_round_trip(spm_model):
    tokenizer = SentencePieceTokenizer(spm_model, add_bos=True, add_eos=True)
    ids = tokenizer(SENTENCES)
    assert [s.decode() for s in tokenizer.detokenize(ids).numpy()] == SENTENCES
    # Dense ids padded with pad_id detokenize to the same strings.
    dense = ids.to_tensor(tokenizer.pad_id)
    assert [s.decode() for s in tokenizer.detokenize(dense).numpy()] == SENTENCES


def test_direct_call_equals_dataset_map(spm_model):
    tokenizer = SentencePieceTokenizer(spm_model, add_eos=True)
    direct = tokenizer(PROBES).to_list()
    mapped = tf.data.Dataset.from_tensor_slices(PROBES).map(tokenizer)
    assert [ids.numpy().tolist() for ids in mapped] == direct


def test_sequence_length_pads_and_truncates_keeping_eos(spm_model):
    tokenizer = SentencePieceTokenizer(spm_model, add_eos=True, sequence_length=6)
    ragged = SentencePieceTokenizer(spm_model, add_eos=True)(PROBES).to_list()
    dense = tokenizer(PROBES).numpy()
    assert dense.shape == (len(PROBES), 6)
    assert any(len(ids) > 6 for ids in ragged)
    for row, ids in zip(dense, ragged, strict=True):
        expected = ids[:5] + [3] if len(ids) > 6 else (ids + [0] * 6)[:6]
        assert row.tolist() == expected


def test_sequence_length_needs_a_pad_id(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(SENTENCES * 10))
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(tmp_path / "nopad"),
        vocab_size=30,
        hard_vocab_limit=False,
        minloglevel=2,
    )  # sentencepiece's defaults: no pad id
    with pytest.raises(ValueError, match=r"pad_id=-1.*Received: sequence_length=8"):
        SentencePieceTokenizer(tmp_path / "nopad.model", sequence_length=8)


def test_bad_model_raises(tmp_path):
    with pytest.raises(ValueError, match="not a file"):
        SentencePieceTokenizer(tmp_path / "missing.model")
    with pytest.raises(ValueError, match="not a valid SentencePiece model"):
        SentencePieceTokenizer(b"not a model proto")
    with pytest.raises(ValueError, match=r"Received: sequence_length=0"):
        SentencePieceTokenizer(b"", sequence_length=0)


def test_config_carries_the_model(spm_model, tmp_path):
    copy = tmp_path / "copy.model"
    shutil.copy(spm_model, copy)
    tokenizer = SentencePieceTokenizer(copy, add_eos=True)
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(tokenizer)))
    copy.unlink()
    rebuilt = keras.saving.deserialize_keras_object(config)
    assert rebuilt(PROBES).to_list() == tokenizer(PROBES).to_list()


def test_keras_file_needs_no_model_file(spm_model, tmp_path):
    copy = tmp_path / "copy.model"
    shutil.copy(spm_model, copy)
    inputs = keras.Input(shape=(), dtype="string")
    outputs = SentencePieceTokenizer(copy, add_eos=True, sequence_length=12)(inputs)
    model = keras.Model(inputs, outputs)
    expected = model(tf.constant(PROBES)).numpy()
    model.save(tmp_path / "tokenizer.keras")
    copy.unlink()
    reloaded = keras.models.load_model(tmp_path / "tokenizer.keras")
    np.testing.assert_array_equal(reloaded(tf.constant(PROBES)), expected)


SERVE = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)
    served = tf.saved_model.load(sys.argv[1])
    result = {}
    batches = {"probes": json.loads(sys.argv[2]), "bad": [b"\\xff\\xfe", b""]}
    for name, batch in batches.items():
        ids = served.tokenize(tf.constant(batch))
        text = [t.decode("utf-8", "replace") for t in served.detokenize(ids).numpy()]
        result[name] = [ids.to_list(), text]
    print(json.dumps(result))
    """
)


def test_saved_model_tokenizes_in_a_fresh_process_without_the_model_file(
    spm_model, tmp_path
):
    copy = tmp_path / "copy.model"
    shutil.copy(spm_model, copy)
    tokenizer = SentencePieceTokenizer(copy, add_eos=True)
    module = tf.Module()
    module.tokenizer = tokenizer
    module.tokenize = tf.function(
        lambda text: tokenizer(text), input_signature=[tf.TensorSpec([None], tf.string)]
    )
    module.detokenize = tf.function(
        lambda ids: tokenizer.detokenize(ids),
        input_signature=[tf.RaggedTensorSpec([None, None], tf.int32)],
    )
    tf.saved_model.save(module, str(tmp_path / "export"))
    copy.unlink()
    script = tmp_path / "serve.py"
    script.write_text(SERVE)
    completed = subprocess.run(
        [
            sys.executable,
            str(script),
            str(tmp_path / "export"),
            json.dumps(SENTENCES[:3]),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["probes"][0] == tokenizer(SENTENCES[:3]).to_list()
    assert result["probes"][1] == SENTENCES[:3]
    assert len(result["bad"][0]) == 2  # no crash on non-UTF-8 and empty input


def test_survives_resetting_the_random_seed(spm_model):
    """tf.random.set_seed clears the kernel cache and with it tf-text's model."""
    tokenizer = SentencePieceTokenizer(spm_model)
    expected = tokenizer(PROBES).to_list()
    keras.utils.set_random_seed(5)
    assert tokenizer(PROBES).to_list() == expected
    assert [
        s.decode() for s in tokenizer.detokenize(tokenizer(SENTENCES)).numpy()
    ] == SENTENCES


def test_sentencepiece_tokenizer_loads_or_trains(spm_model, tmp_path):
    from seq2seq.text import sentencepiece_tokenizer
    from tests.conftest import SENTENCES

    def never_read():
        raise AssertionError("the lines are read only to train a model")
        yield

    loaded = sentencepiece_tokenizer(str(spm_model), never_read(), "unused", 10)
    reference = SentencePieceTokenizer(spm_model)
    assert loaded(PROBES).to_list() == reference(PROBES).to_list()

    lines = (line for line in SENTENCES * 10)  # a generator is enough
    trained = sentencepiece_tokenizer(None, lines, str(tmp_path / "new"), 32)
    processor = sentencepiece.SentencePieceProcessor(
        model_file=str(tmp_path / "new.model")
    )
    assert trained.vocabulary_size() == processor.get_piece_size() == 32
    assert trained(PROBES).to_list() == [processor.encode(p) for p in PROBES]

    # Resuming (reuse): the model trained before is loaded, the lines unread.
    again = sentencepiece_tokenizer(
        None, never_read(), str(tmp_path / "new"), 32, reuse=True
    )
    assert again(PROBES).to_list() == trained(PROBES).to_list()
    # Not resuming: trained again, here to another size.
    other = sentencepiece_tokenizer(
        None, (line for line in SENTENCES * 10), str(tmp_path / "new"), 30
    )
    assert other.vocabulary_size() == 30
