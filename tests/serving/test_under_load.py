"""The three exports under load, in a fresh process without seq2seq: the
warm-up signature, 8 concurrent threads of good and bad strings, requests of
8 texts of 500 words, and resident memory after warm-up."""

import json
import os
import random
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from seq2seq import serving
from seq2seq.models import EncoderDecoder, TextClassifier
from seq2seq.tagging_schemes import iob2_names
from seq2seq.text import (
    SentencePieceTokenizer,
)
from tests.serving.tiny_models import tiny_tagger

WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "in", "park"]
GOOD = ["the cat sat on the mat", "a dog ran in the park", "two men play football"]
BAD = ["", "   ", b"\xff\xfe\xfd a man \xc3", "日本語 ÆØÅ ẞ", "a dog " * 300]
# Threaded rounds of every request: RSS is read after each. The first round
# warms what threads allocate once (thread stacks, allocator arenas).
ROUNDS = 4
# Measured: resident memory moves by under 1 MB from the end of the first
# round to the end of the last (the 3 rounds between make 288 calls). A leak
# of 15 KB a call, one small output's worth, would add more than this.
RSS_TOLERANCE_MB = 4

SCRIPT = textwrap.dedent(
    """
    import json, random, sys, threading
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the SentencePiece ops)

    def rss_mb():
        with open("/proc/self/status") as status:
            line = next(l for l in status if l.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    def decode(batch):
        return [bytes.fromhex(t) for t in batch]

    config = json.loads(sys.stdin.read())
    requests = [decode(batch) for batch in config["requests"]]
    report = {}
    for name, export in config["exports"].items():
        loaded = tf.saved_model.load(export["path"])
        serve = loaded.signatures["serving_default"]
        warm = {k: v.numpy().item() for k, v in loaded.warm_up().items()}
        serve(text=tf.constant([""]))

        def answer(batch):
            outputs = serve(text=tf.constant(batch, tf.string))
            return {k: v.numpy().tolist() for k, v in sorted(outputs.items())}

        def checksum(outputs):
            total = 0.0
            for value in outputs.values():
                for item in tf.nest.flatten(value):
                    total += len(item) if isinstance(item, bytes) else float(item)
            return total

        # What the warm-up signature returns, recomputed through the signature.
        warm["expected_checksum"] = sum(
            checksum(answer(decode(batch))) for batch in export["warmup"]
        )
        sequential = [answer(batch) for batch in requests]
        long = [answer(decode(batch)) for batch in config["long"]]
        alone = {t: answer([t]) for batch in requests for t in batch}
        errors, mismatches, rss = [], [], []

        def worker(seed):
            order = list(range(len(requests)))
            random.Random(seed).shuffle(order)
            for i in order:
                try:
                    if answer(requests[i]) != sequential[i]:
                        mismatches.append(i)
                except Exception as error:  # every error is a failure
                    errors.append(repr(error)[:300])

        for round in range(config["rounds"]):
            threads = [
                threading.Thread(target=worker, args=(8 * round + i,))
                for i in range(8)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            rss.append(rss_mb())

        def plain(value):
            if isinstance(value, bytes):
                return value.decode("utf-8", "replace")
            if isinstance(value, list):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value

        report[name] = {
            "warm": warm,
            "errors": errors,
            "mismatches": mismatches,
            "rss_mb": rss,
            "sequential": plain(sequential),
            "long": plain(long),
            "alone": [plain(alone[t]) for t in decode(config["texts"])],
        }
    print(json.dumps(report))
    """
)


def make_exports(spm_model, folder):
    """A tiny translator, tagger and classifier export: `{name: path}`."""
    shutil.copy(spm_model, folder / "tiny.model")
    tokenizer = SentencePieceTokenizer(folder / "tiny.model")
    size = tokenizer.vocabulary_size()
    translator = EncoderDecoder(
        size, size, embedding_size=8, units=8, share_embeddings=True
    )
    sentences = [s.split() for s in GOOD]
    tags = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    features, tagger = tiny_tagger(sentences, tags)
    classifier = TextClassifier(size, num_classes=3, embedding_size=8, units=8)
    return {
        "translator": serving.export_translator(
            translator,
            tokenizer,
            folder / "translator",
            beam_size=3,
            max_length=12,
            max_source_length=16,  # one length, so one program to compile
            batch_sizes=(8,),
        ),
        "tagger": serving.export_tagger(
            tagger, features, iob2_names(tags, "iobes"), folder / "tagger"
        ),
        "classifier": serving.export_classifier(
            classifier, tokenizer, folder / "classifier", ["a", "b", "c"], 40
        ),
    }


