"""Loaders that return `tf.data.Dataset`s, and transforms for `ds.apply`.

Every loader validates its input eagerly and raises `DataError` naming the
file, the line and the problem; filters count and report what they drop.
"""

from seq2seq.data import (
    boundaries,
    builtin,
    classification,
    synthetic,
    tagging,
    translation,
)
from seq2seq.data.boundaries import (
    covering_boundaries,
    even_boundaries,
    length_boundaries,
)
from seq2seq.data.conll import (
    Sentence,
    conll_dataset,
    conll_from_hf,
    read_conll,
    scheme_tags,
)
from seq2seq.data.files import DataError, MissingSplitError, read_lines, rows_dataset
from seq2seq.data.labelled import labelled_text, labelled_text_from_hf
from seq2seq.data.parallel import (
    parallel_text_files,
    parallel_text_from_hf,
    parallel_text_tsv,
)
from seq2seq.data.transforms import (
    LengthFilter,
    batch_by_examples,
    bucket_by_length,
    shuffle_cache_prefetch,
)

__all__ = [
    "DataError",
    "LengthFilter",
    "MissingSplitError",
    "Sentence",
    "batch_by_examples",
    "boundaries",
    "builtin",
    "classification",
    "bucket_by_length",
    "conll_dataset",
    "conll_from_hf",
    "covering_boundaries",
    "even_boundaries",
    "labelled_text",
    "labelled_text_from_hf",
    "length_boundaries",
    "parallel_text_files",
    "parallel_text_from_hf",
    "parallel_text_tsv",
    "read_conll",
    "read_lines",
    "rows_dataset",
    "scheme_tags",
    "shuffle_cache_prefetch",
    "synthetic",
    "tagging",
    "translation",
]
