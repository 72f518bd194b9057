"""The built-in corpora written out as files, the way a user's data comes.

Each recipe trains on one of these when it is given no data: the corpus of
`seq2seq.data.synthetic` is generated with a seed, written under a folder
(so that a run's data can be inspected), and read back through the same
loader as a user's files. Split `k` (train 0, valid 1, test 2) is generated
with seed `10 * seed + k`, so the three splits differ and a run repeats.
"""

from __future__ import annotations

import json
import os

from seq2seq.data import synthetic

SPLITS = ("train", "valid", "test")
HUB_SPLITS = ("train", "validation", "test")  # the same, as Hugging Face names them


def write_for(write, config) -> dict:
    """A recipe's built-in corpus: `write` (e.g. `write_date_corpus`) called
    with the folder `config.output_dir/data`, `config.synthetic_examples`,
    `config.synthetic_eval_examples` and `config.seed`; returns its paths."""
    folder = os.path.join(config.output_dir, "data")
    sizes = config.synthetic_examples, config.synthetic_eval_examples
    return write(folder, *sizes, config.seed)


def _split_seeds(folder, sizes, seed):
    """`(name, size, seed)` of each split; creates `folder`."""
    os.makedirs(folder, exist_ok=True)
    return [
        (name, size, seed * 10 + offset)
        for offset, (name, size) in enumerate(zip(SPLITS, sizes, strict=True))
    ]


def write_date_corpus(folder, train_size, eval_size, seed=0) -> dict:
    """Date pairs (`synthetic.date_pairs`) as line-aligned text files.

    Writes `folder/{train,valid,test}.{src,tgt}` (`eval_size` pairs in valid
    and in test).

    Returns:
        `{split: (source_path, target_path)}`.
    """
    paths = {}
    for name, size, split_seed in _split_seeds(
        folder, (train_size, eval_size, eval_size), seed
    ):
        pairs = synthetic.date_pairs(size, seed=split_seed)
        paths[name] = tuple(os.path.join(folder, f"{name}.{s}") for s in ("src", "tgt"))
        for path, column in zip(paths[name], (0, 1), strict=True):
            with open(path, "w", encoding="utf-8") as file:
                file.write("\n".join(pair[column] for pair in pairs) + "\n")
    return paths


def write_ner_corpus(folder, train_size, eval_size, seed=0) -> dict:
    """Tagged news sentences (`synthetic.ner_sentences`) as CoNLL files.

    Writes `folder/{train,valid,test}.txt`, one `word tag` line per word
    (IOB2 tags), a blank line after each sentence. Valid and test hold the
    names kept out of train (`held_out_names`).

    Returns:
        `{split: path}`.
    """
    paths = {}
    for name, size, split_seed in _split_seeds(
        folder, (train_size, eval_size, eval_size), seed
    ):
        sentences = synthetic.ner_sentences(
            size, seed=split_seed, held_out_names=name != "train"
        )
        paths[name] = os.path.join(folder, f"{name}.txt")
        with open(paths[name], "w", encoding="utf-8") as file:
            for tokens, tags in sentences:
                file.writelines(f"{w} {t}\n" for w, t in zip(tokens, tags, strict=True))
                file.write("\n")
    return paths


def write_sentiment_corpus(folder, train_size, eval_size, seed=0) -> dict:
    """Generated reviews (`synthetic.sentiment_reviews`) as JSON lines.

    Writes `folder/{train,valid,test}.jsonl`, one `{"text", "label"}`
    record a line, the label by name (`synthetic.SENTIMENT_LABELS`).

    Returns:
        `{split: path}`.
    """

    def records(size, split_seed):
        for text, label in synthetic.sentiment_reviews(size, split_seed):
            record = {"text": text, "label": synthetic.SENTIMENT_LABELS[label]}
            yield json.dumps(record) + "\n"

    return _write_review_splits(folder, train_size, eval_size, seed, "jsonl", records)


def write_text_corpus(folder, train_size, eval_size, seed=0) -> dict:
    """The generated reviews' text alone, for a language model: one review a
    line in `folder/{train,valid,test}.txt` (the texts of
    `write_sentiment_corpus` with the same sizes and seed).

    Returns:
        `{split: path}`.
    """

    def lines(size, split_seed):
        return (f"{t}\n" for t, _ in synthetic.sentiment_reviews(size, split_seed))

    return _write_review_splits(folder, train_size, eval_size, seed, "txt", lines)


def _write_review_splits(folder, train_size, eval_size, seed, extension, lines):
    """Writes `lines(size, split_seed)` to `folder/{split}.{extension}`."""
    paths = {}
    for name, size, split_seed in _split_seeds(
        folder, (train_size, eval_size, eval_size), seed
    ):
        paths[name] = os.path.join(folder, f"{name}.{extension}")
        with open(paths[name], "w", encoding="utf-8") as file:
            file.writelines(lines(size, split_seed))
    return paths
