"""Train an attentional recurrent translation model, evaluate it, export it.

With no data flags it learns the built-in corpus, dates as people write them
translated to ISO 8601, offline, in about 4 minutes on 2 cores (the defaults
are sized for it):

    python recipes/translate.py

English to German on Multi30k (validation BLEU 35.63 with beam 5 after
28 epochs, about 4 hours on 2 cores; see the README):

    python recipes/translate.py \\
        --train-src ../shared/data/multi30k/train.en \\
        --train-tgt ../shared/data/multi30k/train.de \\
        --valid-src ../shared/data/multi30k/val.en \\
        --valid-tgt ../shared/data/multi30k/val.de \\
        --vocab-size 8000 --cell-type lstm --units 256 --embedding-size 256 \\
        --dropout 0.3 --epochs 28 --learning-rate 2e-3 --warmup-steps 400 \\
        --tokens-per-batch 4096 --beam-size 5 --output-dir runs/multi30k

or a Hugging Face dataset (`--dataset bentrevett/multi30k --source-column en
--target-column de`), or a YAML file of these options (`--config run.yaml`).
Steps: data -> SentencePiece (trained unless `--spm-model`) -> bucketed
`tf.data` batches -> `EncoderDecoder` -> fit (Adam, warm-up then inverse
square-root decay, global-norm clipping, checkpoints, early stopping,
TensorBoard, progress bar) -> BLEU and chrF on the test set (sacrebleu) ->
a string-in, string-out SavedModel -> a few example translations through it.

Training is `seq2seq.training.Trainer`, shared by every recipe: `--strategy
mirrored` (with `--num-cpu-devices 2` on a CPU) or `multi-worker`,
`--mixed-precision true`, `--accumulate-steps K`, `--clip-norm`, and
`--resume true` to continue after a crash or `kill -9` from the last state
in OUTPUT_DIR/state (written every `--checkpoint-every` updates).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from seq2seq import data, serving  # noqa: E402
from seq2seq.evaluation import translation_scores  # noqa: E402
from seq2seq.models import EncoderDecoder  # noqa: E402
from seq2seq.text import SentencePieceTokenizer, train_sentencepiece  # noqa: E402
from seq2seq.training import (  # noqa: E402
    Trainer,
    TrainingConfig,
    option,
    parse_config,
    setup,
)


@dataclasses.dataclass
class Config(TrainingConfig):
    train_src: str | None = option(None, "training source file (one sentence a line)")
    train_tgt: str | None = option(None, "training target file, line-aligned")
    valid_src: str | None = option(None, "validation source file")
    valid_tgt: str | None = option(None, "validation target file")
    test_src: str | None = option(
        None, "test source file (default: the validation set)"
    )
    test_tgt: str | None = option(None, "test target file")
    dataset: str | None = option(
        None, "Hugging Face dataset name, e.g. bentrevett/multi30k"
    )
    dataset_config: str | None = option(None, "the dataset's configuration, if any")
    source_column: str = option("en", "dataset column of the source (a.b for nested)")
    target_column: str = option("de", "dataset column of the target")
    synthetic_examples: int = option(
        15000, "size of the built-in date corpus's train split"
    )
    synthetic_eval_examples: int = option(
        1000, "size of its validation and test splits"
    )
    spm_model: str | None = option(None, "a SentencePiece model (default: train one)")
    vocab_size: int | None = option(
        None, "pieces of the trained SentencePiece model (8000; 100 for the dates)"
    )
    embedding_size: int = option(128, "token embedding size")
    units: int = option(128, "units per RNN layer (per direction in the encoder)")
    encoder_layers: int = option(1, "encoder depth")
    decoder_layers: int = option(1, "decoder depth")
    cell_type: str = option("gru", "lstm, gru or simple_rnn")
    attention: str = option("bahdanau", "bahdanau, luong_dot or luong_general")
    dropout: float = option(0.2, "dropout rate")
    label_smoothing: float = option(0.1, "label smoothing of the loss")
    max_length: int = option(
        127, "longest pair kept, in pieces (longer ones are counted)"
    )
    tokens_per_batch: int = option(2048, "padded tokens per batch")
    bucket_width: int = option(
        1, "bucket pairs by length in steps of this many pieces (1: tightest)"
    )
    jit_compile: bool = option(
        False,
        "compile the training step with XLA (one program per batch shape: "
        "batches are then padded to their bucket's bound)",
    )
    epochs: int = option(5, "training epochs (early stopping may end sooner)")
    learning_rate: float = option(5e-3, "peak learning rate")
    warmup_steps: int = option(100, "linear warm-up steps before inverse-sqrt decay")
    clip_norm: float = option(1.0, "global gradient-norm clipping")
    patience: int = option(3, "epochs without validation improvement before stopping")
    beam_size: int = option(
        4, "beam size for test decoding and the export (1 = greedy)"
    )
    length_penalty: float = option(0.6, "GNMT length-penalty alpha")
    seed: int = option(0, "seed of initialisation, shuffling and the built-in corpus")
    output_dir: str = option(
        "runs/translate", "checkpoints, logs, tokenizer, hypotheses"
    )
    export_dir: str | None = option(
        None, "SavedModel directory (default OUTPUT_DIR/export)"
    )
    examples: str = option("", "sentences to translate with the export, separated by |")


class WarmupInverseSqrt(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak`, then decay as 1/sqrt(step) (Vaswani et al.)."""

    def __init__(self, peak, warmup_steps):
        self.peak, self.warmup_steps = peak, max(int(warmup_steps), 1)

    def __call__(self, step):
        step = tf.cast(step, tf.float32) + 1.0
        warmup = tf.cast(self.warmup_steps, tf.float32)
        return self.peak * tf.minimum(step / warmup, tf.sqrt(warmup / step))

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps}


