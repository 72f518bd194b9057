"""Examples per second of the translation input pipeline, against the model.

The pipeline: read the parallel files, tokenize both sides in the graph with
a SentencePiece model, filter by length (counted), bucket by length into a
few padded shapes by tokens per batch, prefetch. It must feed examples faster
than a training step consumes them, so the same run times one training step
of a small recurrent encoder-decoder (a bidirectional LSTM encoder and an LSTM
decoder, 256 units, from `seq2seq.layers`) on the pipeline's own batches.

    python benchmarks/data_pipeline.py                       # ../shared/data/multi30k
    python benchmarks/data_pipeline.py --source A --target B --spm MODEL

Without the Multi30k files it falls back to a generated corpus.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import sentencepiece  # noqa: E402
import tensorflow as tf  # noqa: E402

from seq2seq import layers  # noqa: E402
from seq2seq.data import LengthFilter, bucket_by_length, parallel_text_files  # noqa: E402
from seq2seq.text import SentencePieceTokenizer  # noqa: E402

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


def pipeline(source, target, tokenizer, tokens_per_batch):
    keep = LengthFilter(max_length=BOUNDARIES[-1] - 1, name="pairs")
    dataset = (
        parallel_text_files(source, target, empty_lines="drop")
        .map(
            lambda s, t: (tokenizer(s), tokenizer(t)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .apply(keep)
        .apply(bucket_by_length(BOUNDARIES, tokens_per_batch=tokens_per_batch))
        .prefetch(tf.data.AUTOTUNE)
    )
    return dataset, keep


def model_step(vocabulary_size):
    embed = keras.layers.Embedding(vocabulary_size, 256, mask_zero=True)
    encoder = layers.Bidirectional(
        layers.LSTM(128, return_state=True), merge_mode="concat"
    )
    decoder = layers.LSTM(256, return_sequences=True)
    project = keras.layers.Dense(vocabulary_size)
    optimizer = keras.optimizers.Adam()

    @tf.function(jit_compile=True, reduce_retracing=True)
    def step(source, target):
        with tf.GradientTape() as tape:
            _, h_f, c_f, h_b, c_b = encoder(
                embed(source), mask=source != 0, training=True
            )
            state = [tf.concat([h_f, h_b], -1), tf.concat([c_f, c_b], -1)]
            outputs = decoder(
                embed(target[:, :-1]),
                initial_state=state,
                mask=target[:, :-1] != 0,
                training=True,
            )
            losses = keras.losses.sparse_categorical_crossentropy(
                target[:, 1:], project(outputs), from_logits=True
            )
            weights = tf.cast(target[:, 1:] != 0, losses.dtype)
            loss = tf.reduce_sum(losses * weights) / tf.reduce_sum(weights)
        variables = [
            *embed.trainable_weights,
            *encoder.trainable_weights,
            *decoder.trainable_weights,
            *project.trainable_weights,
        ]
        optimizer.apply_gradients(
            zip(tape.gradient(loss, variables), variables, strict=True)
        )
        return loss

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source")
    parser.add_argument("--target")
    parser.add_argument(
        "--spm", help="a SentencePiece model (default: train one, 8000 pieces)"
    )
    parser.add_argument("--tokens-per-batch", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--model-batches", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        source, target, name = corpus(args, folder)
        model = args.spm
        if model is None:
            model = f"{folder}/joint"
            sentencepiece.SentencePieceTrainer.train(
                input=f"{source},{target}",
                model_prefix=model,
                vocab_size=8000,
                pad_id=0,
                unk_id=1,
                bos_id=2,
                eos_id=3,
                hard_vocab_limit=False,
                minloglevel=2,
            )
            model += ".model"
        tokenizer = SentencePieceTokenizer(model, add_bos=True, add_eos=True)
        dataset, keep = pipeline(source, target, tokenizer, args.tokens_per_batch)
        print(
            f"# {name}; tokens per batch {args.tokens_per_batch}; buckets {BOUNDARIES}"
        )
        rates = []
        for epoch in range(args.epochs):
            start, examples = time.perf_counter(), 0
            for source_ids, _ in dataset:
                examples += int(source_ids.shape[0])
            rates.append(examples / (time.perf_counter() - start))
            print(f"pipeline epoch {epoch + 1}: {examples} examples, ", end="")
            print(f"{rates[-1]:.0f} examples/s")
        print(f"length filter, summed over {args.epochs} epochs: {keep.report()}")

        step = model_step(tokenizer.vocabulary_size())
        batches = list(dataset.take(args.model_batches))
        for source_ids, target_ids in batches[:8]:  # compile every shape first
            step(source_ids, target_ids)
        start, examples = time.perf_counter(), 0
        for source_ids, target_ids in batches:
            step(source_ids, target_ids).numpy()
            examples += int(source_ids.shape[0])
        model_rate = examples / (time.perf_counter() - start)
        pipe = statistics.median(rates)
        print(f"model training step: {model_rate:.0f} examples/s")
        verdict = "keeps up" if pipe > model_rate else "IS THE BOTTLENECK"
        print(f"pipeline / model: {pipe / model_rate:.1f}x (the pipeline {verdict})")


if __name__ == "__main__":
    main()
