"""Model outputs over whole data sets, and their scores from the libraries
people report with."""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf

from seq2seq import serving
from seq2seq.data.files import DataError


def translate_all(model, tokenizer, pairs, batch_size=128, **options):
    """Hypotheses and references for every `(source, target)` pair.

    Decodes as the export does (`serving.Translator`: beam search under
    XLA, sources cut to `max_source_length` pieces), `batch_size` pairs at
    a time, in the order of `pairs`.

    Args:
        model: An `EncoderDecoder`.
        tokenizer: Its `SentencePieceTokenizer`.
        pairs: A dataset of `(source, target)` strings.
        batch_size: Sources decoded at once.
        **options: `Translator` options: `beam_size`,
            `length_penalty_alpha`, `max_length`, `max_length_ratio`,
            `max_source_length`.

    Returns:
        `(hypotheses, references)`, lists of `str`.
    """
    return _translate_with(
        serving.Translator(model, tokenizer, **options), pairs, batch_size
    )


def _translate_with(translator, pairs, batch_size=128):
    hypotheses, references = [], []
    for sources, targets in pairs.batch(batch_size):
        translations = translator.serve(sources)["translations"]
        hypotheses += [t.decode() for t in translations.numpy()]
        references += [t.decode() for t in targets.numpy()]
    return hypotheses, references


def translation_evaluator(tokenizer, pairs, **options):
    """`model -> scores` of `pairs`, for `training.EvaluationCallback`.

    Decodes every pair as `translate_all` does (the export's beam search,
    compiled once per model, not once per epoch; `evaluate.cache` holds
    the model and its translator) and returns `translation_scores`
    without the signatures, plus a
    one-line `report`, so that each epoch logs `val_bleu`, `val_chrf` and
    `val_exact_match`, and early stopping can follow BLEU.

    Args:
        tokenizer: The model's `SentencePieceTokenizer`.
        pairs: A dataset of `(source, target)` strings, e.g. validation.
        **options: `translate_all`'s decoding options.
    """

    # One translator per model, reused every epoch: its compiled searches
    # read the model's variables, so they see each epoch's weights without
    # compiling again.
    cache = {}

    def evaluate(model):
        if cache.get("model") is not model:
            cache.update(
                model=model, translator=serving.Translator(model, tokenizer, **options)
            )
        scores = translation_scores(*_translate_with(cache["translator"], pairs))
        scores = {k: v for k, v in scores.items() if not k.endswith("_signature")}
        scores["report"] = (
            f"BLEU {scores['bleu']:.2f}, chrF {scores['chrf']:.2f}, "
            f"exact match {scores['exact_match']:.3f}"
        )
        return scores

    evaluate.cache = cache
    return evaluate


def write_results(folder, scores, texts=None) -> None:
    """Writes `scores` to `folder/scores.json`, and text files of lines.

    Args:
        folder: An existing directory.
        scores: A JSON-serialisable dict.
        texts: `{file name: lines}`, each written one `str` a line (the
            hypotheses of a test set, say).
    """
    with open(os.path.join(folder, "scores.json"), "w", encoding="utf-8") as file:
        json.dump(scores, file, indent=2)
    for name, lines in (texts or {}).items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")


def tag_all(model, batches):
    """Gold and predicted tag ids per sentence, unpadded, in batch order.

    Args:
        model: A `SequenceTagger`.
        batches: `(features, tags)` batches (`seq2seq.data.tagging`), whose
            `features["words"]` is 0 at padding.

    Returns:
        `(gold, predicted)`: lists of lists of tag ids, one per sentence.
    """
    predict = tf.function(model.predict_tags, reduce_retracing=True)
    gold, predicted = [], []
    for features, tags in batches:
        ids = predict(features).numpy()
        lengths = (features["words"].numpy() > 0).sum(axis=1)
        if ids.shape != tuple(tags.shape):
            raise RuntimeError(
                f"predicted tags of shape {ids.shape} for gold tags of shape "
                f"{tuple(tags.shape)}"
            )
        for row, length in enumerate(lengths):
            gold.append(tags[row, :length].numpy().tolist())
            predicted.append(ids[row, :length].tolist())
    return gold, predicted


def tagger_entity_scores(model, batches, tag_names) -> dict:
    """`entity_scores` of a tagger's predictions on `batches`.

    Args:
        model, batches: As `tag_all`.
        tag_names: The IOB2 name of each tag id.
    """
    gold, predicted = tag_all(model, batches)
    return entity_scores(
        [[tag_names[t] for t in sentence] for sentence in gold],
        [[tag_names[t] for t in sentence] for sentence in predicted],
    )


def classifier_scores(
    model, tokenizer, texts, labels, num_classes, max_length, batch_size=64
) -> dict:
    """`classification_scores` of a classifier on every text, and by length.

    Every text gets a prediction (`classify_all`), an empty one too.

    Returns:
        `classification_scores`, and `by_length` (`accuracy_by_length`).
    """
    predicted = classify_all(model, tokenizer, texts, max_length, batch_size)
    scores = classification_scores(labels, predicted, num_classes)
    scores["by_length"] = accuracy_by_length(texts, labels, predicted)
    return scores


