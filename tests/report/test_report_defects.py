"""The defects section says which method scored the run and shows the per-type table and trade-off plot."""
import csv

from vislearn.report.defects import defects_context


def test_defects_section_names_the_method_and_draws_the_tradeoff(tmp_path):
    with (tmp_path / "predictions_test.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, ["path", "defect_type", "score"])
        writer.writeheader()
        writer.writerows([{"path": "a.png", "defect_type": "good", "score": 0.5},
                          {"path": "b.png", "defect_type": "crack", "score": 4.0}])
    metrics = {"threshold": 2.0, "image_auroc": 1.0,
               "per_defect": [{"defect_type": "crack", "count": 1, "image_auroc": 1.0, "detected": 1.0}]}
    section = defects_context(tmp_path, metrics, {"task": "defects", "extra": {"method": "patchcore+distill"}})
    assert section["headline"][0] == ("method", "patchcore+distill")
    assert dict(section["headline"])["image AUROC"] == "1.000"
    assert section["table"][0]["name"] == "crack" and section["tradeoff"].startswith("data:image/png")
    assert (tmp_path / "plots/threshold_tradeoff.png").is_file()


def test_other_tasks_have_no_defects_section(tmp_path):
    assert defects_context(tmp_path, {"accuracy": 0.9}) is None
