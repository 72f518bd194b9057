"""Scores for model outputs, from the libraries people report with."""

from __future__ import annotations


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
