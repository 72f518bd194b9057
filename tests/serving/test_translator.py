"""The translation export: a fresh process, saved_model_cli, bad inputs."""

import ast
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from seq2seq import serving
from seq2seq.models import EncoderDecoder
from seq2seq.text import SentencePieceTokenizer
from tests.serving.fresh_process import serve_in_fresh_process

BAD_AND_GOOD = [
    "the cat sat on the mat",
    "",
    "a dog ran in the park " * 220,  # about 5,000 characters
    "日本語 ÆØÅ ẞ",  # characters never seen in training
]
INVALID_UTF8 = b"\xff\xfe\xfd a man"


@pytest.fixture(scope="module")
def exported(spm_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    model_copy = folder / "tiny.model"
    shutil.copy(spm_model, model_copy)
    tokenizer = SentencePieceTokenizer(model_copy)
    size = tokenizer.vocabulary_size()
    model = EncoderDecoder(size, size, embedding_size=8, units=8, share_embeddings=True)
    path = serving.export_translator(
        model,
        tokenizer,
        folder / "saved",
        beam_size=3,
        max_length=12,
        max_source_length=64,
    )
    model_copy.unlink()  # the export must not need the tokenizer file
    return model, tokenizer, path


def test_export_runs_in_a_fresh_process_without_seq2seq(exported):
    model, tokenizer, path = exported
    texts = [*BAD_AND_GOOD, INVALID_UTF8]
    full, single, empty = serve_in_fresh_process(path, [texts, texts[:1], []])
    assert len(full["translations"]) == 5 and len(single["translations"]) == 1
    assert empty["translations"] == empty["scores"] == []
    assert empty["source_truncated"] == []
    assert full["source_truncated"] == [False, False, True, False, False]
    assert all(np.isfinite(full["scores"]))
    # The same translations as the model decoding in this process.
    ids, _ = serving.source_ids(tokenizer, tf.constant(BAD_AND_GOOD[:1]), 64)
    decoded, lengths, scores = model.translate(
        ids,
        tokenizer.bos_id,
        tokenizer.eos_id,
        max_length=12,
        beam_size=3,
        length_penalty_alpha=0.6,
        max_length_ratio=2.0,
    )
    expected = (
        tokenizer.detokenize(
            serving.strip_to_ragged(decoded, lengths, tokenizer.eos_id)
        )
        .numpy()[0]
        .decode()
    )
    assert single["translations"][0] == expected
    np.testing.assert_allclose(single["scores"][0], scores.numpy()[0], rtol=1e-4)


# saved_model_cli itself, with tensorflow-text's ops registered first: the CLI
# does not import them (TF Serving needs them linked in the same way).
CLI = (
    "import sys, tensorflow_text; "
    "from tensorflow.python.tools.saved_model_cli import main; sys.exit(main())"
)


def translate_here(model, tokenizer, texts):
    """What the export should say: the model decoding in this process."""
    ids, _ = serving.source_ids(tokenizer, tf.constant(texts), 64)
    decoded, lengths, scores = model.translate(
        ids,
        tokenizer.bos_id,
        tokenizer.eos_id,
        max_length=12,
        beam_size=3,
        length_penalty_alpha=0.6,
        max_length_ratio=2.0,
    )
    texts = tokenizer.detokenize(
        serving.strip_to_ragged(decoded, lengths, tokenizer.eos_id)
    )
    return [t.decode() for t in texts.numpy()], scores.numpy()


def test_export_runs_through_saved_model_cli(exported):
    model, tokenizer, path = exported
    command = [sys.executable, "-c", CLI, "run", "--dir", str(path)]
    command += ["--tag_set", "serve", "--signature_def", "serving_default"]
    command += ["--input_exprs", 'text=["the cat sat", ""]']
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    # "Result for output key translations:" then the array of byte strings.
    block = completed.stdout.split("output key translations:")[1].split("Result")[0]
    printed = [ast.literal_eval(t) for t in re.findall(r"b'(?:[^'\\]|\\.)*'", block)]
    # The same batch decoded in this process (the untrained model's
    # translation of "" is whatever its decoder says without a source).
    expected, _ = translate_here(model, tokenizer, ["the cat sat", ""])
    assert expected[0]  # a translation, not an empty string
    assert printed == [t.encode() for t in expected]
