"""``vislearn review RUN --data DIR``: likely label mistakes in a labelled folder or CSV, by confident learning.

Out-of-sample probabilities (:mod:`.review_probabilities`, ``method``): by default a cheap, documented approximation of
cross-fitting the whole recipe (a logistic regression cross-fitted on the run's features: no image's probability comes
from a head that saw its label, but the features come from a network that trained on these labels when the folder is
the run's own training data, so a memorised mistake can be missed); ``retrain``, the exact method, trains the run's
recipe once per fold. The log and the report say which made the probabilities and its CPU cost.

Writes ``review.csv`` (rank, path, given label, suggested label, probabilities, margin, flagged), ``review_duplicates.csv``
(copies of one photo with different labels or in different splits, :mod:`.classify_review_duplicates`) and
``review.html`` (the images, given -> suggested, the Grad-CAM of the suggested class for the first ``explain`` of
them, and the copies side by side). ``top``: review.csv goes on past the flagged images to at least ``top`` rows, the
unflagged ones ordered by the same normalised margin (``flagged`` = ``no``; the page shows the flagged ones only).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...anomaly.class_gaussian import normalise
from ...data import read_labelled
from ...files import write_csv_rows
from ...metrics.label_issues import LabelIssues, find_label_issues, ranked_beyond
from ...metrics.label_ranking import RANKING_SAYS
from ...models.with_features import WithFeatures, split_outputs
from ...report.review import write_review_page
from .train import labelled_for_run, predict_logits
from .review_duplicates import DUPLICATE_COLUMNS, labelled_duplicates, split_of_each
from .review_probabilities import METHODS, cpu_seconds, stratified_folds
from .run import load_model

REVIEW_COLUMNS = ["rank", "path", "given", "suggested", "given_probability", "suggested_probability", "margin", "normalised_margin",
                  "both_tests", "run_predicted", "flagged", "mistake_probability"]


def review(run, data_source: str | Path, out_dir: Path, folds: int = 5, explain: int = 24, progress: bool = True,
           log=print, top: int = 0, keep_probabilities: bool = False, method: str = "features", rank: str = "auto") -> dict:
    """Rank likely label mistakes in ``data_source`` (all its images, every split) on out-of-fold probabilities made by
    ``method`` (:data:`.review_probabilities.METHODS`: ``features``, ``retrain``).
    ``rank``: the list's order (:func:`.label_issues.find_label_issues`: auto, margin, pairs).
    ``keep_probabilities``: the summary also holds ``paths`` and the out-of-fold ``probabilities`` (N, K) (for
    benchmarks; not JSON)."""
    chosen = METHODS.get(method)  # an unknown name fails before any work
    data = labelled_for_run(data_source, run, min_classes=2, split="all")
    samples = data.splits["all"]
    k = len(run.class_names)
    outputs, labels, indices, failed = predict_logits(WithFeatures(load_model(run), k, spread=False).eval(), samples, run.preprocessing,
                                                      run.config, "review", progress)
    logits, features = split_outputs(outputs, k)
    labels_n = np.asarray(labels, dtype=np.int64)
    fold_n = stratified_folds(labels_n, folds, run.config.seed)
    folds = int(fold_n.max()) + 1
    ordered = [samples[i] for i in np.asarray(indices).tolist()]
    start = cpu_seconds()
    features_nd = normalise(features).numpy()  # the heads' inputs, and the copies check's
    probs = chosen.fit(run, ordered, labels_n, features_nd, fold_n, log, progress)
    made_by = chosen.says.format(folds=folds, model=run.config.model, epochs=run.config.epochs)
    method_cpu_seconds = round(cpu_seconds() - start, 1)
    issues = find_label_issues(labels_n, probs, rank)
    paths = [s.path for s in ordered]
    out_dir.mkdir(parents=True, exist_ok=True)
    run_predicted = logits.argmax(1).numpy()
    rows = _rows(issues, paths, labels_n, probs, run_predicted, run.class_names)
    tail = ranked_beyond(labels_n, probs, issues.indices_m, top - len(rows), issues.ranked_by, issues.confident_joint_kk)
    ranked = rows + _rows(tail, paths, labels_n, probs, run_predicted, run.class_names, flagged=False, first_rank=len(rows) + 1)
    write_csv_rows(out_dir / "review.csv", ranked, REVIEW_COLUMNS)
    heldout_accuracy = float((probs.argmax(1) == labels_n).mean())
    # the splits a run with this run's settings makes of this data (its own split when it is the run's training data)
    as_split = read_labelled(data_source, run.config.seed, run.config.val_fraction, run.config.test_fraction, min_classes=1)
    copies = labelled_duplicates(paths, [run.class_names[i] for i in labels_n], split_of_each(paths, as_split.splits),
                                 features_nd, progress, log=lambda line: log(f"review: copies check: {line}"))
    write_csv_rows(out_dir / "review_duplicates.csv", copies, DUPLICATE_COLUMNS)
    summary = {"images": len(labels_n), "issues": len(rows), "both_tests": int(issues.both_m.sum()), "folds": folds,
               "method": method, "probabilities_from": made_by, "ranked_by": issues.ranked_by, "ranking_reason": issues.why, "method_cpu_seconds": method_cpu_seconds, "caveat": chosen.caveat,
               "out_of_fold_accuracy": heldout_accuracy, "ranked_beyond_flagged": len(ranked) - len(rows),
               "unreadable": [vars(p) for p in [*data.skipped, *failed]], "csv": str(out_dir / "review.csv"),
               "duplicate_groups": len({r["group"] for r in copies}), "duplicates_csv": str(out_dir / "review_duplicates.csv")}
    if keep_probabilities:
        summary.update(paths=paths, probabilities=probs)
    log(f"review: {len(rows)} likely label mistakes among {len(labels_n)} images, most likely first by the "
        f"{RANKING_SAYS[issues.ranked_by]} ({issues.why}); {summary['both_tests']} of them also pass the stricter test (column both_tests). Confident learning on "
        f"out-of-fold probabilities ({method}: {made_by}; {method_cpu_seconds:.0f} CPU s), accuracy "
        f"{heldout_accuracy:.3f} against the given labels")
    if len(ranked) > len(rows):
        log(f"review: review.csv goes on with the next {len(ranked) - len(rows)} images by the same score, not flagged "
            f"(column flagged = no; --top {top})")
    log(f"review: {summary['duplicate_groups']} groups of copies of one photo (exact or near, verified on the pixels) with "
        f"different labels or in different splits -> {out_dir / 'review_duplicates.csv'}")
    model = load_model(run) if explain and rows else None  # a fresh one for Grad-CAM
    summary["report"] = str(write_review_page(out_dir, rows, run, explain, summary, model, copies))
    return summary


def _rows(issues: LabelIssues, paths, labels_n, probs, run_predicted, class_names, flagged: bool = True,
          first_rank: int = 1) -> list[dict]:
    rows = []
    mistake = issues.mistake_m if issues.mistake_m is not None else np.full(len(issues.indices_m), np.nan)
    for rank, (i, quality, suggested, margin, both, wrong) in enumerate(zip(
            issues.indices_m.tolist(), issues.quality_m.tolist(), issues.suggested_m.tolist(), issues.margin_m.tolist(),
            issues.both_m.tolist(), mistake.tolist()), first_rank):
        given = int(labels_n[i])
        rows.append({"rank": rank, "path": paths[i], "given": class_names[given], "suggested": class_names[suggested],
                     "given_probability": round(float(probs[i, given]), 4), "suggested_probability": round(float(probs[i, suggested]), 4),
                     "margin": round(float(margin), 4),
                     "normalised_margin": round(float(quality), 4), "both_tests": "yes" if both else "no", "run_predicted": class_names[int(run_predicted[i])],
                     "flagged": "yes" if flagged else "no", "mistake_probability": round(float(wrong), 4)})
    return rows

