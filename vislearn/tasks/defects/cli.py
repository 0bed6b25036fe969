"""``vislearn defects VERB``: what a user does to a trained defects run besides predict and eval (cli.py stays thin)."""
from __future__ import annotations

import argparse
from typing import Callable

# the choices of --student, the first the default: add_good.STUDENT_CHOICES (a test keeps them equal), not imported
# from there so that `--help` does not load torch
STUDENT_CHOICES = ("fine-tune", "keep")


def add_arguments(p: argparse.ArgumentParser, common: Callable[[argparse.ArgumentParser], None], func: Callable) -> None:
    """The ``defects`` verbs under ``p``; ``common`` adds --quiet/--json, ``func`` runs the parsed command."""
    verbs = p.add_subparsers(dest="defects_verb", required=True, metavar="VERB")
    a = verbs.add_parser("add-good", help="false alarms marked good join the run's memory; the threshold is set again, no retrain",
                         description="Add good images (false alarms) to a defects run: memory banks, pixel and whole-image "
                                     "Gaussians take them, the held-out good images are re-scored and the threshold re-fitted "
                                     "at the run's --max-false-alarm. A method's student is fine-tuned briefly on them (with the run's own "
                                     "good images when still on disk) unless --student keep. Writes a new run folder.")
    a.add_argument("run", help="a trained defects run folder (left as it is unless --in-place)")
    a.add_argument("images", nargs="+", help="good images, folders or list files of paths")
    a.add_argument("--out", help="the updated run's folder (default RUN-good, RUN-good2, ...)")
    a.add_argument("--in-place", action="store_true", help="update RUN itself; its replaced files are kept in RUN/before-add-good-N/")
    a.add_argument("--keep-defect-like", action="store_true",
                   help="add images that look like a real local defect too (default: warned about and left out)")
    a.add_argument("--student", choices=STUDENT_CHOICES, default=STUDENT_CHOICES[0],
                   help="fine-tune (default): a few epochs of the student (random-distill, patchcore+distill) on the new images "
                        "mixed with the run's own, early-stopped on its held-out good images, then its map's units re-fitted; "
                        "keep: the student stays as trained (faster)")
    a.add_argument("--no-eval", action="store_true", help="skip evaluating the run's test images again")
    common(a)
    a.set_defaults(func=func)


def command(args, log) -> dict:
    from ...data.images import expand_images
    from .add_good import add_good

    images = [str(p) for p in expand_images(args.images)]
    record = add_good(args.run, images, out=args.out, in_place=args.in_place, keep_defect_like=args.keep_defect_like,
                      evaluate=not args.no_eval, student=args.student, log=log)
    return {k: record[k] for k in ("run", "added", "skipped", "threshold_before", "threshold_after", "seconds", "metrics")}
