"""Train a recurrent sentiment classifier, evaluate it, export it.

With no data flags it learns the built-in corpus, generated reviews whose
labels hinge on negation and "but" (`seq2seq.data.synthetic`), offline (the
defaults are sized for it: 100% validation accuracy in 3 epochs, 151 s of
training and 3 min 12 s in all on this project's 2 cores, shared with other
jobs):

    python recipes/sentiment.py

SST-2 (GLUE's train.tsv; a seeded 5% is carved off for validation; 93.1%
validation accuracy in 38 min on the shared 2 cores):

    python recipes/sentiment.py --train ../shared/data/sst2/train.tsv \\
        --text-column sentence --vocab-size 8000 --units 256 --embedding-size 128 \\
        --dropout 0.3 --epochs 3 --batch-size 64 --max-length 128 \\
        --output-dir runs/sst2

IMDB (the gzipped `id,rating,label,text` CSV; a seeded 10% for validation;
reviews cut to their first 400 pieces, which the run counts and reports;
89.5% in 24 min; add `--vocab-size 16000` in place of `--spm-model` to
train the SentencePiece model in the same run):

    python recipes/sentiment.py --train ../shared/data/imdb/train.csv.gz \\
        --valid-fraction 0.1 --spm-model runs/imdb/spm.model --cell-type gru \\
        --units 64 --embedding-size 128 --dropout 0.3 --max-length 400 \\
        --batch-size 64 --epochs 2 --output-dir runs/imdb-400

or a Hugging Face dataset (`--dataset glue --dataset-config sst2
--text-column sentence`, or `--dataset imdb`), or a YAML file of these
options (`--config run.yaml`). TSV, CSV (also gzipped) and JSONL files read
with `--text-column` / `--label-column`. Steps: data (cleaned: invalid UTF-8,
`<br />`, whitespace) -> a seeded validation carve when none is given ->
SentencePiece (trained unless `--spm-model`) -> bucketed `tf.data` batches
-> `TextClassifier` -> fit (Adam, clipping, accuracy and macro F1 on the
validation set, checkpoints, early stopping on validation accuracy,
TensorBoard, progress bar) -> accuracy and macro F1 on the test set (default:
the validation set) -> a string-in SavedModel -> a few examples through it.

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
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seq2seq import data, serving  # noqa: E402
from seq2seq.evaluation import classification_scores  # noqa: E402
from seq2seq.models import MacroF1Score, TextClassifier  # noqa: E402
from seq2seq.text import (  # noqa: E402
    SentencePieceTokenizer,
    clean_text,
    train_sentencepiece,
)
from seq2seq.training import (  # noqa: E402
    Trainer,
    TrainingConfig,
    option,
    parse_config,
    setup,
)


@dataclasses.dataclass
class Config(TrainingConfig):
    train: str | None = option(None, "training file: .tsv, .csv(.gz) or .jsonl")
    valid: str | None = option(None, "validation file (default: carved from train)")
    test: str | None = option(None, "test file (default: the validation set)")
    text_column: str = option("text", "column (or JSON key) of the text")
    label_column: str = option("label", "column (or JSON key) of the label")
    dataset: str | None = option(None, "Hugging Face dataset name, e.g. glue or imdb")
    dataset_config: str | None = option(None, "the dataset's configuration, e.g. sst2")
    label_names: str = option(
        "", "names of the label ids for the export, comma-separated (default: as read)"
    )
    valid_fraction: float = option(
        0.05, "share of train carved off for validation when none is given"
    )
    keep_overlap: bool = option(
        False, "keep carved validation texts that also occur verbatim in train"
    )
    synthetic_examples: int = option(
        4000, "size of the built-in corpus's train split (valid and test: 1/6)"
    )
    spm_model: str | None = option(None, "a SentencePiece model (default: train one)")
    vocab_size: int | None = option(
        None, "pieces of the trained SentencePiece model (8000; 120 built-in)"
    )
    embedding_size: int = option(64, "token embedding size")
    units: int = option(64, "units per RNN layer (per direction if bidirectional)")
    num_layers: int = option(1, "stacked RNN layers")
    cell_type: str = option("lstm", "lstm, gru or simple_rnn")
    bidirectional: bool = option(True, "read both ways")
    pooling: str = option("max", "last, mean, max or attention")
    dropout: float = option(0.2, "dropout on embeddings, between layers, on pooling")
    max_length: int = option(
        256, "pieces read per text; longer texts are cut and counted"
    )
    batch_size: int = option(64, "examples per batch")
    epochs: int = option(3, "training epochs (early stopping may end sooner)")
    learning_rate: float = option(2e-3, "Adam learning rate")
    clip_norm: float = option(1.0, "global gradient-norm clipping")
    patience: int = option(2, "epochs without better validation accuracy to stop")
    seed: int = option(0, "seed of initialisation, carving, shuffling and corpus")
    output_dir: str = option("runs/sentiment", "checkpoints, logs, tokenizer, scores")
    export_dir: str | None = option(
        None, "SavedModel directory (default OUTPUT_DIR/export)"
    )
    examples: str = option("", "texts to classify with the export, separated by |")


def as_arrays(dataset):
    """Cleaned texts (bytes) and label ids of a `(text, label)` dataset."""
    texts, labels = [], []
    for text, label in dataset.batch(4096):
        texts += list(clean_text(text).numpy())
        labels += list(label.numpy())
    return np.array(texts, dtype=object), np.array(labels, dtype=np.int32)


def load_splits(config):
    """Train, validation and test `(texts, labels)` and the label names."""
    if config.train:
        train, names = data.labelled_text(
            config.train, config.text_column, config.label_column
        )
        parts = [train] + [
            data.labelled_text(path, config.text_column, config.label_column, names)[0]
            if path
            else None
            for path in (config.valid, config.test)
        ]
    elif config.dataset:

        def split(name, labels=None):
            return data.labelled_text_from_hf(
                config.dataset,
                config.text_column,
                config.label_column,
                config=config.dataset_config,
                split=name,
                labels=labels,
            )

        train, names = split("train")
        try:
            valid = split("validation", names)[0]
        except ValueError:  # no such split (IMDB): carve one below
            valid = None
        parts = [train, valid, None]
    else:
        # The built-in corpus, written out so that its files can be inspected.
        folder = os.path.join(config.output_dir, "data")
        os.makedirs(folder, exist_ok=True)
        size = config.synthetic_examples
        parts = []
        for offset, (name, count) in enumerate(
            {"train": size, "valid": size // 6, "test": size // 6}.items()
        ):
            path = os.path.join(folder, f"{name}.jsonl")
            reviews = data.synthetic.sentiment_reviews(count, config.seed * 10 + offset)
            with open(path, "w", encoding="utf-8") as file:
                for text, label in reviews:
                    label_name = data.synthetic.SENTIMENT_LABELS[label]
                    file.write(json.dumps({"text": text, "label": label_name}) + "\n")
            labels = data.synthetic.SENTIMENT_LABELS
            parts.append(data.labelled_text(path, labels=labels)[0])
        names = data.synthetic.SENTIMENT_LABELS
    train, valid, test = (None if p is None else as_arrays(p) for p in parts)
    if valid is None:
        train, valid = data.classification.carve_validation(
            *train, config.valid_fraction, seed=config.seed
        )
        seen = set(train[0])
        overlap = np.array([text in seen for text in valid[0]], bool)
        print(
            f"no validation set given: carved a seeded {config.valid_fraction:.0%} "
            f"of train (seed {config.seed}): {len(valid[0])} examples, "
            f"{len(train[0])} left to train on; {overlap.sum()} of the carved "
            "texts also occur verbatim in the rest of train, "
            + ("kept" if config.keep_overlap else "removed from validation")
        )
        if not config.keep_overlap:
            valid = (valid[0][~overlap], valid[1][~overlap])
    return train, valid, test or valid, names


def tokenizer_for(config, texts):
    if config.spm_model:
        return SentencePieceTokenizer(config.spm_model)
    builtin = not (config.train or config.dataset)
    size = config.vocab_size or (120 if builtin else 8000)
    prefix = os.path.join(config.output_dir, "spm")
    train_sentencepiece([t.decode() for t in texts], prefix, size, "unigram", 1.0)
    return SentencePieceTokenizer(prefix + ".model")


def batches(split, tokenizer, config, name, shuffle=False):
    texts, labels = split
    dataset = tf.data.Dataset.from_tensor_slices(
        (tf.constant(list(texts), tf.string), tf.constant(labels, tf.int32))
    )
    return data.classification.classification_batches(
        dataset,
        tokenizer,
        max_length=config.max_length,
        batch_size=config.batch_size,
        shuffle_buffer=len(texts) if shuffle else 0,
        seed=config.seed,
        full_batches_only=shuffle,  # training: one compiled shape per bucket
        name=name,
    )


def accuracy_by_length(texts, labels, predicted):
    """Accuracy for short, medium and long texts (in whitespace words)."""
    words = np.array([len(t.split()) for t in texts])
    report = {}
    for low, high in ((1, 4), (5, 14), (15, 10**9)):
        chosen = (words >= low) & (words <= high)
        name = f"{low}+ words" if high == 10**9 else f"{low}-{high} words"
        if chosen.any():
            correct = float(np.mean(labels[chosen] == predicted[chosen]))
            report[name] = {"examples": int(chosen.sum()), "accuracy": correct}
    return report


def main(argv=None):
    config = parse_config(Config, argv, description=__doc__)
    strategy = setup(config)  # devices, distribution, precision, seeds
    os.makedirs(config.output_dir, exist_ok=True)

    train_split, valid_split, test_split, label_names = load_splits(config)
    if config.label_names:
        label_names = [n.strip() for n in config.label_names.split(",")]
    print(
        f"labels {label_names}; train {len(train_split[1])} examples, counts "
        f"{np.bincount(train_split[1], minlength=len(label_names)).tolist()}"
    )
    tokenizer = tokenizer_for(config, train_split[0])
    train, train_cut, train_empty = batches(
        train_split, tokenizer, config, "train texts", shuffle=True
    )
    valid, valid_cut, _ = batches(valid_split, tokenizer, config, "valid texts")

    with strategy.scope():
        model = TextClassifier(
            tokenizer.vocabulary_size(),
            num_classes=len(label_names),
            embedding_size=config.embedding_size,
            units=config.units,
            num_layers=config.num_layers,
            cell_type=config.cell_type,
            bidirectional=config.bidirectional,
            pooling=config.pooling,
            dropout=config.dropout,
        )
        model(next(iter(train))[0])  # build the weights (resuming restores them)
        optimizer = keras.optimizers.Adam(config.learning_rate)
    metrics = [
        keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
        MacroF1Score(len(label_names)),
    ]
    trainer = Trainer(
        model, optimizer, config, strategy, metrics, monitor="val_accuracy", mode="max"
    )

    start = time.perf_counter()
    history = trainer.fit(train, valid)
    train_seconds = time.perf_counter() - start
    if not trainer.chief:  # other workers of a cluster leave the rest to it
        return None
    model = trainer.local_model()  # evaluation and export outside the strategy
    for counter in (train_cut, train_empty, valid_cut):
        print(counter.report())

    # The test set, every example kept (an empty text gets a prediction too).
    test_texts, test_labels = test_split
    ids, _ = serving.source_ids(
        tokenizer, tf.constant(list(test_texts), tf.string), config.max_length
    )
    logits = model.predict(ids, batch_size=config.batch_size, verbose=0)
    predicted = np.argmax(logits, axis=-1)
    scores = classification_scores(test_labels, predicted, len(label_names))
    scores["by_length"] = accuracy_by_length(test_texts, test_labels, predicted)
    scores["train_seconds"] = round(train_seconds, 1)
    scores["epochs_run"] = len(history["loss"])
    scores["history"] = {
        k: [round(float(v), 4) for v in vs] for k, vs in history.items()
    }
    with open(os.path.join(config.output_dir, "scores.json"), "w") as file:
        json.dump(scores, file, indent=2)
    print(
        f"test accuracy {scores['accuracy']:.4f}  macro F1 {scores['macro_f1']:.4f}"
        f"  ({scores['examples']} examples)"
    )
    for name, part in scores["by_length"].items():
        print(f"  {name}: accuracy {part['accuracy']:.4f} ({part['examples']})")
    print(f"training took {train_seconds:.0f} s")

    export_dir = config.export_dir or os.path.join(config.output_dir, "export")
    serving.export_classifier(
        model, tokenizer, export_dir, label_names, max_length=config.max_length
    )
    examples = [e for e in config.examples.split("|") if e] or [
        t.decode() for t in test_texts[:3]
    ]
    served = tf.saved_model.load(export_dir).signatures["serving_default"]
    result = served(text=tf.constant(examples))
    print(f"exported to {export_dir}; through the export:")
    for text, label, probabilities in zip(
        examples,
        result["labels"].numpy(),
        result["probabilities"].numpy(),
        strict=True,
    ):
        print(f"  {label.decode()} {probabilities.max():.3f}  {text[:100]}")
    return scores


if __name__ == "__main__":
    main()
