"""`vislearn export`: a run as an ONNX graph with its preprocessing, checked for decision parity (see docs/export.md).

Each task registers an exporter (``EXPORTERS``): ``write`` puts the graph on disk and returns the sidecar's task
part; ``reference`` runs the run's own PyTorch chain on image files; ``exported`` runs the export from its files
only (:class:`~vislearn.export.bundle.Bundle`); ``compare`` turns both into the parity table's rows.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

from ..errors import VislearnError
from ..registry import Registry
from . import classify, defects, detect, segment
from .bundle import FORMAT, Bundle, write_arrays, write_sidecar
from .parity import Check, held_out_images, same_images_check, table, write_parity
from .runtimes import RUNTIMES
from .written import GraphOptions

EXPORTERS: Registry = Registry("exporter (task)")
for _name, _module in (("classify", classify), ("defects", defects), ("detect", detect),
                       ("segment", segment)):
    EXPORTERS.register(_name)(SimpleNamespace(write=_module.write, reference=_module.reference, exported=_module.exported,
                                              compare=_module.compare))
MAX_IMAGES = 1000  # held-out images checked by default: enough to see a flipped decision, bounded in time


class ExportNotValid(VislearnError):
    """The exported chain decides differently from the run's PyTorch chain beyond the stated tolerance."""


@dataclass(frozen=True)
class ExportResult:
    graph: Path
    sidecar: Path
    parity: Path
    checks: tuple[Check, ...]
    images: int
    split: str

    @property
    def valid(self) -> bool:
        return all(c.passed for c in self.checks)


def export_run(run_dir: str | Path, fmt: str = "onnx", out: str | Path | None = None, options: GraphOptions | None = None,
               images: list[str] | None = None, max_images: int = MAX_IMAGES, log=print, write: bool = True) -> ExportResult:
    """Export ``run_dir`` to ``out`` (default RUN/export/model.onnx) and check it on held-out images (or ``images``).

    ``write=False`` checks an export already on disk (e.g. one copied elsewhere and back) without rewriting it.
    """
    from ..run import Run

    runtime = RUNTIMES.get(fmt)
    run = Run.load(run_dir)
    exporter = EXPORTERS.get(run.config.task)
    graph = Path(out) if out else run.dir / "export" / "model.onnx"
    if graph.suffix != ".onnx":
        raise VislearnError(f"--out {graph}: an ONNX graph file name ends in .onnx")
    if write:
        _write(run, exporter, graph, options or GraphOptions(), log)
        if runtime.write(graph) != graph:
            log(f"wrote {graph.with_suffix('.xml').name} + .bin ({fmt})")
    split, paths = ("given", [str(p) for p in _expand(images)][:max_images]) if images else held_out_images(run.dir, max_images)
    log(f"parity on {len(paths)} {split} images (at most {max_images}): the run's PyTorch chain vs the export's files in the "
        f"{fmt} runtime")
    bundle = Bundle.load(graph, fmt)
    # the reference runs in the graph's own precision: on a GPU, 'auto' would be bf16/fp16 and measure that rounding instead
    torch_out = exporter.reference(replace(run, config=run.config.replace(device="cpu", precision="fp32")), paths)
    onnx_out = exporter.exported(bundle, paths)
    checks = (same_images_check(list(torch_out), list(onnx_out)), *exporter.compare(torch_out, onnx_out, bundle.task))
    parity = graph.parent / "parity.json"
    write_parity(parity, checks, {"split": split, "count": len(paths), "reference": "the run's predict in PyTorch, CPU, fp32",
                                  "exported": f"the export's files only, {fmt} runtime on the CPU + numpy"})
    return ExportResult(graph, graph.with_suffix(".json"), parity, checks, len(paths), split)


def _write(run, exporter, graph: Path, options: GraphOptions, log) -> None:
    """The graph, its arrays and its sidecar."""
    graph.parent.mkdir(parents=True, exist_ok=True)
    written = exporter.write(run, graph, options)
    arrays = write_arrays(graph.with_suffix(".arrays.safetensors"), written.arrays)
    sidecar = write_sidecar(graph, {
        "format": FORMAT, "task": run.config.task, "run": str(run.dir.resolve()), "graph": graph.name,
        "opset": options.opset, "dynamic_batch": options.dynamic_batch, "input": {"name": "images", "batch": None if options.dynamic_batch else 1},
        "outputs": written.outputs, "preprocessing": written.preprocessing, "arrays": arrays, run.config.task: written.decision})
    log(f"wrote {graph} and {sidecar.name}" + (f" and {arrays}" if arrays else ""))


def _expand(items: list[str]) -> list[Path]:
    from ..data.images import expand_images

    return expand_images(items)


def cli_export(args, log) -> dict:
    """`vislearn export RUN`: prints the parity table; an export that fails the gate exits non-zero, "NOT valid"."""
    result = export_run(args.run, args.format, args.out, GraphOptions(args.opset, args.dynamic_batch), args.images, log=log,
                       write=not args.check_only)
    print(table(result.checks), file=sys.stderr if args.json else sys.stdout)
    if not result.valid:
        failed = ", ".join(c.name for c in result.checks if not c.passed)
        raise ExportNotValid(f"export NOT valid: {failed} differ beyond tolerance ({result.parity})")
    log(f"export valid: every decision on {result.images} {result.split} images agrees ({result.parity})")
    return {"valid": True, "graph": str(result.graph), "sidecar": str(result.sidecar), "parity": str(result.parity),
            "checks": [c._asdict() for c in result.checks]}
