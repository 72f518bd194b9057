"""Exports that take raw strings: tokenization, model and decoding in one graph.

An exported SavedModel loads with `tf.saved_model.load` in a Python that
imports only `tensorflow` and `tensorflow_text` (for the SentencePiece ops),
and runs through `saved_model_cli run`. It never needs this package.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from seq2seq.text.normalize import clean_text

# Source lengths are rounded up to a multiple of this, so a model call sees a
# few shapes rather than one per request.
LENGTH_BUCKET = 16

# The batch sizes a compiled translator runs at: a batch is padded up to the
# next one, and a larger batch runs in chunks of the largest.
BATCH_SIZES = (1, 2, 4, 8)

# Where TensorFlow Serving looks for warm-up requests in a SavedModel.
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def length_buckets(max_length, smallest=LENGTH_BUCKET):
    """The padded source lengths: `smallest` doubling up to `max_length`.

    >>> length_buckets(256), length_buckets(127), length_buckets(10)
    ((16, 32, 64, 128, 256), (16, 32, 64, 127), (10,))
    """
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1. Received: {max_length}")
    buckets = []
    size = smallest
    while size < max_length:
        buckets.append(size)
        size *= 2
    return (*buckets, max_length)


def _round_up(value, sizes):
    """In the graph: the smallest of `sizes` (ascending) that is >= `value`."""
    sizes = tf.constant(sizes, tf.int32)
    index = tf.searchsorted(sizes, tf.reshape(value, [1]), side="left")[0]
    return tf.gather(sizes, tf.minimum(index, tf.size(sizes) - 1))


def run_in_buckets(fn, ids, batch_sizes, lengths, output_signature):
    """`fn(ids)` computed on shapes from a fixed set, sliced back to `ids`.

    The batch is padded with all-padding rows (id 0) up to the next of
    `batch_sizes` (a larger batch runs in chunks of the largest, one after
    another) and the time axis with 0 up to the next of `lengths`, so an
    XLA-compiled `fn` compiles at most `len(batch_sizes) * len(lengths)`
    programs, whatever the requests. `fn` must treat rows independently and
    mask id 0 (as `EncoderDecoder.translate` and `TextClassifier` do); an
    empty batch still runs one padded chunk, so `fn` never sees 0 rows.

    Args:
        fn: `[rows, time]` int32 -> a nest of `[rows, ...]` tensors.
        ids: `[batch, time]` int32, `time <= lengths[-1]`.
        batch_sizes: Ascending Python ints, or None to keep the batch's
            own size (then the compiled shapes are bounded per batch size).
        lengths: Ascending Python ints.
        output_signature: `fn`'s output nest of `tf.TensorSpec`s, without
            the row dimension's size.

    Returns:
        `fn`'s nest, each tensor cut to the first `batch` rows.
    """
    batch = tf.shape(ids)[0]
    if batch_sizes is None:
        chunk = tf.maximum(batch, 1)
    else:
        chunk = _round_up(batch, batch_sizes)
    chunks = tf.maximum((batch + chunk - 1) // chunk, 1)
    width = _round_up(tf.shape(ids)[1], lengths)
    padded = tf.pad(ids, [[0, chunks * chunk - batch], [0, width - tf.shape(ids)[1]]])
    padded = tf.reshape(padded, [chunks, chunk, width])
    # One chunk after another (parallel_iterations=1): a chunk's program
    # already uses the cores it is given.
    outputs = tf.map_fn(
        fn, padded, fn_output_signature=output_signature, parallel_iterations=1
    )
    return tf.nest.map_structure(
        lambda t: tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0))[:batch],
        outputs,
    )


def source_ids(tokenizer, text, max_source_length):
    """Dense source ids `[batch, length]` (0-padded) and a truncation flag.

    Sources longer than `max_source_length` pieces are cut to it, and the
    returned `[batch]` boolean says which were: serving returns a result for
    any input, and says when it did not read all of it.
    """
    ids = tokenizer(text)
    truncated = ids.row_lengths() > max_source_length
    ids = ids[:, :max_source_length]
    longest = tf.reduce_max(tf.concat([tf.cast(ids.row_lengths(), tf.int32), [1]], 0))
    width = (longest + LENGTH_BUCKET - 1) // LENGTH_BUCKET * LENGTH_BUCKET
    dense = ids.to_tensor(0)
    dense = tf.pad(dense, [[0, 0], [0, width - tf.shape(dense)[1]]])
    return tf.cast(dense, tf.int32), truncated


def strip_to_ragged(ids, lengths, eos_id):
    """Decoded `[batch, max_length]` ids to ragged ids without EOS."""
    positions = tf.range(tf.shape(ids)[1])[tf.newaxis, :]
    keep = (positions < lengths[:, tf.newaxis]) & tf.not_equal(ids, eos_id)
    return tf.ragged.boolean_mask(ids, keep)


class Translator(tf.Module):
    """Strings in, translations out: the module a translation export saves.

    With `jit_compile` (the default), the beam search is compiled with XLA,
    and compiled for a fixed set of shapes only: each request's source ids
    are padded to the next of `length_buckets(max_source_length)` pieces and
    its batch to the next of `batch_sizes` (larger batches run in chunks of
    the largest), then the results are cut back (`run_in_buckets`). So the
    export compiles at most `len(batch_sizes) * len(length_buckets(...))`
    programs (`num_programs`): 20 for an export (`BATCH_SIZES` by lengths
    16, 32, 64, 128, 256), and `warmup_batches()` are requests that compile
    every one of them. Padding changes no output: padded rows and source
    positions are masked.

    Without `jit_compile`, the search runs as a plain TensorFlow graph on the
    request's own shape and compiles nothing.

    Args:
        model: An `EncoderDecoder`.
        tokenizer: The `SentencePieceTokenizer` of both sides (one shared
            vocabulary), without BOS/EOS.
        beam_size, length_penalty_alpha, max_length, max_length_ratio:
            Decoding options, fixed at export.
        max_source_length: Pieces read from each source (longer ones are
            truncated and flagged in `source_truncated`).
        jit_compile: Compile the decoder with XLA, at bounded shapes.
        batch_sizes: The batch sizes compiled (ascending); `export_translator`
            uses `BATCH_SIZES`. None (the default) pads only the source
            length: for decoding large fixed batches offline, as
            `evaluation.translate_all` does.
    """

    def __init__(
        self,
        model,
        tokenizer,
        beam_size=4,
        length_penalty_alpha=0.6,
        max_length=128,
        max_length_ratio=2.0,
        max_source_length=256,
        jit_compile=True,
        batch_sizes=None,
    ):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.bos_id, self.eos_id = tokenizer.bos_id, tokenizer.eos_id
        options = {
            "beam_size": beam_size,
            "length_penalty_alpha": length_penalty_alpha,
            "max_length": max_length,
            "max_length_ratio": max_length_ratio,
        }
        self.max_source_length = max_source_length
        self.max_length = max_length
        self.jit_compile = jit_compile
        self.batch_sizes = None if batch_sizes is None else tuple(sorted(batch_sizes))
        if self.batch_sizes is not None and (
            not self.batch_sizes or self.batch_sizes[0] < 1
        ):
            raise ValueError(
                f"batch_sizes must be positive ints. Received: {batch_sizes!r}"
            )
        self.source_lengths = length_buckets(max_source_length)

        def decode(ids):
            return model.translate(ids, self.bos_id, self.eos_id, **options)

        # One signature, so every caller (serving_default, warm_up) shares
        # one function and XLA's cache of its compiled shapes.
        self._decode = tf.function(
            decode,
            jit_compile=jit_compile,
            input_signature=[tf.TensorSpec([None, None], tf.int32)],
        )

    @property
    def num_programs(self):
        """The most XLA programs the translator compiles (0 without XLA).

        None when `batch_sizes` is None: then it is per batch size seen.
        """
        if not self.jit_compile:
            return 0
        if self.batch_sizes is None:
            return None
        return len(self.batch_sizes) * len(self.source_lengths)

    def serve(self, text):
        """`text` `[batch]` -> translations, scores and truncation flags."""
        ids, truncated = source_ids(self.tokenizer, text, self.max_source_length)
        if self.jit_compile:
            signature = (
                tf.TensorSpec([None, self.max_length], tf.int32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.float32),
            )
            decoded, lengths, scores = run_in_buckets(
                self._decode,
                ids[:, : self.max_source_length],
                self.batch_sizes,
                self.source_lengths,
                signature,
            )
        else:
            decoded, lengths, scores = self._decode(ids)
        tokens = strip_to_ragged(decoded, lengths, self.eos_id)
        return {
            "translations": self.tokenizer.detokenize(tokens),
            "scores": scores,
            "source_truncated": truncated,
        }

    def warmup_batches(self):
        """Requests that reach every compiled shape: one per (batch, length).

        Each is `batch_size` copies of a text whose pieces fall in one
        length bucket (the last one longer than `max_source_length`, so it
        is cut). Without XLA, two requests (batch 1 and the largest batch
        size) that run the graph once.
        """
        texts = _texts_in_buckets(self.tokenizer, self.source_lengths)
        batch_sizes = self.batch_sizes or BATCH_SIZES
        if not self.jit_compile:
            return [[texts[0]], [texts[-1]] * batch_sizes[-1]]
        return [[text] * size for size in batch_sizes for text in texts]


def _texts_in_buckets(tokenizer, lengths):
    """One text per length bucket, its piece count in `(previous, bucket]`.

    The texts repeat one word; the last one is longer than `lengths[-1]`
    pieces, so serving cuts it to that bucket.
    """

    def pieces(count):
        return int(tokenizer(tf.constant([" ".join(["a"] * count)])).row_lengths()[0])

    per_word = max(pieces(2) - pieces(1), 1)
    texts, previous = [], 0
    for bucket in lengths[:-1]:
        count = max(bucket // per_word, 1)
        while count > 1 and pieces(count) > bucket:
            count -= 1
        if not previous < pieces(count) <= bucket:
            raise ValueError(
                f"no text of 'a's tokenizes to between {previous + 1} and {bucket} "
                f"pieces with this tokenizer ({pieces(count)} pieces for {count})"
            )
        texts.append(" ".join(["a"] * count))
        previous = bucket
    texts.append(" ".join(["a"] * (lengths[-1] + 1)))
    return texts


def _checksum(outputs):
    """A float that depends on every output (string lengths for strings)."""
    total = tf.constant(0.0)
    for value in tf.nest.flatten(outputs):
        if value.dtype == tf.string:
            value = tf.strings.length(value)
        total += tf.reduce_sum(tf.cast(value, tf.float32))
    return total


# Warm-up of an export whose shapes compile nothing: a single text, then a
# batch of the largest compiled size, so the graph has run once.
DEFAULT_WARMUP = (("a",), ("a " * 20,) * BATCH_SIZES[-1])


def _write_text_export(
    path, serve, *tracked, warmup_batches=DEFAULT_WARMUP, label_names=None
):
    """Writes a SavedModel whose `serving_default` is `serve(text)`.

    Written with `keras.export.ExportArchive`, which tracks every variable
    of `tracked` explicitly, so TF1-style loaders (`saved_model_cli run`, TF
    Serving) restore them as well as `tf.saved_model.load` does.

    The export also gets the warm-up: a `warm_up` signature, with no inputs,
    that runs `serve` on each of `warmup_batches` in turn and returns
    `requests` (their count) and `checksum` (a sum over every output, so no
    request is pruned from the graph); and the same requests as TF
    Serving's warm-up records (`write_warmup_requests`). With
    `label_names`, a `label_names` signature (no inputs) returns them as
    `label_names` (`tf.string [num_classes]`), so that a reader can map its
    labels to the export's by name.
    """
    warmup_batches = [list(batch) for batch in warmup_batches]
    archive = keras.export.ExportArchive()
    for layer in tracked:
        archive.track(layer)
    signature = [tf.TensorSpec([None], tf.string, name="text")]
    # Traced once, and called by both endpoints.
    serve = tf.function(serve, input_signature=signature)
    archive.add_endpoint("serving_default", serve, input_signature=signature)

    def warm_up():
        checksum = tf.constant(0.0)
        for batch in warmup_batches:
            # One request after another, as a server's warm-up sends them.
            with tf.control_dependencies([checksum]):
                text = tf.identity(tf.constant(batch, tf.string))
            checksum += _checksum(serve(text))
        return {"requests": tf.constant(len(warmup_batches)), "checksum": checksum}

    archive.add_endpoint("warm_up", warm_up, input_signature=[])
    if label_names is not None:
        names = [str(name) for name in label_names]
        archive.add_endpoint(
            "label_names",
            lambda: {"label_names": tf.constant(names, tf.string)},
            input_signature=[],
        )
    archive.write_out(str(path), verbose=False)
    write_warmup_requests(path, warmup_batches)
    return path


def write_warmup_requests(path, batches, signature_name="serving_default"):
    """Writes TF Serving's warm-up records into the SavedModel at `path`.

    `path/assets.extra/tf_serving_warmup_requests` gets one `PredictionLog`
    per batch (a `PredictRequest` of `text`, a `tf.string` vector), in
    TFRecord format: TensorFlow Serving runs them when it loads the model,
    before it answers. The protos come from `tensorflow-serving-api`.

    Returns:
        The file's path.
    """
    # Imported here: only writing an export needs TF Serving's protos.
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    file = os.path.join(os.fspath(path), WARMUP_FILE)
    os.makedirs(os.path.dirname(file), exist_ok=True)
    with tf.io.TFRecordWriter(file) as writer:
        for batch in batches:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(signature_name=signature_name),
                inputs={"text": tf.make_tensor_proto(list(batch), dtype=tf.string)},
            )
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return file


def read_warmup_requests(path) -> list[list[bytes]]:
    """The `text` of each warm-up record of the SavedModel at `path`."""
    from tensorflow_serving.apis import prediction_log_pb2

    batches = []
    file = os.path.join(os.fspath(path), WARMUP_FILE)
    for record in tf.data.TFRecordDataset(file).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record)
        text = log.predict_log.request.inputs["text"]
        batches.append(tf.make_ndarray(text).tolist())
    return batches


def warm_up(loaded):
    """Runs an export's warm-up requests, after `tf.saved_model.load`.

    `loaded.warm_up()` runs the requests of TF Serving's warm-up records,
    which compiles every shape the export compiles; one call of
    `serving_default` then prepares that signature's own graph (its first
    call costs a few hundred ms more than the next). In a Python without
    this package, the same two lines:

        loaded.warm_up()
        loaded.signatures["serving_default"](text=tf.constant([""]))

    so that the first real request is as fast as the hundredth. Here,
    `warm_up(tf.saved_model.load(path))` gives `{'requests': 20, 'checksum':
    ...}` for a translator export.

    Returns:
        The `warm_up` signature's outputs as Python numbers.
    """
    outputs = loaded.warm_up()
    loaded.signatures["serving_default"](text=tf.constant([""]))
    return {name: value.numpy().item() for name, value in outputs.items()}


def export_translator(model, tokenizer, path, **options):
    """Saves a SavedModel whose `serving_default` maps `text` to translations.

    Written with `keras.export.ExportArchive`, which tracks every variable
    explicitly, so TF1-style loaders (`saved_model_cli run`, TF Serving)
    restore them as well as `tf.saved_model.load` does. The beam search is
    compiled for a bounded set of shapes (see `Translator`), and the export
    carries one warm-up request per shape: TF Serving's records in
    `assets.extra/`, and the `warm_up` signature for `tf.saved_model.load`.

    Args:
        model: An `EncoderDecoder`.
        tokenizer: Its `SentencePieceTokenizer`.
        path: The SavedModel directory.
        **options: `Translator` options (`beam_size`, `max_length`,
            `max_source_length`, `jit_compile`, `batch_sizes`, ...).

    Returns:
        The path.
    """
    # Create every variable eagerly (not while tracing the signature), so the
    # SavedModel initialises them for any loader, saved_model_cli's included.
    dummy = tf.ones([1, 1], tf.int32)
    model((dummy, dummy))
    options.setdefault("batch_sizes", BATCH_SIZES)
    translator = Translator(model, tokenizer, **options)
    return _write_text_export(
        path,
        translator.serve,
        model,
        tokenizer,
        warmup_batches=translator.warmup_batches(),
    )


class Tagger(tf.Module):
    """Sentences in, one tag per whitespace-separated word out.

    Args:
        model: A `SequenceTagger`.
        features: The `WordFeatures` layer the model was trained with.
        tag_names: The name of each tag id, as the export should return it.
    """

    def __init__(self, model, features, tag_names):
        super().__init__()
        self.model = model
        self.features = features
        self.tag_names = tf.constant(list(tag_names))

    def serve(self, text):
        """`text` `[batch]` -> `tags` `[batch, words]` ("" padded), `lengths`."""
        words = tf.strings.split(text)  # on whitespace; bytes need not be UTF-8
        lengths = tf.cast(words.row_lengths(), tf.int32)
        # At least one column, so a batch of empty sentences still runs.
        width = tf.maximum(tf.reduce_max(tf.concat([lengths, [0]], 0)), 1)
        dense = words.to_tensor("", shape=tf.stack([tf.shape(text)[0], width]))
        inputs = self.features(dense)
        mask = tf.range(width)[tf.newaxis, :] < lengths[:, tf.newaxis]
        tag_ids = self.model.decode(self.model(inputs, training=False), mask)
        tags = tf.where(mask, tf.gather(self.tag_names, tag_ids), "")
        return {"tags": tags, "lengths": lengths}


def export_tagger(model, features, tag_names, path):
    """Saves a SavedModel whose `serving_default` maps `text` to tags.

    The signature takes `text` (`tf.string [None]`, sentences whose words
    are separated by whitespace) and returns `tags` (`tf.string [None,
    None]`, padded with "") and `lengths` (`int32 [None]`, words per
    sentence). It loads with only `tensorflow` imported. Nothing is compiled
    per shape; the `warm_up` signature and TF Serving's warm-up records run
    the graph once (see `warm_up`).

    Returns:
        The path.
    """
    tagger = Tagger(model, features, tag_names)
    tagger.serve(tf.constant(["a"]))  # create every variable eagerly
    return _write_text_export(path, tagger.serve, model, features)


class Classifier(tf.Module):
    """Strings in, class probabilities and label names out.

    The text is cleaned as in training (`seq2seq.text.clean_text`: invalid
    UTF-8 bytes become U+FFFD, HTML line breaks and runs of whitespace become
    one space), tokenized, cut to `max_length` pieces (flagged in
    `truncated`), and classified. An empty text has no pieces: the model
    sees only padding and still returns a distribution.

    Args:
        model: A `TextClassifier` (logits out).
        tokenizer: Its `SentencePieceTokenizer`.
        label_names: One name per class, in id order.
        max_length: Pieces read from each text.
        jit_compile: Compile the model call with XLA, at the shapes of
            `run_in_buckets` (`BATCH_SIZES` by `length_buckets(max_length)`).
            Without it (the default) nothing is compiled per shape.
    """

    def __init__(
        self, model, tokenizer, label_names, max_length=512, jit_compile=False
    ):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.label_names = tf.constant([str(name) for name in label_names])
        self.max_length = int(max_length)
        self.jit_compile = jit_compile
        self.lengths = length_buckets(self.max_length)

        def probabilities(ids):
            return tf.nn.softmax(tf.cast(model(ids, training=False), tf.float32))

        self._probabilities = tf.function(
            probabilities,
            jit_compile=jit_compile,
            input_signature=[tf.TensorSpec([None, None], tf.int32)],
        )

    def serve(self, text):
        """`text` `[batch]` -> probabilities, label names and truncation flags."""
        ids, truncated = source_ids(self.tokenizer, clean_text(text), self.max_length)
        if self.jit_compile:  # at bounded shapes, as the translator
            probabilities = run_in_buckets(
                self._probabilities,
                ids[:, : self.max_length],
                BATCH_SIZES,
                self.lengths,
                tf.TensorSpec([None, None], tf.float32),
            )
        else:
            probabilities = self._probabilities(ids)
        return {
            "probabilities": probabilities,
            "labels": tf.gather(self.label_names, tf.argmax(probabilities, axis=-1)),
            "truncated": truncated,
        }


def export_classifier(model, tokenizer, path, label_names, max_length=512, **options):
    """Saves a SavedModel whose `serving_default` classifies `text`.

    The signature takes `text` (`tf.string [None]`) and returns
    `probabilities` (`float32 [None, num_classes]`), `labels` (`tf.string
    [None]`, the most probable label's name) and `truncated` (`bool [None]`,
    True where the text was longer than `max_length` pieces and only its
    beginning was read); the `label_names` signature (no inputs) returns
    `label_names` (`tf.string [num_classes]`), in id order. Like
    `export_translator`, it loads with only `tensorflow` and
    `tensorflow_text` imported, and carries its warm-up
    (the `warm_up` signature, TF Serving's records: see `warm_up`).

    Args:
        model: A `TextClassifier`.
        tokenizer: Its `SentencePieceTokenizer`.
        path: The SavedModel directory.
        label_names: One name per class, in id order.
        max_length: Pieces read from each text.
        **options: More `Classifier` options (`jit_compile`).

    Returns:
        The path.
    """
    if len(label_names) != model.num_classes:
        raise ValueError(
            f"label_names must name each of the model's {model.num_classes} "
            f"classes. Received: {len(label_names)} names {list(label_names)}"
        )
    model(tf.ones([1, 1], tf.int32))  # create the variables eagerly
    classifier = Classifier(model, tokenizer, label_names, max_length, **options)
    warmup = DEFAULT_WARMUP
    if classifier.jit_compile:
        texts = _texts_in_buckets(tokenizer, classifier.lengths)
        warmup = [[text] * size for size in BATCH_SIZES for text in texts]
    return _write_text_export(
        path,
        classifier.serve,
        model,
        tokenizer,
        warmup_batches=warmup,
        label_names=label_names,
    )


def _describe(text, outputs, row):
    """One example's line: a translation, tagged words or a label."""
    if "translations" in outputs:
        return f"{text}  ->  {outputs['translations'][row].decode()}"
    if "tags" in outputs:
        tags = (t.decode() for t in outputs["tags"][row][: outputs["lengths"][row]])
        pairs = zip(text.split(), tags, strict=True)
        return " ".join(w if t == "O" else f"{w}/{t}" for w, t in pairs)
    probability = outputs["probabilities"][row].max()
    return f"{outputs['labels'][row].decode()} {probability:.3f}  {text[:100]}"


def show_examples(path, texts, defaults=()) -> list[str]:
    """Runs texts through the export at `path` and prints what it returns.

    Loads the SavedModel as a user would (`tf.saved_model.load`, the
    `serving_default` signature) and prints one line per text: `source  ->
    translation` for a translator, `word/TAG` for the entities of a tagger,
    `label probability  text` for a classifier.

    Args:
        path: A directory written by `export_translator`, `export_tagger` or
            `export_classifier`.
        texts: The examples; empty ones are left out.
        defaults: The examples when `texts` has none.

    Returns:
        The printed lines, without their indentation.
    """
    texts = [text for text in texts if text] or list(defaults)
    served = tf.saved_model.load(str(path)).signatures["serving_default"]
    outputs = {k: v.numpy() for k, v in served(text=tf.constant(texts)).items()}
    lines = [_describe(text, outputs, row) for row, text in enumerate(texts)]
    print(f"exported to {path}; through the export:")
    for line in lines:
        print(f"  {line}")
    return lines


class LanguageModelServer(tf.Module):
    """Text prefixes in, continuations and next words out.

    A prefix is cleaned (`clean_text`) and tokenized; a prefix longer than
    `max_prefix_length` pieces keeps its last ones (flagged in
    `truncated`). The model reads `[BOS] + pieces` and continues from there;
    an empty prefix starts a text. A conditioned model also takes a label
    name per prefix; an unknown label is served as the first label and
    flagged in `label_known`.

    Args:
        model: A `LanguageModel`.
        tokenizer: Its `SentencePieceTokenizer` (without BOS/EOS).
        label_names: One name per class of a class-conditioned model.
        num_completions: `k` continuations per prefix.
        mode: `"sample"` (temperature, top-k, top-p) or `"beam"` (the k best
            of a beam search).
        max_length: Pieces generated at most.
        temperature, top_k, top_p: Sampling options.
        num_words, max_word_pieces: `next_words` returns the `num_words`
            most probable next words of at most `max_word_pieces` pieces.
        max_prefix_length: Pieces of a prefix read.
    """

    def __init__(
        self,
        model,
        tokenizer,
        label_names=None,
        num_completions=3,
        mode="sample",
        max_length=40,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        num_words=5,
        max_word_pieces=8,
        max_prefix_length=256,
    ):
        super().__init__()
        import numpy as np
        import sentencepiece

        from seq2seq import decoding

        if mode not in ("sample", "beam"):
            raise ValueError(f"mode must be 'sample' or 'beam'. Received: {mode!r}")
        if model.condition_size is not None:
            raise ValueError(
                "export_language_model serves unconditioned or class-conditioned "
                f"models. Received: a model with condition_size={model.condition_size}"
            )
        if model.conditioned and len(label_names or ()) != model.num_conditions:
            raise ValueError(
                f"label_names must name each of the model's {model.num_conditions} "
                f"classes. Received: {label_names!r}"
            )
        self.model, self.tokenizer = model, tokenizer
        self.label_names = tf.constant([str(n) for n in label_names or [""]])
        self.k, self.mode, self.max_length = int(num_completions), mode, max_length
        self.sampling = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
        self.num_words, self.max_word_pieces = int(num_words), int(max_word_pieces)
        self.max_prefix_length = int(max_prefix_length)
        processor = sentencepiece.SentencePieceProcessor(model_proto=tokenizer.model)
        ids = range(processor.get_piece_size())
        special = np.array(
            [processor.is_control(i) or processor.is_unknown(i) for i in ids]
        )
        starts = np.array([processor.id_to_piece(i).startswith("\u2581") for i in ids])
        self._word_step = decoding.word_step(
            model.step, starts & ~special, ~starts & ~special, tokenizer.eos_id
        )
        self._decoding = decoding

    def _prefix(self, text, label):
        """Pieces kept, the state before their last id, that id, flags."""
        pieces = self.tokenizer(clean_text(text))
        truncated = pieces.row_lengths() > self.max_prefix_length
        pieces = pieces[:, -self.max_prefix_length :]
        batch = tf.shape(text)[0]
        bos = tf.fill([batch, 1], tf.constant(self.tokenizer.bos_id, tf.int32))
        full = tf.concat([bos, tf.cast(pieces, tf.int32)], axis=1)
        last = tf.gather(full.flat_values, full.row_limits() - 1)
        read = full[:, :-1].to_tensor(0)
        read = tf.pad(read, [[0, 0], [0, 1]])  # at least one (padded) column
        matches = tf.equal(label[:, None], self.label_names[None, :])
        known = tf.reduce_any(matches, axis=1)
        condition = None
        if self.model.conditioned:
            condition = tf.argmax(
                tf.cast(matches, tf.int32), axis=1, output_type=tf.int32
            )
        state = self.model.prefix_state(read, condition)
        return pieces, state, last, truncated, known

    def complete(self, text, label):
        """`k` continuations per prefix, their log-probabilities, flags."""
        pieces, state, last, truncated, known = self._prefix(text, label)
        batch, k = tf.shape(text)[0], self.k
        eos = self.tokenizer.eos_id
        if self.mode == "beam":
            ids, lengths, scores = self._decoding.beam_search(
                self.model.step, state, last, eos, self.max_length, k
            )
        else:
            seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
            ids, lengths, scores = self._decoding.sample(
                self.model.step,
                tf.nest.map_structure(lambda s: tf.repeat(s, k, axis=0), state),
                tf.repeat(last, k),
                eos,
                self.max_length,
                seed=seed,
                **self.sampling,
            )
        ids = tf.reshape(ids, [batch * k, self.max_length])
        continuation = strip_to_ragged(ids, tf.reshape(lengths, [-1]), eos)
        whole = tf.concat([_repeat_rows(pieces, k), continuation], axis=1)
        return {
            "completions": tf.reshape(
                self.tokenizer.detokenize(continuation), [batch, k]
            ),
            "texts": tf.reshape(self.tokenizer.detokenize(whole), [batch, k]),
            "scores": tf.reshape(scores, [batch, k]),
            "truncated": truncated,
            "label_known": known,
        }

    def next_words(self, text, label):
        """The `num_words` most probable next words and their probabilities."""
        _, state, last, truncated, known = self._prefix(text, label)
        batch = tf.shape(text)[0]
        word_end = self.model.vocabulary_size
        ids, lengths, scores = self._decoding.beam_search(
            self._word_step,
            self._decoding.word_state(state, batch),
            last,
            word_end,
            self.max_word_pieces,
            self.num_words,
        )
        flat = tf.reshape(ids, [-1, self.max_word_pieces])
        word_pieces = strip_to_ragged(flat, tf.reshape(lengths, [-1]), word_end)
        words = tf.strings.strip(self.tokenizer.detokenize(word_pieces))
        return {
            "words": tf.reshape(words, [batch, self.num_words]),
            "probabilities": tf.exp(scores),
            "truncated": truncated,
            "label_known": known,
        }


def _repeat_rows(ragged, times):
    """Each row of a ragged tensor `times` times in a row."""
    rows = tf.repeat(tf.range(ragged.nrows(out_type=tf.int32)), times)
    return tf.gather(ragged, rows)


def export_language_model(model, tokenizer, path, label_names=None, **options):
    """Saves a SavedModel with the signatures `complete` and `next_words`.

    Both take `text` (`tf.string [None]`, prefixes; empty starts a text),
    and for a class-conditioned model `label` (`tf.string [None]`, a label
    name per prefix). `complete` returns `completions` and `texts`
    (`tf.string [None, k]`: the continuation alone, and the prefix with
    it), `scores` (`float32 [None, k]`, summed log-probabilities of the
    continuation's pieces, EOS included), `truncated` and `label_known`
    (`bool [None]`). `next_words` returns `words` (`tf.string [None,
    num_words]`) and `probabilities` (`float32 [None, num_words]`, see
    `seq2seq.decoding.words`), with the same flags. `serving_default` is
    `complete`. It loads with only `tensorflow` and `tensorflow_text`.

    Args:
        model: A `LanguageModel`, unconditioned or class-conditioned.
        tokenizer: Its `SentencePieceTokenizer`.
        path: The SavedModel directory.
        label_names: The class names of a class-conditioned model.
        **options: `LanguageModelServer` options.

    Returns:
        The path.
    """
    server = LanguageModelServer(model, tokenizer, label_names, **options)
    text = tf.TensorSpec([None], tf.string, name="text")
    specs = [text]
    if model.conditioned:
        specs.append(tf.TensorSpec([None], tf.string, name="label"))

        def complete(text, label):
            return server.complete(text, label)

        def next_words(text, label):
            return server.next_words(text, label)
    else:

        def complete(text):
            return server.complete(text, tf.fill(tf.shape(text), ""))

        def next_words(text):
            return server.next_words(text, tf.fill(tf.shape(text), ""))

    ids = tf.ones([1, 1], tf.int32)
    model((ids, tf.zeros([1], tf.int32)) if model.conditioned else ids)  # variables
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(tokenizer)
    # The first endpoint is also `serving_default`.
    archive.add_endpoint("complete", complete, input_signature=specs)
    archive.add_endpoint("next_words", next_words, input_signature=specs)
    archive.write_out(str(path), verbose=False)
    return path
