from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from vislearn.errors import CheckpointError
from vislearn.report import write_report

IMG_SRC = re.compile(r'<img\b[^>]*\bsrc="([^"]*)"')


def _decode_png(uri: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix), uri[:60]
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(prefix):], validate=True)))
    image.load()
    return image


def test_report_is_written_beside_the_run_files(tmp_path: Path):
    (tmp_path / "config.json").write_text("{}")
    assert write_report(tmp_path) == tmp_path / "report.html"
    assert (tmp_path / "report.html").stat().st_size > 1000


def test_report_has_no_external_resources(full_report_html: str):
    html = full_report_html
    for external in ('src="http', "src='http", 'href="http', "<script src", "<link", "url(", "@import"):
        assert external not in html


def test_every_image_is_an_embedded_png_that_decodes(full_report_html: str):
    html = full_report_html
    sources = IMG_SRC.findall(html)
    # 5 plots + 3 examples x 3 panels + 1 layer image
    assert len(sources) == 5 + 9 + 1
    assert html.count("<img") == len(sources)
    assert all(_decode_png(uri).format == "PNG" for uri in sources)


def test_headline_numbers_appear(full_report_html: str):
    html = full_report_html
    assert "87.7%" in html  # accuracy 0.8766 in the summary card
    assert "0.8766" in html  # and in the metrics table
    assert "tf_efficientnet_lite0" in html
    assert "1.30" in html  # temperature
    assert "Referred to a human: 2 of 3 images in predictions_test.csv (66.7%). Predicted wrongly: 1." in html
    assert '<td class="mono">0.001</td>' in html  # config lr


def test_skipped_file_name_is_escaped(full_report_html: str):
    html = full_report_html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.png" in html


def test_config_only_run_gets_not_available_notes(tmp_path: Path):
    (tmp_path / "config.json").write_text(json.dumps({"task": "classify", "model": "tiny"}))
    html = write_report(tmp_path).read_text(encoding="utf-8")
    # data table, curves, metrics, per class, confusion, calibration, reliability,
    # coverage, examples, layers, skipped files
    assert html.count('<p class="missing">Not available') == 11
    for file_name in ("history.json", "metrics.json", "calibration.json", "explain/examples.json",
                      "explain/layers.json", "data_summary.json"):
        assert f"{file_name} was not found" in html
    assert "<img" not in html
    assert "tiny" in html
    assert not (tmp_path / "plots").exists()


def test_broken_json_is_reported_and_other_parts_still_render(full_run: Path):
    (full_run / "metrics.json").write_text("{not json")
    html = write_report(full_run).read_text(encoding="utf-8")
    assert "metrics.json: could not be read as JSON" in html
    assert "metrics.json was not found" in html
    assert len(IMG_SRC.findall(html)) == 2 + 9 + 1  # class counts, learning curves, examples, layer


def _keep_only(run_dir: Path, *kept: str) -> None:
    """Delete the top-level JSON files not named, so a test draws only the plots it needs."""
    for path in run_dir.glob("*.json"):
        if path.name not in kept:
            path.unlink()


def test_missing_heatmap_file_shows_note_instead_of_broken_image(full_run: Path):
    _keep_only(full_run)
    (full_run / "explain/ex_001_gradcam.png").unlink()
    html = write_report(full_run).read_text(encoding="utf-8")
    assert html.count('<div class="none">not available</div>') == 1
    assert len(IMG_SRC.findall(html)) == 8 + 1


def test_malformed_confusion_matrix_costs_one_plot(full_run: Path):
    metrics = json.loads((full_run / "metrics.json").read_text())
    metrics["confusion_matrix"] = [[1, 2], [3]]
    metrics.pop("reliability")
    (full_run / "metrics.json").write_text(json.dumps(metrics))
    _keep_only(full_run, "metrics.json")
    html = write_report(full_run).read_text(encoding="utf-8")
    assert "confusion matrix plot could not be drawn" in html
    assert "no confusion matrix in metrics.json" in html
    assert len(IMG_SRC.findall(html)) == 1 + 9 + 1  # coverage plot, examples, layer


def test_title_override_is_escaped(tmp_path: Path):
    (tmp_path / "config.json").write_text("{}")
    html = write_report(tmp_path, title="A & B <run>").read_text(encoding="utf-8")
    assert "<title>A &amp; B &lt;run&gt;</title>" in html


def test_missing_run_folder_raises_named_error(tmp_path: Path):
    with pytest.raises(CheckpointError, match="run folder not found"):
        write_report(tmp_path / "nope")


def test_many_classes_keep_plot_pixels_and_scroll(tmp_path: Path):
    names = [f"class_{i}" for i in range(25)]
    summary = {"class_names": names, "counts": {"train": {n: 3 for n in names}}}
    (tmp_path / "data_summary.json").write_text(json.dumps(summary))
    html = write_report(tmp_path).read_text(encoding="utf-8")
    assert '<figure class="wide"><img src="data:image/png;base64,' in html
    assert "<td>class_24</td>" in html


def test_malformed_fields_never_crash_the_report(tmp_path: Path):
    weird = {
        "config.json": {"task": ["a"], "class_names": "abc", "preprocessing": {"mean": {}}},
        "data_summary.json": {"class_names": 5, "counts": [1, 2], "skipped": {"a": 1}, "warnings": "oops"},
        "history.json": [1, {"epoch": "x"}],
        "metrics.json": {"accuracy": "high", "per_class": 3, "confusion_matrix": "x", "reliability": [1]},
        "explain/layers.json": ["x", {"image": None}],
    }
    for name, value in weird.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(json.dumps(value))
    html = write_report(tmp_path).read_text(encoding="utf-8")
    for plot in ("learning curves", "confusion matrix", "reliability"):
        assert f"{plot} plot could not be drawn" in html
    assert "<img" not in html
