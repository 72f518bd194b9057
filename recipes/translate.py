"""Train an attentional recurrent translation model, evaluate it, export it.

With no data flags it learns the built-in corpus, dates as people write them
translated to ISO 8601, offline, in about 4 minutes on 2 cores (the defaults
are sized for it):

    python recipes/translate.py

English to German on Multi30k (validation BLEU 39.13 with beam 5 after
23 epochs, 93 minutes of training on 2 cores; see the README):

    python recipes/translate.py \\
        --train-src ../shared/data/multi30k/train.en \\
        --train-tgt ../shared/data/multi30k/train.de \\
        --valid-src ../shared/data/multi30k/val.en \\
        --valid-tgt ../shared/data/multi30k/val.de \\
        --vocab-size 8000 --cell-type lstm --units 512 --embedding-size 512 \\
        --dropout 0.4 --epochs 28 --patience 10 --learning-rate 2e-3 \\
        --warmup-steps 400 --tokens-per-batch 1024 --beam-size 5 \\
        --matmul-dtype bfloat16 --valid-bleu true --output-dir runs/multi30k

or a Hugging Face dataset (`--dataset bentrevett/multi30k --source-column en
--target-column de`), or a YAML file of these options (`--config run.yaml`).
Steps: data -> SentencePiece -> bucketed batches -> `EncoderDecoder` -> fit
(Adam, warm-up then inverse square-root decay) -> BLEU and chrF on the test
set (sacrebleu) -> a string-in SavedModel -> a few translations through it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys

if importlib.util.find_spec("seq2seq") is None:  # run from a clone, not installed
    print("error: seq2seq is not installed; run: pip install -e .", file=sys.stderr)
    sys.exit(2)

from seq2seq import cli  # first: TensorFlow starts quietly (--tf-logs true: not)

# isort: split
import keras

from seq2seq import data, evaluation, serving, training
from seq2seq.models import EncoderDecoder
from seq2seq.text import sentencepiece_tokenizer
from seq2seq.training import option


@dataclasses.dataclass
class Config(training.TrainingConfig):
    train_src: str | None = option(None, "training source file (one sentence a line)")
    train_tgt: str | None = option(None, "training target file, line-aligned")
    valid_src: str | None = option(None, "validation source file")
    valid_tgt: str | None = option(None, "validation target file")
    test_src: str | None = option(None, "test source file (default: validation)")
    test_tgt: str | None = option(None, "test target file")
    dataset: str | None = option(None, "Hugging Face dataset, e.g. bentrevett/multi30k")
    dataset_config: str | None = option(None, "the dataset's configuration, if any")
    source_column: str = option("en", "dataset column of the source (a.b for nested)")
    target_column: str = option("de", "dataset column of the target")
    synthetic_examples: int = option(15000, "built-in date corpus: train split size")
    synthetic_eval_examples: int = option(1000, "its validation and test split size")
    spm_model: str | None = option(None, "a SentencePiece model (default: train one)")
    vocab_size: int | None = option(None, "pieces of a trained model (8000; dates 100)")
    embedding_size: int = option(128, "token embedding size")
    units: int = option(128, "units per RNN layer (per direction in the encoder)")
    encoder_layers: int = option(1, "encoder depth")
    decoder_layers: int = option(1, "decoder depth")
    cell_type: str = option("gru", "lstm, gru, simple_rnn or one --import registers")
    attention: str = option("bahdanau", "bahdanau, luong_dot or luong_general")
    dropout: float = option(0.2, "dropout rate")
    tie_embeddings: bool | None = option(
        None, "tie the output layer to the embedding (None: if the sizes allow)"
    )
    label_smoothing: float = option(0.1, "label smoothing of the loss")
    matmul_dtype: str | None = option(
        None, "bfloat16: the training pass's matmuls on bfloat16 operands"
    )
    max_length: int = option(127, "longest pair kept, in pieces (others counted)")
    tokens_per_batch: int = option(2048, "padded tokens per batch")
    bucket_width: int = option(1, "bucket pairs by length every this many pieces")
    jit_compile: bool = option(
        False, "compile the step with XLA (one program per batch shape)"
    )
    learning_rate: float = option(5e-3, "peak learning rate")
    warmup_steps: int = option(100, "linear warm-up steps before inverse-sqrt decay")
    beam_size: int = option(4, "beam of test decoding and the export (1: greedy)")
    length_penalty: float = option(0.6, "GNMT length-penalty alpha")
    valid_bleu: bool = option(False, "validation BLEU (that beam) after every epoch")
    output_dir: str = option("runs/translate", "checkpoints, logs, tokenizer, output")
    export_dir: str | None = option(None, "SavedModel (default: OUTPUT_DIR/export)")
    examples: str = option("", "sentences to translate with the export, separated by |")


def load_splits(config):
    """(train, valid, test) datasets of (source, target) strings."""
    if config.train_src:
        test = (config.test_src, config.test_tgt) if config.test_src else None
        files = {"train": (config.train_src, config.train_tgt)}
        files["valid"] = (config.valid_src, config.valid_tgt)
        files["test"] = test or files["valid"]
    elif config.dataset:
        return tuple(
            data.parallel_text_from_hf(
                config.dataset,
                config.source_column,
                config.target_column,
                config=config.dataset_config,
                split=name,
            )
            for name in data.builtin.HUB_SPLITS
        )
    else:  # the built-in corpus, written out so that its files can be inspected
        files = data.builtin.write_for(data.builtin.write_date_corpus, config)
    return tuple(data.parallel_text_files(*files[name]) for name in data.builtin.SPLITS)


def main(argv=None):
    config = training.parse_config(Config, argv, description=__doc__)
    strategy = training.setup(config)  # devices, distribution, seeds, output dir

    train_pairs, valid_pairs, test_pairs = load_splits(config)
    tokenizer = sentencepiece_tokenizer(
        config.spm_model,
        (text.decode() for pair in train_pairs.as_numpy_iterator() for text in pair),
        os.path.join(config.output_dir, "spm"),
        config.vocab_size or (8000 if config.train_src or config.dataset else 100),
        reuse=config.resume,
    )
    batching = (
        data.even_boundaries(config.max_length, config.bucket_width),
        config.tokens_per_batch,
    )
    train, train_filter = data.translation.translation_batches(
        train_pairs, tokenizer, *batching, shuffle_buffer=50_000, seed=config.seed,
        pad_to_boundary=config.jit_compile, name="train pairs",
    )  # fmt: skip
    valid, valid_filter = data.translation.translation_batches(
        valid_pairs, tokenizer, *batching, pad_to_boundary=config.jit_compile,
        name="valid pairs",
    )  # fmt: skip

    if config.tie_embeddings is None:  # tie them when the sizes allow, and say so
        config.tie_embeddings = config.embedding_size == config.units
        print(f"output projection tied to the embedding: {config.tie_embeddings}")
    with strategy.scope():
        with cli.options_checked():  # a bad option value: one line, no traceback
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
                tie_embeddings=config.tie_embeddings,
                label_smoothing=config.label_smoothing,
                matmul_dtype=config.matmul_dtype,
            )
        model(next(iter(train))[0])  # build the weights (resuming restores them)
        optimizer = keras.optimizers.Adam(
            training.WarmupInverseSqrt(config.learning_rate, config.warmup_steps)
        )
    # With validation BLEU, early stopping and the best checkpoint follow it.
    monitor = dict(monitor="val_bleu", mode="max") if config.valid_bleu else {}
    trainer = training.Trainer(model, optimizer, config, strategy, **monitor)

    length, alpha = config.max_length, config.length_penalty
    decoding = dict(beam_size=config.beam_size, max_length=length)
    decoding.update(max_source_length=length, length_penalty_alpha=alpha)
    bleu = evaluation.translation_evaluator(tokenizer, valid_pairs, **decoding)
    trainer.fit(train, valid, [training.EvaluationCallback(bleu)] * config.valid_bleu)
    print(train_filter.report(), valid_filter.report(), sep="\n")
    if not trainer.chief:  # other workers of a cluster leave the rest to it
        return None
    model = trainer.local_model()  # evaluation and export outside the strategy

    hyps, refs = evaluation.translate_all(model, tokenizer, test_pairs, **decoding)
    scores = evaluation.translation_scores(hyps, refs)
    scores["train_seconds"] = round(trainer.fit_seconds, 1)
    evaluation.write_results(config.output_dir, scores, {"test.hyp": hyps})
    print(f"test BLEU {scores['bleu']:.2f}  ({scores['bleu_signature']})")
    print(f"test chrF {scores['chrf']:.2f}  ({scores['chrf_signature']})")
    print(f"test exact match {scores['exact_match']:.3f}")
    print(f"training took {trainer.fit_seconds:.0f} s")

    export_dir = config.export_dir or os.path.join(config.output_dir, "export")
    serving.show_examples(
        serving.export_translator(model, tokenizer, export_dir, **decoding),
        config.examples.split("|"),
        [source.decode() for source, _ in test_pairs.take(3).as_numpy_iterator()],
    )
    return scores


if __name__ == "__main__":
    cli.run(main)