def long_texts(words, seed):
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(words)) for _ in range(8)]


@pytest.fixture(scope="module")
def report(spm_model, tmp_path_factory):
    exports = make_exports(spm_model, tmp_path_factory.mktemp("load"))
    rng = random.Random(0)
    texts = [t if isinstance(t, bytes) else t.encode() for t in GOOD + BAD]
    requests = [rng.choices(texts, k=rng.randint(1, 8)) for _ in range(12)]
    long = [t.encode() for t in long_texts(500, 1)]
    # The same 8 texts with 20 words more: the same answer if only a bounded
    # prefix is read.
    more = long_texts(20, 2)
    longer = [a + b" " + b.encode() for a, b in zip(long, more, strict=True)]
    config = {
        "exports": {
            name: {
                "path": os.fspath(path),
                "warmup": [
                    [t.hex() for t in batch]
                    for batch in serving.read_warmup_requests(path)
                ],
            }
            for name, path in exports.items()
        },
        "requests": [[t.hex() for t in batch] for batch in requests],
        "long": [[t.hex() for t in batch] for batch in (long, longer)],
        "texts": [t.hex() for t in texts],
        "rounds": ROUNDS,
    }
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1]), requests


@pytest.mark.parametrize("name", ["translator", "tagger", "classifier"])
def test_warm_up_signature_runs_the_warmup_records(report, name):
    warm = report[0][name]["warm"]
    assert warm["requests"] == {"translator": 1, "tagger": 2, "classifier": 2}[name]
    np.testing.assert_allclose(warm["checksum"], warm["expected_checksum"], rtol=1e-4)


@pytest.mark.parametrize("name", ["translator", "tagger", "classifier"])
def test_eight_threads_answer_as_one(report, name):
    result = report[0][name]
    assert result["errors"] == []
    assert result["mismatches"] == []
    # Each text in a batch is answered as it is alone (floats to rounding).
    requests = report[1]
    texts = [t if isinstance(t, bytes) else t.encode() for t in GOOD + BAD]
    for batch, outputs in zip(requests, result["sequential"], strict=True):
        for row, text in enumerate(batch):
            if text not in texts:
                continue
            alone = result["alone"][texts.index(text)]
            for key, value in outputs.items():
                if key == "tags":  # padded to the batch's longest sentence
                    width = alone["lengths"][0]
                    assert value[row][:width] == alone[key][0][:width]
                elif isinstance(value[row], str):
                    assert value[row] == alone[key][0]
                else:
                    np.testing.assert_allclose(value[row], alone[key][0], atol=1e-5)


@pytest.mark.parametrize("name", ["translator", "tagger", "classifier"])
def test_memory_does_not_grow_after_warm_up(report, name):
    rss = report[0][name]["rss_mb"]
    assert max(rss[1:]) - rss[1] < RSS_TOLERANCE_MB, rss


def test_eight_texts_of_500_words(report):
    """Answered, cut where the export cuts (the translator and the
    classifier read the same prefix of 500 and of 520 words), and the
    translation no longer than `max_length` pieces."""
    results, _ = report
    long, longer = results["translator"]["long"]
    assert long["source_truncated"] == [True] * 8
    assert long["translations"] == longer["translations"]
    assert all(len(t.split()) <= 12 for t in long["translations"])
    long, longer = results["classifier"]["long"]
    assert long["truncated"] == [True] * 8
    np.testing.assert_allclose(long["probabilities"], longer["probabilities"])
    long, longer = results["tagger"]["long"]
    assert long["lengths"] == [500] * 8 and longer["lengths"] == [520] * 8
    assert all(tag != "" for row in long["tags"] for tag in row)
    # A tag per word (the longer text's first 500 words have other right
    # context, so their tags may differ).
    assert tf.constant(longer["tags"]).shape == (8, 520)
