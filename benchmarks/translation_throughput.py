"""Training throughput of the translation recipe: the new path against the old.

It trains N updates of the recipe's model (by default the README's Multi30k
model: a bidirectional LSTM encoder and an LSTM decoder with Bahdanau
attention and input feeding, 256 units, one shared and tied 8,000-piece
vocabulary, dropout 0.3, label smoothing 0.1, Adam with warm-up and
clipping) through `seq2seq.training.Trainer`, on the recipe's own batches,
on each path asked for (`--paths`), one after the other in one process:

- new: the fused attention decoder, logits only at the target tokens, and
  batches bucketed by exact length and padded to their longest pair, with
  the training step not compiled per shape (`--jit-compile false`, the
  recipe's default);
- bf16: the new path with `--matmul-dtype bfloat16` (every matmul of the
  training pass on bfloat16 operands, the rest in float32);
- old: what the recipe ran before: the generic decoder loop, logits at every
  padded position, batches padded to the bounds 16, 32, 64, 128, and the
  step compiled with XLA.

It prints, for each path, target tokens per second (pieces plus
end-of-sentence, per second of steady-state updates: the median update
time, the first `--warmup` updates left out, since they trace and compile),
the share of padded target positions that hold tokens, the number of
distinct batch shapes, and the update split into the encoder (forward and
backward), the output projection with the loss (forward and backward) and
the rest (the decoder loop and the optimizer), each timed alone on the same
batches. The batches are made once and cached, so the input pipeline is not
in the figures (`benchmarks/data_pipeline.py` measures it).

    python benchmarks/translation_throughput.py \\
        --train-src ../shared/data/multi30k/train.en \\
        --train-tgt ../shared/data/multi30k/train.de \\
        --spm-model runs/multi30k/spm.model --updates 60

With no data flags it uses the built-in date corpus (offline). Pin it to
one core (`taskset -c 0`) to compare with OpenNMT-tf's figure on that core.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from seq2seq import data, training
from seq2seq.models import EncoderDecoder, SequenceModel
from seq2seq.text.sentencepiece_trainer import sentencepiece_tokenizer

OLD_BOUNDARIES = (16, 32, 64, 128)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train-src")
    parser.add_argument("--train-tgt")
    parser.add_argument("--spm-model", help="default: train one on the data")
    parser.add_argument("--updates", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5, help="updates left out")
    parser.add_argument("--tokens-per-batch", type=int, default=4096)
    parser.add_argument("--max-length", type=int, default=127)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--embedding-size", type=int, default=256)
    parser.add_argument("--cell-type", default="lstm")
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument(
        "--paths", default="new,old", help="which paths, in order: new, bf16, old"
    )
    parser.add_argument("--mixed-precision", action="store_true")
    args = parser.parse_args(argv)
    unknown = set(args.paths.split(",")) - {"new", "bf16", "old"}
    if unknown:
        parser.error(f"--paths: unknown path(s) {sorted(unknown)}: use new, bf16, old")
    return args


def pairs_and_tokenizer(args, folder):
    if args.train_src:
        files = (args.train_src, args.train_tgt)
    else:
        files = data.builtin.write_date_corpus(folder, 15000, 10)["train"]
    pairs = data.parallel_text_files(*files)
    tokenizer = sentencepiece_tokenizer(
        args.spm_model,
        (t.decode() for pair in pairs.as_numpy_iterator() for t in pair),
        os.path.join(folder, "spm"),
        8000 if args.train_src else 100,
    )
    return pairs, tokenizer


def cached_batches(pairs, tokenizer, args, new):
    """The first `updates` batches of an epoch, as the recipe makes them."""
    if new:
        boundaries = data.even_boundaries(args.max_length, width=1)
    else:
        boundaries = [b for b in OLD_BOUNDARIES if b <= args.max_length] + [
            args.max_length + 1
        ]
    batches, _ = data.translation.translation_batches(
        pairs,
        tokenizer,
        sorted(set(boundaries)),
        args.tokens_per_batch,
        shuffle_buffer=50_000,
        seed=0,
        pad_to_boundary=not new,
    )
    return batches.take(args.updates).cache()


def batch_statistics(batches):
    tokens, positions, shapes = [], [], set()
    for (source, target_in), target_out in batches:
        tokens.append(int(tf.math.count_nonzero(target_out)))
        positions.append(int(tf.size(target_out)))
        shapes.add((*source.shape, target_in.shape[1]))
    return tokens, positions, shapes


def build_model(args, vocabulary_size, sample, matmul_dtype=None):
    keras.utils.set_random_seed(0)
    model = EncoderDecoder(
        vocabulary_size,
        vocabulary_size,
        embedding_size=args.embedding_size,
        units=args.units,
        cell_type=args.cell_type,
        dropout=args.dropout,
        share_embeddings=True,
        tie_embeddings=args.embedding_size == args.units,
        label_smoothing=0.1,
        matmul_dtype=matmul_dtype,
    )
    model(sample)
    return model


class UpdateTimes(keras.callbacks.Callback):
    """The wall time of every update, as the Trainer's loop sees it."""

    def __init__(self):
        super().__init__()
        self.times = []
        self._last = None

    def on_epoch_begin(self, epoch, logs=None):
        self._last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.times.append(now - self._last)
        self._last = now


