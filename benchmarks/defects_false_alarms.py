"""Does the defect threshold keep its false-alarm promise? Good test images flagged against the conformal promise,
and detection per defect type at that threshold, for several asked rates, over trained runs.

    python benchmarks/defects_false_alarms.py RUN [RUN ...] [--rates 0.01 0.05]

Each RUN is a `vislearn train defects` folder whose data had a test/ split. A run's threshold.json keeps the scores of
its calibration good images (the held-out images that tuned nothing), so the threshold of another asked rate is the
same rule applied to them: the model and its test scores do not depend on the rate, only the threshold
does (training with `--max-false-alarm R` gives the same run but for the threshold and its outlier list).
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from vislearn.anomaly.threshold import conformal_threshold
from vislearn.metrics.defects import false_alarm_check


def _test_rows(run: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(run / "predictions_test.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return np.asarray([r["defect_type"] for r in rows]), np.asarray([float(r["score"]) for r in rows])


def at_rate(run: Path, rate: float, tail: bool = True) -> dict:
    """The run's false alarms and detections at the threshold for ``rate`` (``tail`` False: the conformal rule alone)."""
    saved = json.loads((run / "threshold.json").read_text())
    conformal = conformal_threshold(torch.tensor(saved["calibration_scores"]), rate, tail=tail)
    types, scores = _test_rows(run)
    flagged = scores > conformal.threshold
    good = types == "good"
    check = false_alarm_check(int(flagged[good].sum()), int(good.sum()), conformal._asdict())
    per_type = {t: {"detected": float(flagged[types == t].mean()),
                    "auroc": float(roc_auc_score(np.r_[np.zeros(good.sum()), np.ones((types == t).sum())],
                                                 np.r_[scores[good], scores[types == t]]))}
                for t in sorted(set(types) - {"good"})}
    return {"run": str(run), "rate": rate, "n": conformal.calibration_images, "threshold": conformal.threshold,
            "promised": conformal.guaranteed_false_alarm, "fallback": bool(conformal.fallback), **check,
            "image_auroc": float(roc_auc_score(~good, scores)), "per_type": per_type}


def _pooled(rows: list[dict]) -> dict:
    """All runs' good test images together against the pooled beta-binomial ranges (sums of the runs' draws)."""
    flagged, good = sum(r["flagged"] for r in rows), sum(r["good"] for r in rows)
    return {"flagged": flagged, "good": good, "rate": flagged / good,
            "promised_mean": float(np.average([r["promised"] for r in rows], weights=[r["good"] for r in rows]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.01, 0.05])
    args = parser.parse_args()
    for rate, tail in [(rate, tail) for rate in args.rates for tail in (False, True)]:
        rows = [at_rate(run, rate, tail) for run in args.runs]
        print(f"\n--max-false-alarm {rate}, " + ("conformal rank or Gumbel tail bound, the higher (default)" if tail else "conformal rank alone"))
        print("run | calibration n | promised | good flagged | 95 % range | p | image AUROC | detected per type (AUROC)")
        for r in rows:
            types = ", ".join(f"{t} {v['detected']:.0%} ({v['auroc']:.4f})" for t, v in r["per_type"].items())
            print(f"{Path(r['run']).name} | {r['n']} | {r['promised']:.1%} (threshold {r['threshold']:.2f}) | "
                  f"{r['flagged']}/{r['good']} ({r['rate']:.1%}) | "
                  f"{r['expected'][0]:.1%}-{r['expected'][1]:.1%} | {r['p_value']:.3f} | {r['image_auroc']:.4f} | {types}")
        pooled = _pooled(rows)
        print(f"all runs: {pooled['flagged']}/{pooled['good']} good flagged ({pooled['rate']:.1%}), promised {pooled['promised_mean']:.1%}")


if __name__ == "__main__":
    main()
