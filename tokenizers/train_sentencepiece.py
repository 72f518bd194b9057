"""Train a SentencePiece model for the recipes, and report on it.

    python tokenizers/train_sentencepiece.py \
        --input ../shared/data/multi30k/train.en ../shared/data/multi30k/train.de \
        --vocab-size 8000 --model-prefix runs/spm/multi30k

Several inputs train one joint model (source and target sharing pieces, as
shared embeddings need); train one model per language for separate
vocabularies. A Hugging Face dataset column works too:

    python tokenizers/train_sentencepiece.py --dataset json \
        --data-files train.jsonl --column translation.en --column translation.de ...

Ids are fixed so that 0 is padding (what `Embedding(mask_zero=True)` expects):
pad=0, unk=1, bos=2, eos=3. Writes PREFIX.model and PREFIX.vocab and prints the
vocabulary size and the pieces per sentence on the input.

This folder holds scripts, not an importable package: a package named
`tokenizers` would shadow Hugging Face's.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

if importlib.util.find_spec("seq2seq") is None:  # run from a clone, not installed
    print("error: seq2seq is not installed; run: pip install -e .", file=sys.stderr)
    sys.exit(2)

from seq2seq import cli  # first: TensorFlow starts quietly (--tf-logs true: not)

# isort: split
from seq2seq.data import read_lines
from seq2seq.data.files import load_hf_split
from seq2seq.text.sentencepiece_trainer import (
    sentencepiece_report,
    train_sentencepiece,
)


def dataset_lines(name, columns, config=None, split="train", data_files=None):
    """The text of one or more columns of a Hugging Face dataset."""
    records = load_hf_split(name, config, split, data_files)
    lines = []
    for column in columns:
        for record in records:
            value = record
            for key in column.split("."):
                value = value[key]
            lines.append(str(value))
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_argument_group("input (files or a Hugging Face dataset)")
    source.add_argument(
        "--input",
        nargs="+",
        help="UTF-8 text files, one sentence a line; several make a joint model",
    )
    source.add_argument(
        "--dataset",
        help="Hugging Face dataset name, or json/csv/text with --data-files",
    )
    source.add_argument("--config", help="the dataset's configuration")
    source.add_argument(
        "--split", default="train", help="dataset split (default: train)"
    )
    source.add_argument(
        "--data-files", nargs="+", help="local files for the json/csv/text builders"
    )
    source.add_argument(
        "--column",
        action="append",
        help="dataset column; repeat for a joint model; a.b reads a nested column",
    )
    parser.add_argument(
        "--vocab-size", type=int, required=True, help="number of pieces"
    )
    parser.add_argument(
        "--model-prefix", required=True, help="writes PREFIX.model and PREFIX.vocab"
    )
    parser.add_argument(
        "--model-type",
        choices=["unigram", "bpe"],
        default="unigram",
        help="default: unigram",
    )
    parser.add_argument(
        "--character-coverage",
        type=float,
        default=1.0,
        help="fraction of characters covered (default 1.0; 0.9995 for large alphabets)",
    )
    parser.add_argument(
        "--user-defined-symbols",
        nargs="*",
        default=[],
        help="pieces always kept whole, e.g. <sep> or language tags",
    )
    parser.add_argument(
        cli.TF_LOGS_FLAG,
        type=str,
        default="false",
        help="true: show TensorFlow's start-up logs (CUDA, oneDNN, absl)",
    )
    args = parser.parse_args(argv)

    if bool(args.input) == bool(args.dataset):
        parser.error(
            "give either --input FILE [FILE ...] or --dataset NAME --column COLUMN"
        )
    if args.dataset and not args.column:
        parser.error("--dataset needs at least one --column")
    if args.input:
        lines = [line for path in args.input for line in read_lines(path)]
    else:
        lines = dataset_lines(
            args.dataset, args.column, args.config, args.split, args.data_files
        )
    nonempty = [line for line in lines if line.strip()]
    if not nonempty:
        parser.error("the input has no non-empty lines")
    processor = train_sentencepiece(
        nonempty,
        args.model_prefix,
        args.vocab_size,
        args.model_type,
        args.character_coverage,
        args.user_defined_symbols,
    )
    empty = len(lines) - len(nonempty)
    print(
        sentencepiece_report(
            processor, nonempty, args.vocab_size, args.model_prefix, empty
        )
    )


if __name__ == "__main__":
    cli.run(main)
