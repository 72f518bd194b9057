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
