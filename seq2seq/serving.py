"""Exports that take raw strings: tokenization, model and decoding in one graph.

An exported SavedModel loads with `tf.saved_model.load` in a Python that
imports only `tensorflow` and `tensorflow_text` (for the SentencePiece ops),
and runs through `saved_model_cli run`. It never needs this package.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from seq2seq.text.normalize import clean_text

# Source lengths are rounded up to a multiple of this, so the jit-compiled
# decoder sees a few shapes rather than one per request.
LENGTH_BUCKET = 16


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

    Args:
        model: An `EncoderDecoder`.
        tokenizer: The `SentencePieceTokenizer` of both sides (one shared
            vocabulary), without BOS/EOS.
        beam_size, length_penalty_alpha, max_length, max_length_ratio:
            Decoding options, fixed at export.
        max_source_length: Pieces read from each source (longer ones are
            truncated and flagged in `source_truncated`).
        jit_compile: Compile the decoder with XLA (source lengths are
            rounded up to multiples of 16 to bound recompilation).
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

        def decode(ids):
            return model.translate(ids, self.bos_id, self.eos_id, **options)

        self._decode = tf.function(
            decode,
            jit_compile=jit_compile,
            reduce_retracing=True,
        )

    def serve(self, text):
        """`text` `[batch]` -> translations, scores and truncation flags."""
        ids, truncated = source_ids(self.tokenizer, text, self.max_source_length)
        decoded, lengths, scores = self._decode(ids)
        tokens = strip_to_ragged(decoded, lengths, self.eos_id)
        return {
            "translations": self.tokenizer.detokenize(tokens),
            "scores": scores,
            "source_truncated": truncated,
        }


def _write_text_export(path, serve, *tracked):
    """Writes a SavedModel whose `serving_default` is `serve(text)`.

    Written with `keras.export.ExportArchive`, which tracks every variable
    of `tracked` explicitly, so TF1-style loaders (`saved_model_cli run`, TF
    Serving) restore them as well as `tf.saved_model.load` does.
    """
    archive = keras.export.ExportArchive()
    for layer in tracked:
        archive.track(layer)
    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[tf.TensorSpec([None], tf.string, name="text")],
    )
    archive.write_out(str(path), verbose=False)
    return path


def export_translator(model, tokenizer, path, **options):
    """Saves a SavedModel whose `serving_default` maps `text` to translations.

    Written with `keras.export.ExportArchive`, which tracks every variable
    explicitly, so TF1-style loaders (`saved_model_cli run`, TF Serving)
    restore them as well as `tf.saved_model.load` does.

    Returns:
        The path.
    """
    # Create every variable eagerly (not while tracing the signature), so the
    # SavedModel initialises them for any loader, saved_model_cli's included.
    dummy = tf.ones([1, 1], tf.int32)
    model((dummy, dummy))
    translator = Translator(model, tokenizer, **options)
    return _write_text_export(path, translator.serve, model, tokenizer)


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
    sentence). It loads with only `tensorflow` imported.

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
        jit_compile: Compile the model call with XLA.
    """

    def __init__(
        self, model, tokenizer, label_names, max_length=512, jit_compile=False
    ):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.label_names = tf.constant([str(name) for name in label_names])
        self.max_length = int(max_length)

        def probabilities(ids):
            return tf.nn.softmax(tf.cast(model(ids, training=False), tf.float32))

        self._probabilities = tf.function(
            probabilities, jit_compile=jit_compile, reduce_retracing=True
        )

    def serve(self, text):
        """`text` `[batch]` -> probabilities, label names and truncation flags."""
        ids, truncated = source_ids(self.tokenizer, clean_text(text), self.max_length)
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
    beginning was read). Like `export_translator`, it loads with only
    `tensorflow` and `tensorflow_text` imported.

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
    return _write_text_export(path, classifier.serve, model, tokenizer)


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