def load_splits(config):
    """(train, valid, test) datasets of (source, target) strings."""
    if config.train_src:
        train = data.parallel_text_files(config.train_src, config.train_tgt)
        valid = data.parallel_text_files(config.valid_src, config.valid_tgt)
        test = (
            data.parallel_text_files(config.test_src, config.test_tgt)
            if config.test_src
            else valid
        )
        return train, valid, test
    if config.dataset:

        def split(name):
            return data.parallel_text_from_hf(
                config.dataset,
                config.source_column,
                config.target_column,
                config=config.dataset_config,
                split=name,
            )

        return split("train"), split("validation"), split("test")
    # The built-in corpus, written out so that its files can be inspected.
    folder = os.path.join(config.output_dir, "data")
    os.makedirs(folder, exist_ok=True)
    sizes = {
        "train": config.synthetic_examples,
        "valid": config.synthetic_eval_examples,
        "test": config.synthetic_eval_examples,
    }
    splits = []
    for offset, (name, size) in enumerate(sizes.items()):
        pairs = data.synthetic.date_pairs(size, seed=config.seed * 10 + offset)
        for side, column in (("src", 0), ("tgt", 1)):
            with open(f"{folder}/{name}.{side}", "w", encoding="utf-8") as file:
                file.write("\n".join(pair[column] for pair in pairs) + "\n")
        splits.append(
            data.parallel_text_files(f"{folder}/{name}.src", f"{folder}/{name}.tgt")
        )
    return tuple(splits)


def tokenizer_for(config, train):
    if config.spm_model:
        return SentencePieceTokenizer(config.spm_model)
    lines = [text.decode() for pair in train.as_numpy_iterator() for text in pair]
    prefix = os.path.join(config.output_dir, "spm")
    builtin = not (config.train_src or config.dataset)
    size = config.vocab_size or (100 if builtin else 8000)
    train_sentencepiece(lines, prefix, size, "unigram", 1.0)
    return SentencePieceTokenizer(prefix + ".model")


