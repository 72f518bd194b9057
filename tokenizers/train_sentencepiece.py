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
import os
import statistics
import sys
import tempfile

import sentencepiece

# Run from anywhere in the repository: the script imports the library.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from seq2seq.data import read_lines  # noqa: E402


def dataset_lines(name, columns, config=None, split="train", data_files=None):
    """The text of one or more columns of a Hugging Face dataset."""
    import datasets

    records = datasets.load_dataset(name, config, split=split, data_files=data_files)
    lines = []
    for column in columns:
        for record in records:
            value = record
            for key in column.split("."):
                value = value[key]
            lines.append(str(value))
    return lines


def train(
    lines,
    model_prefix,
    vocab_size,
    model_type,
    character_coverage,
    user_defined_symbols,
):
    folder = os.path.dirname(os.path.abspath(model_prefix))
    os.makedirs(folder, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", suffix=".txt", encoding="utf-8", delete=False
    ) as corpus:
        corpus.write("\n".join(lines) + "\n")
    try:
        sentencepiece.SentencePieceTrainer.train(
            input=corpus.name,
            model_prefix=model_prefix,
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            user_defined_symbols=user_defined_symbols or [],
            pad_id=0,
            unk_id=1,
            bos_id=2,
            eos_id=3,
            # Small corpora cannot always fill the asked size: say so below
            # rather than fail.
            hard_vocab_limit=False,
            # SentencePiece skips longer lines (4192 bytes by default), and
            # an IMDB review can be longer: train on every line.
            max_sentence_length=max(4192, *(len(line.encode()) + 1 for line in lines)),
            minloglevel=2,
        )
    finally:
        os.unlink(corpus.name)
    return sentencepiece.SentencePieceProcessor(model_file=f"{model_prefix}.model")


def report(processor, lines, vocab_size, model_prefix, empty) -> str:
    pieces = [len(ids) for ids in processor.encode(lines)]
    size = processor.get_piece_size()
    note = (
        "" if size == vocab_size else f" (asked for {vocab_size}; the corpus is small)"
    )
    return (
        f"wrote {model_prefix}.model and {model_prefix}.vocab\n"
        f"vocabulary size: {size}{note}\n"
        f"skipped {empty} empty line(s)\n"
        f"pieces per sentence on the input ({len(lines)} sentences): "
        f"mean {statistics.mean(pieces):.1f}, median {statistics.median(pieces):.0f}, "
        f"max {max(pieces)}"
    )


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
    processor = train(
        nonempty,
        args.model_prefix,
        args.vocab_size,
        args.model_type,
        args.character_coverage,
        args.user_defined_symbols,
    )
    empty = len(lines) - len(nonempty)
    print(report(processor, nonempty, args.vocab_size, args.model_prefix, empty))


if __name__ == "__main__":
    main()
