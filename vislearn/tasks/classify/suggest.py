"""``vislearn suggest RUN --pool DIR -k 100``: which unlabelled images a person should label next.

The run's network reads every pool image once (logits and the features of its unlike-training score). Then:

- images **unlike the training images** (the run's own referral rule, ``--unlike-rate`` at train) form their own
  list, most foreign first: labelling them teaches the model something new, or they do not belong in the data;
- of the others, ``k`` are chosen by uncertainty (1 - margin of the calibrated probabilities) spread over the
  collection (weighted k-center greedy on the normalised features, :mod:`vislearn.metrics.active`).

Writes ``suggest.csv`` (rank, path, list, predicted, confidence, uncertainty, unlike score) to label in that order,
and ``suggest.html``, a contact sheet of both lists.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...data import Sample
from ...data.images import expand_images
from ...files import write_csv_rows
from ...metrics.active import margin_uncertainty, weighted_k_center
from ...metrics.calibration import calibrated_probs
from ...metrics.referral import UNLIKE
from ...metrics.unlike import normalise
from ...models.with_features import WithFeatures, split_outputs
from ...report.suggest import write_suggest_page
from . import run as classify_run
from .train import predict_logits

SUGGEST_COLUMNS = ["rank", "path", "list", "predicted", "confidence", "uncertainty", "unlike_score"]
UNCERTAIN = "uncertain"


def suggest(run, pool: str | Path, out_dir: Path, k: int = 100, progress: bool = True, log=print) -> dict:
    """Rank ``k`` pool images to label next, plus the pool images unlike the training ones; write CSV and HTML."""
    if k < 1:
        from ...errors import VislearnError

        raise VislearnError(f"-k must be at least 1, got {k}")
    samples = [Sample(str(p), -1) for p in expand_images([pool])]
    referrer = classify_run.referrer(run)
    model = WithFeatures(classify_run.load_model(run), len(run.class_names)).eval()
    outputs, _, indices, failed = predict_logits(model, samples, run.preprocessing, run.config, "suggest", progress)
    logits, features = split_outputs(outputs, len(run.class_names))
    paths = [samples[i].path for i in np.asarray(indices).tolist()]
    decisions = referrer.decide(logits, referrer.unlike_scores(features))  # the run's own rule says which are foreign
    uncertainty = margin_uncertainty(calibrated_probs(logits, referrer.temperature).numpy())
    foreign = np.array([d.refer_reason == UNLIKE for d in decisions], dtype=bool)
    inside, outside = np.flatnonzero(~foreign), np.flatnonzero(foreign)
    picked = inside[weighted_k_center(normalise(features[inside]).numpy(), uncertainty[inside], k)] if len(inside) else []
    outside = sorted(outside.tolist(), key=lambda i: -decisions[i].unlike_score)  # most foreign first (stable)

    def row(rank: int, i: int, kind: str) -> dict:
        d = decisions[i]
        return {"rank": rank, "path": paths[i], "list": kind, "predicted": run.class_names[d.predicted],
                "confidence": round(d.confidence, 4), "uncertainty": round(float(uncertainty[i]), 4),
                "unlike_score": round(d.unlike_score, 3) if d.unlike_score is not None else ""}

    rows = [row(r, int(i), UNCERTAIN) for r, i in enumerate(picked, 1)]
    rows += [row(r, i, UNLIKE) for r, i in enumerate(outside, 1)]
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv_rows(out_dir / "suggest.csv", rows, SUGGEST_COLUMNS)
    summary = {"pool": len(samples), "readable": len(paths), "suggested": len(picked), "unlike_training": len(outside),
               "unreadable": [vars(p) for p in failed], "csv": str(out_dir / "suggest.csv"),
               "mean_uncertainty_suggested": round(float(uncertainty[picked].mean()), 4) if len(picked) else None,
               "mean_uncertainty_pool": round(float(uncertainty[inside].mean()), 4) if len(inside) else None}
    summary["report"] = str(write_suggest_page(out_dir, rows, summary))
    log(f"suggest: {len(picked)} of {len(inside)} pool images like the training ones, chosen by uncertainty (1 - margin of the "
        f"calibrated probabilities, T = {referrer.temperature:.2f}) spread by weighted k-center greedy on the run's features; "
        f"{len(outside)} unlike the training images listed apart" + (f"; {len(failed)} unreadable skipped" if failed else ""))
    return summary
