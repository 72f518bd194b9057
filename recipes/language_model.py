"""Train a recurrent language model (one-to-many), sample from it, export it.

With no data flags it learns the built-in corpus of generated reviews,
offline, and reports validation perplexity per piece and per word against a
unigram and an interpolated bigram model on the same pieces:

    python recipes/language_model.py

Conditioned on a label column (one label in, a text out), with samples per
label, e.g. movie reviews and their sentiment:

    python recipes/language_model.py --train ../shared/data/imdb/train.csv.gz \\
        --label-column label --vocab-size 16000 --output-dir runs/lm-imdb

`--judge runs/sst2/export` (a sentiment export, labels named as here) also
reports the share of the samples per label that it classifies as requested.

Plain text files (one text a line; several: a,b), TSV, CSV (also gzipped) or
JSONL (`--text-column`), or a Hugging Face dataset (`--dataset imdb`; local
files with `--dataset text --data-files corpus.txt`). The output folder is
what `--init-from` of recipes/sentiment.py and recipes/ner.py reads.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import sys

if importlib.util.find_spec("seq2seq") is None:  # run from a clone, not installed
    print("error: seq2seq is not installed; run: pip install -e .", file=sys.stderr)
    sys.exit(2)

from seq2seq import cli  # first: TensorFlow starts quietly (--tf-logs true: not)

# isort: split
import keras
import tensorflow as tf

from seq2seq import evaluation, serving, training
from seq2seq.data import language_model as lm_data
from seq2seq.data.language_model import load_splits
from seq2seq.models import LanguageModel, Perplexity, transfer
from seq2seq.models.language_model import describe_perplexity, perplexity_scores
from seq2seq.text import sentencepiece_tokenizer
from seq2seq.training import option


@dataclasses.dataclass
class Config(training.TrainingConfig):
    train: str | None = option(
        None, "training files, a,b: .txt lines, .tsv, .csv, .jsonl"
    )
    valid: str | None = option(None, "validation files (default: carved from train)")
    format: str | None = option(
        None, "txt, tsv, csv, jsonl or conll (default: by name)"
    )
    text_column: str = option("text", "column (or JSON key) of the text")
    label_column: str | None = option(None, "condition on this label column")
    dataset: str | None = option(None, "Hugging Face dataset name, e.g. imdb")
    dataset_config: str | None = option(None, "the dataset's configuration")
    data_files: str | None = option(None, "local files for the dataset's builder")
    valid_fraction: float = option(0.05, "share of train carved off if no validation")
    synthetic_examples: int = option(4000, "built-in corpus: train size (valid 1/6)")
    spm_model: str | None = option(None, "a SentencePiece model (default: train one)")
    vocab_size: int | None = option(
        None, "pieces of a trained model (8000; built-in 200)"
    )
    embedding_size: int = option(128, "token embedding size")
    units: int = option(128, "units per RNN layer")
    num_layers: int = option(2, "stacked RNN layers")
    cell_type: str = option("lstm", "lstm, gru or simple_rnn")
    tie_embeddings: bool = option(True, "output projection = embeddings (sizes equal)")
    embedding_dropout: float = option(0.1, "chance a token's vector is zeroed")
    dropout: float = option(0.2, "variational dropout between layers")
    output_dropout: float = option(0.2, "variational dropout on the top layer")
    condition_every_step: bool = option(True, "add the label to every step's input")
    max_length: int = option(128, "pieces per window (longer texts: several windows)")
    batch_size: int = option(32, "windows per batch")
    epochs: int = option(5, "training epochs (early stopping may end sooner)")
    learning_rate: float = option(2e-3, "Adam learning rate")
    samples: int = option(5, "texts generated (per label when conditioned)")
    sample_length: int = option(60, "pieces generated at most per sample")
    temperature: float = option(0.8, "sampling temperature")
    top_k: int = option(0, "sample among the k most likely pieces (0: all)")
    top_p: float = option(0.95, "sample among the smallest set of this mass")
    output_dir: str = option("runs/language_model", "checkpoints, model, tokenizer")
    export_dir: str | None = option(None, "SavedModel (default: OUTPUT_DIR/export)")
    examples: str = option("the film,the acting was", "prefixes to complete, a,b")
    judge: str | None = option(
        None, "a sentiment export: share of samples it gives their label"
    )


def main(argv=None):
    config = training.parse_config(Config, argv, description=__doc__)
    strategy = training.setup(config)  # devices, distribution, seeds, output dir
    builtin = os.path.join(config.output_dir, "data"), config.synthetic_examples
    (train_texts, train_labels), (valid_texts, valid_labels), names = load_splits(
        config.train, config.valid, config.text_column, config.label_column,
        config.dataset, config.dataset_config, config.data_files,
        (*builtin, config.seed), config.valid_fraction, config.seed, config.format,
    )  # fmt: skip
    judge = config.judge and evaluation.load_judge(config.judge, names)
    spm = os.path.join(config.output_dir, "spm")
    size = config.vocab_size or (8000 if config.train or config.dataset else 200)
    tokenizer = sentencepiece_tokenizer(
        config.spm_model, train_texts, spm, size, reuse=config.resume
    )
    copy = spm + ".model"  # the output folder holds its tokenizer, for --init-from
    if config.spm_model and os.path.abspath(config.spm_model) != os.path.abspath(copy):
        shutil.copy(config.spm_model, copy)
    bos, eos = tokenizer.bos_id, tokenizer.eos_id
    train_ids, valid_ids = (
        lm_data.piece_ids(tokenizer, texts) for texts in (train_texts, valid_texts)
    )
    options = dict(max_length=config.max_length, batch_size=config.batch_size)
    train, windows = lm_data.language_model_batches(
        train_ids,
        bos,
        eos,
        labels=train_labels,
        shuffle=True,
        seed=config.seed,
        **options,
    )
    valid, _ = lm_data.language_model_batches(
        valid_ids, bos, eos, labels=valid_labels, **options
    )
    print(
        f"{len(train_texts)} train texts ({windows} windows), {len(valid_texts)} valid"
    )

    with strategy.scope():
        with cli.options_checked():  # a bad option value: one line, no traceback
            model = LanguageModel(
                tokenizer.vocabulary_size(),
                config.embedding_size, config.units, config.num_layers,
                config.cell_type, config.tie_embeddings, config.embedding_dropout,
                config.dropout, config.output_dropout,
                num_conditions=len(names) if names else None,
                condition_every_step=bool(names) and config.condition_every_step,
            )  # fmt: skip
        model(next(iter(train))[0])  # build the weights (resuming restores them)
        optimizer = keras.optimizers.Adam(config.learning_rate)
    trainer = training.Trainer(
        model, optimizer, config, strategy, [Perplexity()], monitor="val_perplexity"
    )
    history = trainer.fit(train, valid)
    if not trainer.chief:  # other workers of a cluster leave the rest to it
        return None
    model = trainer.local_model()  # evaluation and export outside the strategy
    model.save(os.path.join(config.output_dir, transfer.MODEL_FILE))

    cut = [
        lm_data.windows(i, bos, eos, config.max_length)[:2]
        for i in (train_ids, valid_ids)
    ]
    scores = perplexity_scores(model, valid, *cut, lm_data.word_count(valid_texts))
    print(describe_perplexity(scores))
    scores.update(train_seconds=round(trainer.fit_seconds, 1))
    scores["epochs_run"] = len(history["loss"])
    sampling = dict(
        temperature=config.temperature, top_k=config.top_k, top_p=config.top_p
    )
    scores["samples"] = evaluation.sample_texts(
        model, tokenizer, names, config.samples, config.sample_length, config.seed,
        **sampling,
    )  # fmt: skip
    for name, texts in scores["samples"].items():
        print(f"samples ({name}):\n" + "\n".join(f"  {t}" for t in texts[:10]))
    if judge:  # --judge: the classifier's label of every sample
        scores["judge"] = evaluation.generation_agreement(judge, scores["samples"])
        print(evaluation.describe_agreement(scores["judge"]))
    evaluation.write_results(config.output_dir, scores)
    print(f"training took {trainer.fit_seconds:.0f} s")

    export_dir = config.export_dir or os.path.join(config.output_dir, "export")
    serving.export_language_model(model, tokenizer, export_dir, names, **sampling)
    prefixes = [p for p in config.examples.split(",") if p] or [""]
    served = tf.saved_model.load(export_dir).signatures
    inputs = {"text": tf.constant(prefixes)}
    if names:
        inputs["label"] = tf.constant([names[-1]] * len(prefixes))
    completed, predicted = served["complete"](**inputs), served["next_words"](**inputs)
    print(f"exported to {export_dir}; through the export:")
    for row, prefix in enumerate(prefixes):
        words = [w.decode() for w in predicted["words"][row].numpy()]
        text = completed["texts"][row, 0].numpy().decode()
        print(f"  {prefix!r} -> {text!r}; next words {words}")
    return scores


if __name__ == "__main__":
    cli.run(main)
