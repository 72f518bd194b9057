"""Training SentencePiece models (the library side of the tokenizer script)."""

from __future__ import annotations

import os
import statistics
import tempfile

import sentencepiece

from seq2seq.text.sentencepiece_tokenizer import SentencePieceTokenizer


def train_sentencepiece(
    lines,
    model_prefix,
    vocab_size,
    model_type,
    character_coverage,
    user_defined_symbols=(),
):
    """Trains a model on `lines` (non-empty) with ids pad=0, unk=1, bos=2, eos=3.

    Writes `model_prefix.model` and `.vocab`; returns the loaded processor.
    """
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


def sentencepiece_tokenizer(model_file, lines, model_prefix, vocab_size, reuse=False):
    """The tokenizer of `model_file`, or of a model trained on `lines`.

    With no `model_file`, trains a unigram model of `vocab_size` pieces on
    `lines` (covering every character) and writes it to
    `model_prefix.model`, as a recipe does when it is given no tokenizer.
    With `reuse` (a recipe's `--resume`), an existing `model_prefix.model`
    is loaded, not trained again: the resumed weights belong to its ids.

    Args:
        model_file: A SentencePiece `.model` file, or None to train one.
        lines: The training text, an iterable of `str` (read only when a
            model is trained, so it can be a generator).
        model_prefix: Where the trained model goes.
        vocab_size: Pieces of the trained model.
        reuse: Load `model_prefix.model` if it exists.

    Returns:
        A `SentencePieceTokenizer`.
    """
    if model_file:
        return SentencePieceTokenizer(model_file)
    if reuse and os.path.isfile(f"{model_prefix}.model"):
        print(f"resume: the tokenizer {model_prefix}.model, as trained before")
        return SentencePieceTokenizer(f"{model_prefix}.model")
    train_sentencepiece(list(lines), model_prefix, vocab_size, "unigram", 1.0)
    return SentencePieceTokenizer(f"{model_prefix}.model")


def sentencepiece_report(processor, lines, vocab_size, model_prefix, empty) -> str:
    """The vocabulary size and the pieces per sentence on `lines`."""
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