def translate_all(model, tokenizer, pairs, config, batch_size=128):
    """Hypotheses and references for every pair (beam search under XLA)."""

    def translate_batch(ids):
        return model.translate(
            ids,
            tokenizer.bos_id,
            tokenizer.eos_id,
            max_length=config.max_length,
            beam_size=config.beam_size,
            length_penalty_alpha=config.length_penalty,
            max_length_ratio=2.0,
        )

    decode = tf.function(translate_batch, jit_compile=True, reduce_retracing=True)
    hypotheses, references = [], []
    for sources, targets in pairs.batch(batch_size):
        ids, _ = serving.source_ids(tokenizer, sources, config.max_length)
        decoded, lengths, _ = decode(ids)
        tokens = serving.strip_to_ragged(decoded, lengths, tokenizer.eos_id)
        hypotheses += [t.decode() for t in tokenizer.detokenize(tokens).numpy()]
        references += [t.decode() for t in targets.numpy()]
    return hypotheses, references


def main(argv=None):
    config = parse_config(Config, argv, description=__doc__)
    strategy = setup(config)  # devices, distribution, precision, seeds
    os.makedirs(config.output_dir, exist_ok=True)

    train_pairs, valid_pairs, test_pairs = load_splits(config)
    tokenizer = tokenizer_for(config, train_pairs)
    boundaries = data.translation.length_boundaries(
        config.max_length, config.bucket_width
    )
    train, train_filter = data.translation.translation_batches(
        train_pairs,
        tokenizer,
        boundaries,
        config.tokens_per_batch,
        shuffle_buffer=50_000,
        seed=config.seed,
        name="train pairs",
        pad_to_boundary=config.jit_compile,
    )
    valid, valid_filter = data.translation.translation_batches(
        valid_pairs,
        tokenizer,
        boundaries,
        config.tokens_per_batch,
        name="valid pairs",
        pad_to_boundary=config.jit_compile,
    )

    with strategy.scope():
        model = EncoderDecoder(
            tokenizer.vocabulary_size(),
            tokenizer.vocabulary_size(),
            embedding_size=config.embedding_size,
            units=config.units,
            encoder_layers=config.encoder_layers,
            decoder_layers=config.decoder_layers,
            cell_type=config.cell_type,
            attention=config.attention,
            dropout=config.dropout,
            share_embeddings=True,
            tie_embeddings=config.embedding_size == config.units,
            label_smoothing=config.label_smoothing,
        )
        model(next(iter(train))[0])  # build the weights (resuming restores them)
        optimizer = keras.optimizers.Adam(
            WarmupInverseSqrt(config.learning_rate, config.warmup_steps)
        )
    trainer = Trainer(model, optimizer, config, strategy)

    start = time.perf_counter()
    trainer.fit(train, valid)
    train_seconds = time.perf_counter() - start
    print(train_filter.report())
    print(valid_filter.report())
    if not trainer.chief:  # other workers of a cluster leave the rest to it
        return None
    model = trainer.local_model()  # evaluation and export outside the strategy

    hypotheses, references = translate_all(model, tokenizer, test_pairs, config)
    scores = translation_scores(hypotheses, references)
    scores["train_seconds"] = round(train_seconds, 1)
    with open(os.path.join(config.output_dir, "test.hyp"), "w", encoding="utf-8") as f:
        f.write("\n".join(hypotheses) + "\n")
    with open(os.path.join(config.output_dir, "scores.json"), "w") as f:
        json.dump(scores, f, indent=2)
    print(f"test BLEU {scores['bleu']:.2f}  ({scores['bleu_signature']})")
    print(f"test chrF {scores['chrf']:.2f}  ({scores['chrf_signature']})")
    print(f"test exact match {scores['exact_match']:.3f}")
    print(f"training took {train_seconds:.0f} s")

    export_dir = config.export_dir or os.path.join(config.output_dir, "export")
    serving.export_translator(
        model,
        tokenizer,
        export_dir,
        beam_size=config.beam_size,
        length_penalty_alpha=config.length_penalty,
        max_length=config.max_length,
    )
    examples = [e for e in config.examples.split("|") if e] or [
        source.decode() for source, _ in test_pairs.take(3).as_numpy_iterator()
    ]
    served = tf.saved_model.load(export_dir).signatures["serving_default"]
    result = served(text=tf.constant(examples))
    print(f"exported to {export_dir}; through the export:")
    for source, translation in zip(
        examples, result["translations"].numpy(), strict=True
    ):
        print(f"  {source}  ->  {translation.decode()}")
    return scores


if __name__ == "__main__":
    main()
