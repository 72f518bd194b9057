"""Serving latency, throughput and memory of the three exports.

It writes a translator, a tagger and a classifier export of the sizes the
README trains (untrained weights: latency does not depend on them), then
loads each in a fresh process that imports only `tensorflow` and
`tensorflow_text` and measures, after the export's warm-up:

- latency p50, p99 and max of batches of 1 and of 8 texts, each text of a
  random number of words (`--min-words` to `--max-words`), one request at a
  time, then the same requests from 8 concurrent threads, with requests per
  second;
- `--requests` requests of random shapes (1 to 8 texts, 1 to
  `--max-words-random` words each): for each batch size, the median and the
  slowest request (the slowest must stay within 5x the median);
- resident memory (VmRSS) after the warm-up and after those requests.

The models:

- translator: the README's Multi30k model (a bidirectional LSTM encoder and
  an LSTM decoder with Bahdanau attention and input feeding, 256 units, one
  shared and tied 8,000-piece vocabulary), beam 5, `max_length` 127,
  exported twice: the beam search compiled with XLA at bounded shapes (the
  default) and not compiled (`--translator-modes`);
- tagger: the NER recipe's defaults (word embeddings 100, character BiLSTM
  25, BiLSTM 200, CRF over 17 IOBES tags, 20,000 words);
- classifier: the README's SST-2 model (BiLSTM 256, embeddings 128, max
  pooling, 8,000 pieces, 128 pieces read).

The SentencePiece model is trained on a generated text of made-up words
(or on `--corpus`, one sentence a line), so the benchmark runs offline. An
untrained translator never chooses end-of-sentence, so every beam runs to
its cap (2 x source pieces + 1): the slowest a real model could be.

    taskset -c 1 python benchmarks/serving.py             # the README's figures
    taskset -c 1 python benchmarks/serving.py --requests 300 --latency-requests 40
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time

import keras
import numpy as np
import tensorflow as tf

from seq2seq import serving
from seq2seq.models import EncoderDecoder, SequenceTagger, TextClassifier
from seq2seq.tagging_schemes import iob2_names, transition_constraints
from seq2seq.text import (
    CharacterVocabulary,
    SentencePieceTokenizer,
    WordFeatures,
    WordVocabulary,
    train_sentencepiece,
)

# What runs in each fresh process: tensorflow and tensorflow_text only.
CHILD = textwrap.dedent(
    """
    import json, os, random, sys, threading, time
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the SentencePiece ops)

    config = json.loads(sys.stdin.read())
    rng = random.Random(config["seed"])
    words = config["words"]

    def rss_mb():
        with open("/proc/self/status") as status:
            line = next(l for l in status if l.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    def texts(size, low, high):
        return [
            " ".join(rng.choice(words) for _ in range(rng.randint(low, high)))
            for _ in range(size)
        ]

    start = time.perf_counter()
    loaded = tf.saved_model.load(config["path"])
    serve = loaded.signatures["serving_default"]
    report = {"load_s": time.perf_counter() - start}
    start = time.perf_counter()
    report["warmup_requests"] = int(loaded.warm_up()["requests"])
    serve(text=tf.constant([""]))
    report["warmup_s"] = time.perf_counter() - start
    report["rss_after_warmup_mb"] = rss_mb()

    def timed(batch):
        start = time.perf_counter()
        serve(text=tf.constant(batch))
        return time.perf_counter() - start

    low, high = config["min_words"], config["max_words"]
    report["first_ms"] = 1000 * timed(texts(1, low, high))
    runs = {}
    for size in (1, 8):
        requests = [texts(size, low, high) for _ in range(config["latency_requests"])]
        start = time.perf_counter()
        seconds = [timed(batch) for batch in requests]
        runs[f"batch {size}"] = (seconds, time.perf_counter() - start)
        seconds = []

        def worker(share):
            for batch in share:
                seconds.append(timed(batch))  # list.append is thread-safe

        threads = [
            threading.Thread(target=worker, args=(requests[i::8],)) for i in range(8)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        runs[f"batch {size}, 8 threads"] = (seconds, time.perf_counter() - start)
    report["runs"] = runs

    by_size = {}
    report["rss_every_1000_mb"] = []
    for i in range(config["requests"]):
        batch = texts(rng.randint(1, 8), 1, config["max_words_random"])
        by_size.setdefault(len(batch), []).append(timed(batch))
        if (i + 1) % 1000 == 0:
            report["rss_every_1000_mb"].append(rss_mb())
            message = f"{i + 1} requests, RSS {rss_mb():.1f} MB"
            print(message, file=sys.stderr, flush=True)
    report["random"] = by_size
    report["rss_after_random_mb"] = rss_mb()
    loaded_modules = sorted({m.split(".")[0] for m in sys.modules})
    report["seq2seq_loaded"] = "seq2seq" in loaded_modules
    print(json.dumps(report))
    """
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--latency-requests", type=int, default=200)
    parser.add_argument("--min-words", type=int, default=3)
    parser.add_argument("--max-words", type=int, default=25)
    parser.add_argument("--max-words-random", type=int, default=40)
    parser.add_argument("--exports", default="translator,tagger,classifier")
    parser.add_argument(
        "--translator-modes", default="xla,graph", help="xla (bounded shapes), graph"
    )
    parser.add_argument("--corpus", help="sentences for SentencePiece (one a line)")
    parser.add_argument("--output-dir", help="keep the exports here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--translator-export",
        help="measure this translator export (e.g. a trained one) instead of "
        "building an untrained one",
    )
    parser.add_argument(
        "--words-from", help="take the requests' words from this text file"
    )
    return parser.parse_args(argv)


def made_up_words(count, rng):
    """`count` distinct made-up words of 1 to 4 syllables."""
    syllables = [c + v for c in "bdfgklmnprstvwz" for v in "aeiou"] + ["an", "er"]
    words = set()
    while len(words) < count:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def corpus_lines(args, words, rng):
    if args.corpus:
        with open(args.corpus, encoding="utf-8") as file:
            return [line.strip() for line in file if line.strip()]
    # Zipf-like: a few words are common, most are rare, as in text.
    weights = 1.0 / np.arange(1, len(words) + 1)
    chosen = rng.choice(len(words), size=(30_000, 12), p=weights / weights.sum())
    return [" ".join(words[i] for i in row) for row in chosen]


def build_exports(args, folder, words, rng):
    """The exports to measure: `{name: path}`."""
    names = args.exports.split(",")
    exports = {}
    tokenizer = None
    if {"translator", "classifier"} & set(names):
        train_sentencepiece(
            corpus_lines(args, words, rng), f"{folder}/spm", 8000, "unigram", 1.0
        )
        tokenizer = SentencePieceTokenizer(f"{folder}/spm.model")
        print(f"SentencePiece: {tokenizer.vocabulary_size()} pieces", flush=True)
    if "translator" in names and args.translator_export:
        exports["translator (given)"] = args.translator_export
    elif "translator" in names:
        size = tokenizer.vocabulary_size()
        model = EncoderDecoder(
            size,
            size,
            embedding_size=256,
            units=256,
            cell_type="lstm",
            share_embeddings=True,
            tie_embeddings=True,
        )
        for mode in args.translator_modes.split(","):
            start = time.perf_counter()
            exports[f"translator ({mode})"] = serving.export_translator(
                model,
                tokenizer,
                f"{folder}/translator-{mode}",
                beam_size=5,
                max_length=127,
                jit_compile=mode == "xla",
            )
            print(f"exported translator ({mode}): {time.perf_counter() - start:.0f} s")
    if "tagger" in names:
        sentences = [rng.choice(words, size=12).tolist() for _ in range(2000)]
        features = WordFeatures(
            WordVocabulary.from_sentences(sentences, lowercase=True),
            CharacterVocabulary.from_sentences(sentences),
            max_word_length=24,
        )
        tags = ["O"] + [
            f"{p}-{t}" for t in ("PER", "LOC", "ORG", "MISC") for p in "BIES"
        ]
        allowed, start, end = transition_constraints(tags, "iobes")
        model = SequenceTagger(
            features.word_vocabulary.vocabulary_size(),
            features.character_vocabulary.vocabulary_size(),
            len(tags),
            word_embedding_size=100,
            character_embedding_size=25,
            character_units=25,
            units=200,
            allowed_transitions=allowed,
            allowed_start=start,
            allowed_end=end,
        )
        path = f"{folder}/tagger"
        exports["tagger"] = serving.export_tagger(
            model, features, iob2_names(tags, "iobes"), path
        )
    if "classifier" in names:
        model = TextClassifier(
            tokenizer.vocabulary_size(),
            num_classes=2,
            embedding_size=128,
            units=256,
            pooling="max",
        )
        exports["classifier"] = serving.export_classifier(
            model, tokenizer, f"{folder}/classifier", ["0", "1"], max_length=128
        )
    return exports


def measure(path, args, words):
    config = {
        "path": os.fspath(path),
        "words": words,
        "seed": args.seed,
        "requests": args.requests,
        "latency_requests": args.latency_requests,
        "min_words": args.min_words,
        "max_words": args.max_words,
        "max_words_random": args.max_words_random,
    }
    # The child's stderr passes through, so its progress shows while it runs.
    completed = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps(config),
        stdout=subprocess.PIPE,
        text=True,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ},
    )
    if completed.returncode:
        raise RuntimeError(f"the serving process exited with {completed.returncode}")
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert not report["seq2seq_loaded"]
    return report


def milliseconds(seconds):
    values = 1000 * np.asarray(seconds)
    return np.percentile(values, 50), np.percentile(values, 99), values.max()


def print_tables(reports):
    print("\n| export | requests | p50 ms | p99 ms | max ms | requests/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name, report in reports.items():
        for run, (seconds, wall) in report["runs"].items():
            p50, p99, slowest = milliseconds(seconds)
            rate = len(seconds) / wall
            print(
                f"| {name} | {run} | {p50:.1f} | {p99:.1f} | {slowest:.1f} "
                f"| {rate:.1f} |"
            )
    print(
        "\n| export | warm-up (requests, s) | first request ms "
        "| random shapes: worst max/median (batch) | RSS after warm-up MB "
        "| RSS after random MB | change |"
    )
    print("| --- | --- | ---: | --- | ---: | ---: | ---: |")
    for name, report in reports.items():
        ratios = {
            int(size): max(seconds) / np.median(seconds)
            for size, seconds in report["random"].items()
        }
        worst = max(ratios, key=ratios.get)
        count = sum(len(s) for s in report["random"].values())
        before, after = report["rss_after_warmup_mb"], report["rss_after_random_mb"]
        print(
            f"| {name} | {report['warmup_requests']}, {report['warmup_s']:.1f} "
            f"| {report['first_ms']:.1f} "
            f"| {ratios[worst]:.2f} (batch {worst}) of {count} "
            f"| {before:.0f} | {after:.0f} | {100 * (after - before) / before:+.1f}% |"
        )
    for name, report in reports.items():
        trace = ", ".join(f"{mb:.0f}" for mb in report["rss_every_1000_mb"])
        print(f"\n{name}: RSS every 1,000 random requests (MB): {trace}")


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    keras.utils.set_random_seed(args.seed)
    words = made_up_words(20_000, random.Random(args.seed))
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.output_dir or scratch
        os.makedirs(folder, exist_ok=True)
        exports = build_exports(args, folder, words, rng)
        request_words = words[:5000]
        if args.words_from:
            with open(args.words_from, encoding="utf-8") as file:
                request_words = sorted({w for line in file for w in line.split()})
        print(f"load average before: {os.getloadavg()}", flush=True)
        reports = {}
        for name, path in exports.items():
            start = time.perf_counter()
            reports[name] = measure(path, args, request_words)
            print(f"measured {name}: {time.perf_counter() - start:.0f} s", flush=True)
        print(f"load average after: {os.getloadavg()}")
    print_tables(reports)
    if args.output_dir:
        with open(os.path.join(args.output_dir, "report.json"), "w") as file:
            json.dump(reports, file)


if __name__ == "__main__":
    tf.get_logger().setLevel("ERROR")
    main()