def describe_classifier_scores(scores) -> str:
    """`classifier_scores` as lines: accuracy and macro F1, then by length."""
    lines = [
        f"test accuracy {scores['accuracy']:.4f}  macro F1 {scores['macro_f1']:.4f}"
        f"  ({scores['examples']} examples)"
    ]
    for name, part in scores["by_length"].items():
        lines.append(f"  {name}: accuracy {part['accuracy']:.4f} ({part['examples']})")
    return "\n".join(lines)


def classify_all(model, tokenizer, texts, max_length, batch_size=64):
    """The predicted class of every text, each read up to `max_length` pieces.

    Every text gets a prediction, an empty one too (its ids are all
    padding), as the export gives.

    Returns:
        An `int` array of class ids.
    """
    ids, _ = serving.source_ids(
        tokenizer, tf.constant(list(texts), tf.string), max_length
    )
    logits = model.predict(ids, batch_size=batch_size, verbose=0)
    return np.argmax(logits, axis=-1)


def accuracy_by_length(texts, labels, predicted, groups=((1, 4), (5, 14))) -> dict:
    """Accuracy of the short, medium and long texts, in whitespace words.

    Args:
        texts: `str` or `bytes` texts.
        labels, predicted: Class ids, aligned with `texts`.
        groups: `(low, high)` word counts of each group but the last, which
            holds the texts longer than the last `high`.

    Returns:
        `{"1-4 words": {"examples", "accuracy"}, ..., "15+ words": ...}`,
        leaving out groups with no text.
    """
    words = np.array([len(t.split()) for t in texts])
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    report = {}
    for low, high in (*groups, (groups[-1][1] + 1, None)):
        chosen = (words >= low) & (words <= (high or words.max(initial=0)))
        name = f"{low}+ words" if high is None else f"{low}-{high} words"
        if chosen.any():
            correct = float(np.mean(labels[chosen] == predicted[chosen]))
            report[name] = {"examples": int(chosen.sum()), "accuracy": correct}
    return report


def translation_scores(hypotheses, references) -> dict:
    """BLEU and chrF (sacrebleu, with their signatures) and exact match."""
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses for {len(references)} references"
        )
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    bleu_score = bleu.corpus_score(hypotheses, [references])
    chrf_score = chrf.corpus_score(hypotheses, [references])
    exact = sum(
        h.strip() == r.strip() for h, r in zip(hypotheses, references, strict=True)
    )
    return {
        "bleu": bleu_score.score,
        "bleu_signature": str(bleu.get_signature()),
        "chrf": chrf_score.score,
        "chrf_signature": str(chrf.get_signature()),
        "exact_match": exact / max(len(references), 1),
    }


def entity_scores(gold, predicted) -> dict:
    """Entity-level precision, recall and F1 (seqeval), micro and per type.

    Args:
        gold, predicted: Lists of IOB2 tag sequences, sentence-aligned.

    Returns:
        `{"precision", "recall", "f1", "per_type": {type: {"precision",
        "recall", "f1", "support"}}, "report"}`, where `report` is seqeval's
        printable table. The scores are seqeval's default (conlleval)
        evaluation, the one CoNLL-2003 results are reported with.
    """
    from seqeval.metrics import classification_report

    if len(gold) != len(predicted):
        raise ValueError(f"{len(predicted)} predicted sentences for {len(gold)} gold")
    for index, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if len(g) != len(p):
            raise ValueError(
                f"sentence {index}: {len(p)} predicted tags for {len(g)} words"
            )
    if all(tag == "O" for tags in (*gold, *predicted) for tag in tags):
        # seqeval's report fails when there is no entity on either side.
        zero = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
        return {**zero, "per_type": {}, "report": "no entities in gold or predicted"}
    table = classification_report(gold, predicted, output_dict=True, zero_division=0)
    micro = table.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    per_type = {
        kind: {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "support": int(row["support"]),
        }
        for kind, row in table.items()
        if not kind.endswith(" avg")
    }
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "per_type": per_type,
        "report": classification_report(gold, predicted, digits=4, zero_division=0),
    }


def classification_scores(labels, predicted, num_classes) -> dict:
    """Accuracy, macro F1 and per-class F1 of integer predictions.

    F1 of class c is 2 TP / (2 TP + FP + FN), or 0 when the class is neither
    present nor predicted (scikit-learn's default); macro F1 is their mean.
    """
    if len(labels) != len(predicted):
        raise ValueError(f"{len(predicted)} predictions for {len(labels)} labels")
    pairs = list(zip(labels, predicted, strict=True))
    per_class = []
    for c in range(num_classes):
        tp = sum(y == c and p == c for y, p in pairs)
        fp = sum(y != c and p == c for y, p in pairs)
        fn = sum(y == c and p != c for y, p in pairs)
        per_class.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return {
        "accuracy": sum(y == p for y, p in pairs) / max(len(pairs), 1),
        "macro_f1": sum(per_class) / num_classes,
        "f1_per_class": per_class,
        "examples": len(pairs),
    }


