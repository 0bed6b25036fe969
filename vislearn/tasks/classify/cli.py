"""The command-line faces of classification: ``vislearn eval`` and ``vislearn predict`` on a classify run."""
from __future__ import annotations

import csv
import sys
from collections import Counter

SUMMARY_KEYS = ("split", "accuracy", "macro_f1", "auroc", "ece", "temperature")


def prediction_table(run, predictions: list) -> tuple[list[str], list[list]]:
    """(header, rows) of the predictions CSV: :data:`PREDICTION_COLUMNS`, then one ``prob_<class>`` per class."""
    from .train import PREDICTION_COLUMNS, prediction_cells

    names = list(predictions[0].probabilities) if predictions else list(run.class_names)
    header = PREDICTION_COLUMNS + [f"prob_{n}" for n in names]
    rows = [prediction_cells(p.path, p.predicted, p.confidence, p.refer_to_human, p.refer_reason, p.prediction_set, p.unlike_score)
            + [f"{p.probabilities[n]:.4f}" for n in names] for p in predictions]
    return header, rows


def cli_eval(args, log) -> dict:
    from ..verbs import evaluate

    m = evaluate(args.run, args.data, args.out, args.refer_below, progress=not args.quiet)
    log(f"accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  AUROC {m['auroc']:.4f}  ECE {m['ece']:.4f}  on {m['num_images']} images")
    log(f"wrote {m['out']}/metrics.json, predictions_test.csv, confusion_matrix.png, reliability.png")
    return {k: m[k] for k in ("out", "num_images", "accuracy", "macro_f1", "auroc", "ece", "per_class")}


def cli_predict(args, log) -> dict:
    from ...run import Run
    from .run import referrer
    from ..verbs import predict

    run = Run.load(args.run)  # one run: the rule logged below is the rule predict applied
    predictions, problems = predict(run, args.images, progress=not args.quiet, refer_below=args.refer_below, backend=args.backend,
                                    batch_size=args.batch_size, max_error=args.max_error, prediction_sets=args.prediction_sets)
    header, rows = prediction_table(run, predictions)
    if args.out:
        with open(args.out, "w", newline="") as f:
            csv.writer(f).writerows([header] + rows)
    elif not args.json:
        csv.writer(sys.stdout).writerows([header] + rows)
    for problem in problems:
        print(f"skipped {problem.path}: {problem.reason}", file=sys.stderr)
    log(referrer(run, args.refer_below, args.max_error, args.prediction_sets).describe())
    reasons = Counter(p.refer_reason.split(":")[0] for p in predictions if p.refer_to_human)
    detail = ", ".join(f"{n} {r}" for r, n in reasons.most_common())
    log(f"{len(predictions)} predicted, {sum(reasons.values())} referred to a human{f' ({detail})' if detail else ''}, "
        f"{len(problems)} unreadable" + (f"; wrote {args.out}" if args.out else ""))
    return {"predictions": [p._asdict() for p in predictions], "skipped": [vars(p) for p in problems], "out": args.out}


def cli_explain(args, log) -> dict:
    from ..verbs import explain

    written = explain(args.run, args.image, args.out, args.method, args.target)
    files = [str(v) for k, v in written.items() if k not in ("target", "layers")] + [str(p) for p in written["layers"]]
    log(f"explained class {written['target']!r}; wrote:\n  " + "\n  ".join(files))
    return {"target": written["target"], "files": files}
