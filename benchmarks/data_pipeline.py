"""Examples per second of the translation input pipeline, against the model.

The pipeline is the translate recipe's (`seq2seq.data.translation`): read
the parallel files, tokenize both sides in the graph with a SentencePiece
model, filter by length (counted), bucket by length into a few padded shapes
by tokens per batch, prefetch. It must feed examples faster than training
consumes them, so the same run times training steps of an `EncoderDecoder`
(bidirectional LSTM encoder, attentional LSTM decoder, 256 units) on the
pipeline's own batches.

    python benchmarks/data_pipeline.py                       # ../shared/data/multi30k
    python benchmarks/data_pipeline.py --source A --target B --spm MODEL

Without the Multi30k files it falls back to a generated corpus.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

from seq2seq.data import parallel_text_files, read_lines
from seq2seq.data.translation import translation_batches
from seq2seq.models import EncoderDecoder
from seq2seq.text import SentencePieceTokenizer, train_sentencepiece

MULTI30K = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "multi30k"
)
BOUNDARIES = [16, 32, 64, 128]


def corpus(args, folder):
    source = args.source or os.path.join(MULTI30K, "train.en")
    target = args.target or os.path.join(MULTI30K, "train.de")
    if os.path.isfile(source) and os.path.isfile(target):
        return source, target, "multi30k train"
    words = "a man woman dog plays runs in the park with red ball".split()  # noqa: SIM905
    lines = [
        " ".join(words[(i * 7 + j) % len(words)] for j in range(5 + i % 20))
        for i in range(29000)
    ]
    for path in (f"{folder}/gen.src", f"{folder}/gen.tgt"):
        with open(path, "w") as file:
            file.write("\n".join(lines) + "\n")
    return f"{folder}/gen.src", f"{folder}/gen.tgt", "generated corpus"


def model_step(vocabulary_size, cell_type):
    """One training step of an EncoderDecoder (what the pipeline feeds)."""
    model = EncoderDecoder(
        vocabulary_size,
        vocabulary_size,
        embedding_size=256,
        units=256,
        cell_type=cell_type,
        share_embeddings=True,
        tie_embeddings=True,
    )
    model.compile(optimizer=keras.optimizers.Adam(), jit_compile=True)
    return model.train_on_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source")
    parser.add_argument("--target")
    parser.add_argument("--spm", help="a SentencePiece model (default: train one)")
    parser.add_argument("--tokens-per-batch", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--model-batches", type=int, default=20)
    parser.add_argument("--cell-type", default="lstm")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        source, target, name = corpus(args, folder)
        model = args.spm
        if model is None:
            lines = read_lines(source) + read_lines(target)
            train_sentencepiece(lines, f"{folder}/joint", 8000, "unigram", 1.0)
            model = f"{folder}/joint.model"
        tokenizer = SentencePieceTokenizer(model)
        pairs = parallel_text_files(source, target, empty_lines="drop")
        dataset, keep = translation_batches(
            pairs, tokenizer, BOUNDARIES, args.tokens_per_batch
        )
        print(
            f"# {name}; tokens per batch {args.tokens_per_batch}; buckets {BOUNDARIES}"
        )
        rates = []
        for epoch in range(args.epochs):
            start, examples = time.perf_counter(), 0
            for (source_ids, _), _ in dataset:
                examples += int(source_ids.shape[0])
            rates.append(examples / (time.perf_counter() - start))
            print(f"pipeline epoch {epoch + 1}: {examples} examples, ", end="")
            print(f"{rates[-1]:.0f} examples/s")
        print(f"length filter, summed over {args.epochs} epochs: {keep.report()}")

        step = model_step(tokenizer.vocabulary_size(), args.cell_type)
        batches = list(dataset.take(args.model_batches))
        for inputs, targets in batches[:8]:  # compile every shape first
            step(inputs, targets)
        start, examples = time.perf_counter(), 0
        for inputs, targets in batches:
            step(inputs, targets)
            examples += int(inputs[0].shape[0])
        model_rate = examples / (time.perf_counter() - start)
        pipe = statistics.median(rates)
        print(f"model training step: {model_rate:.0f} examples/s")
        verdict = "keeps up" if pipe > model_rate else "IS THE BOTTLENECK"
        print(f"pipeline / model: {pipe / model_rate:.1f}x (the pipeline {verdict})")


if __name__ == "__main__":
    main()