def load_judge(path, label_names):
    """A classifier export as the judge of a conditioned language model.

    Args:
        path: A directory written by `serving.export_classifier` (the
            output of `recipes/sentiment.py`: `OUTPUT_DIR/export`).
        label_names: The language model's label names, in id order; each
            must be one of the classifier's label names (labels are mapped
            by name, not by id).

    Returns:
        `classify`: `texts -> label names` (`list[str]` both), through the
        export's `serving_default`.

    Raises:
        DataError: when the language model has no labels, `path` is not
            such an export, or a label is unknown to the classifier.
    """
    if not label_names:
        raise DataError(
            f"--judge {path}: the language model is not conditioned on a label; "
            "give --label-column to judge its samples per label"
        )
    try:
        signatures = tf.saved_model.load(os.fspath(path)).signatures
    except (OSError, ValueError) as error:
        raise DataError(f"--judge {path}: not a SavedModel ({error})") from None
    if "label_names" not in signatures:
        raise DataError(
            f"--judge {path}: no label_names signature; it needs a classifier "
            "exported by recipes/sentiment.py (serving.export_classifier) of this "
            "version"
        )
    names = signatures["label_names"]()["label_names"].numpy()
    known = [name.decode() for name in names]
    unknown = [str(name) for name in label_names if str(name) not in known]
    if unknown:
        raise DataError(
            f"--judge {path}: the classifier's labels are {known}; the language "
            f"model's labels {unknown} are not among them (labels are matched by "
            "name: give recipes/sentiment.py --label-names to rename)"
        )
    serve = signatures["serving_default"]

    def classify(texts):
        labels = serve(text=tf.constant(list(texts), tf.string))["labels"]
        return [label.decode() for label in labels.numpy()]

    return classify


def sample_texts(model, tokenizer, label_names, count, max_length, seed=0, **sampling):
    """`count` sampled texts per label (or `{"all": texts}` unconditioned).

    Args:
        model: A `LanguageModel`.
        tokenizer: Its `SentencePieceTokenizer` (`bos_id`, `eos_id`).
        label_names: The model's label names in id order, or None.
        count: Texts per label.
        max_length: Pieces drawn at most per text.
        seed: Label i draws with the seed `[seed, i]`.
        **sampling: `temperature`, `top_k`, `top_p` (`decoding.sample`).

    Returns:
        `{label name: [str texts]}`, in label order.
    """
    samples = {}
    for index, name in enumerate(label_names or ["all"]):
        condition = np.full([count], index, np.int32) if label_names else None
        ids, lengths, _ = model.generate(
            count, tokenizer.bos_id, tokenizer.eos_id, max_length, condition,
            seed=[seed, index], **sampling,
        )  # fmt: skip
        ragged = serving.strip_to_ragged(ids, lengths, tokenizer.eos_id)
        texts = tokenizer.detokenize(ragged).numpy()
        samples[str(name)] = [text.decode("utf-8", "replace") for text in texts]
    return samples


def generation_agreement(classify, samples, shown=3) -> dict:
    """How often a classifier gives each sample the label it was drawn for.

    Args:
        classify: `texts -> label names` (`load_judge`).
        samples: `{requested label: [texts]}` (`sample_texts`).
        shown: Samples kept per label in `examples`.

    Returns:
        `{"agreement": {label: share}, "agreed": {label: count},
        "samples_per_label": {label: count}, "overall": share of all samples,
        "examples": {label: [{"text", "judged"}]}}`, and `judged`: `{label:
        [the classifier's label of each sample]}`.
    """
    judged = {label: classify(texts) for label, texts in samples.items()}
    agreed = {
        label: sum(given == label for given in judged[label]) for label in samples
    }
    sizes = {label: len(texts) for label, texts in samples.items()}
    return {
        "agreement": {
            label: agreed[label] / sizes[label] if sizes[label] else 0.0
            for label in samples
        },
        "agreed": agreed,
        "samples_per_label": sizes,
        "overall": sum(agreed.values()) / max(sum(sizes.values()), 1),
        "examples": {
            label: [
                {"text": text, "judged": given}
                for text, given in zip(texts[:shown], judged[label], strict=False)
            ]
            for label, texts in samples.items()
        },
        "judged": judged,
    }


def describe_agreement(scores) -> str:
    """`generation_agreement` as lines: per label, overall, a few samples."""
    lines = [
        f"the judge agrees with the requested label on {scores['overall']:.1%} "
        f"of {sum(scores['samples_per_label'].values())} samples"
    ]
    for label, share in scores["agreement"].items():
        count = scores["samples_per_label"][label]
        lines.append(f"  {label}: {share:.1%} ({scores['agreed'][label]}/{count})")
        for example in scores["examples"][label]:
            lines.append(f"    [{example['judged']}] {example['text']}")
    return "\n".join(lines)
