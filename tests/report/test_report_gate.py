"""The report of a run trained with --from RUN shows the earlier run and itself side by side (gate.json)."""
import json

from PIL import Image

from vislearn.report import write_report


def _gate(tmp_path, promoted: bool) -> dict:
    for name in ("fixed.png", "broken.png"):
        Image.new("L", (8, 8), 200).save(tmp_path / name)
    row = {"truth": "3", "old_confidence": 0.61, "new_confidence": 0.93}
    return {"promoted": promoted, "reasons": [] if promoted else ["accuracy fell by 0.3000 (0.9000 -> 0.6000), more than the margin 0.01"],
            "margin": 0.01, "images": 90, "split": "frozen test", "old_run": "/runs/old",
            "accuracy": {"old": 0.9, "new": 0.6}, "macro_f1": {"old": 0.89, "new": 0.55}, "ece": {"old": 0.05, "new": 0.2},
            "difference_interval_95": [-0.41, -0.2], "mcnemar": {"only_old_right": 30, "only_new_right": 3, "p_value": 1.2e-6},
            "worse_classes": ["3"], "per_class": [{"name": "3", "support": 30, "old_recall": 0.9, "new_recall": 0.2},
                                                  {"name": "5", "support": 30, "old_recall": 0.8, "new_recall": 0.8}],
            "changed": {"fixed": [{**row, "path": str(tmp_path / "fixed.png"), "old": "8", "new": "3"}],
                        "broken": [{**row, "path": str(tmp_path / "broken.png"), "old": "3", "new": "8"}]}}


def test_a_refused_run_shows_why_the_figures_side_by_side_and_the_images_it_broke(tmp_path):
    (tmp_path / "gate.json").write_text(json.dumps(_gate(tmp_path, promoted=False)))
    html = write_report(tmp_path).read_text()
    section = html[html.index('<section id="gate">'):]
    section = section[:section.index("</section>")]
    assert "NOT promoted" in section and "accuracy fell by 0.3000" in section and "/runs/old" in section
    assert '<td class="num">0.9000</td><td class="num">0.6000</td><td class="num worse">-0.3000</td>' in section
    assert '<strong class="worse">worse</strong>' in section  # class 3 lost recall
    assert "Broken: right before, wrong now (30)" in section and "Fixed: wrong before, right now (3)" in section
    assert section.count("data:image/png;base64,") == 2 and "earlier: 3 · 0.61" in section and "this run: 8 · 0.93" in section
    assert 'href="#gate"' in html


def test_a_promoted_run_says_so_and_a_run_without_gate_has_no_section(tmp_path):
    (tmp_path / "gate.json").write_text(json.dumps({**_gate(tmp_path, promoted=True), "changed": {}}))
    html = write_report(tmp_path).read_text()
    assert "<strong>Promoted</strong>: this run replaces" in html and "None: this run gets every image right" in html
    (tmp_path / "gate.json").unlink()
    assert 'id="gate"' not in write_report(tmp_path).read_text()


def test_a_broken_gate_file_is_noted_not_raised(tmp_path):
    (tmp_path / "gate.json").write_text("{not json")
    html = write_report(tmp_path).read_text()
    assert 'id="gate"' in html and "gate.json: could not be read as JSON" in html