def median_seconds(function, batches, warmup):
    times = []
    for index, batch in enumerate(batches):
        start = time.perf_counter()
        function(batch)
        if index >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def component_times(model, batches, jit_compile, warmup):
    """Encoder and projection-with-loss, forward and backward, timed alone."""
    encoder_variables = [
        *model.source_embedding.trainable_variables,
        *model.encoder.trainable_variables,
    ]

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def encoder_step(source):
        with tf.GradientTape() as tape:
            memory, _, states = model.encode(source, training=True)
            loss = tf.reduce_sum(memory) + tf.add_n([tf.reduce_sum(s) for s in states])
        return tape.gradient(loss, encoder_variables)

    projection_variables = model.target_embedding.trainable_variables + [
        model.output_bias
        if model.output_projection is None
        else model.output_projection.kernel
    ]

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def projection_step(outputs, target_out):
        with tf.GradientTape() as tape:
            if jit_compile:  # the old path: logits everywhere
                logits = model.logits(outputs)
                loss = model.compute_loss(y=target_out, y_pred=logits)
            else:
                valid = tf.not_equal(target_out, 0)
                loss = tf.reduce_mean(
                    model.token_losses(
                        tf.boolean_mask(outputs, valid),
                        tf.boolean_mask(target_out, valid),
                        training=True,
                    )
                )
        return tape.gradient(loss, projection_variables)

    encoder = median_seconds(lambda b: encoder_step(b[0][0]), batches, warmup)
    rng = np.random.default_rng(0)

    def projection(batch):
        (_, target_in), target_out = batch
        shape = (*target_in.shape, model.units)
        outputs = tf.constant(rng.normal(size=shape).astype("float32"))
        return projection_step(outputs, target_out)

    return encoder, median_seconds(projection, batches, warmup)


def run_path(name, args, vocabulary_size, batches, folder):
    """Trains `batches` (cached, with their statistics) on the `name` path."""
    new = name != "old"
    batches, (tokens, positions, shapes) = batches
    matmul_dtype = "bfloat16" if name == "bf16" else None
    model = build_model(args, vocabulary_size, next(iter(batches))[0], matmul_dtype)
    model.decoder.fused = new
    if not new:
        # The base class's: logits at every position, then the loss.
        model.batch_task_loss = functools.partial(SequenceModel.batch_task_loss, model)
    config = training.TrainingConfig(
        epochs=1,
        output_dir=os.path.join(folder, name),
        jit_compile=not new,
        checkpoint_every=0,
        mixed_precision=args.mixed_precision,
    )
    optimizer = keras.optimizers.Adam(training.WarmupInverseSqrt(2e-3, 400))
    trainer = training.Trainer(model, optimizer, config, tf.distribute.get_strategy())
    times = UpdateTimes()
    trainer.fit(batches, callbacks=[times])
    steady = times.times[args.warmup :]
    update = statistics.median(steady)
    per_token = sum(tokens[args.warmup :]) / sum(steady)
    encoder, projection = component_times(model, batches, not new, args.warmup)
    return {
        "path": name,
        "tokens_per_second": per_token,
        "real_share": sum(tokens) / sum(positions),
        "shapes": len(shapes),
        "update": update,
        "first_updates": sum(times.times[: args.warmup]),
        "encoder": encoder,
        "projection": projection,
        "updates": len(times.times),
        "tokens_per_update": statistics.mean(tokens),
    }


def main(argv=None):
    args = parse_args(argv)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        f"visible, {len(os.sched_getaffinity(0))} usable; TensorFlow "
        f"{tf.__version__}, Keras {keras.__version__}"
    )
    names = args.paths.split(",")
    policy = training.distribute.precision_policy(args.mixed_precision)
    keras.mixed_precision.set_dtype_policy(policy)  # before any model is built
    with tempfile.TemporaryDirectory() as folder:
        pairs, tokenizer = pairs_and_tokenizer(args, folder)
        # Every path's batches are made (and cached) before any training.
        batches = {}
        for name in names:
            cached = cached_batches(pairs, tokenizer, args, name != "old")
            batches[name] = (cached, batch_statistics(cached))
        size = tokenizer.vocabulary_size()
        results = [run_path(n, args, size, batches[n], folder) for n in names]
    print(
        "\n| path | target tokens/s | real target share | batch shapes | "
        "update (median) | first updates | encoder | projection+loss | rest |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        rest = r["update"] - r["encoder"] - r["projection"]
        print(
            f"| {r['path']} | {r['tokens_per_second']:,.0f} | "
            f"{100 * r['real_share']:.1f}% | {r['shapes']} | "
            f"{1000 * r['update']:.0f} ms | {r['first_updates']:.1f} s | "
            f"{1000 * r['encoder']:.0f} ms | {1000 * r['projection']:.0f} ms | "
            f"{1000 * rest:.0f} ms |"
        )
    if len(results) == 2:
        ratio = results[0]["tokens_per_second"] / results[1]["tokens_per_second"]
        print(f"\n{results[0]['path']}/{results[1]['path']}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
