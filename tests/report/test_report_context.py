from __future__ import annotations

from vislearn.report.context import config_rows, count_table, fmt_percent, ordered_counts, per_class_rows


def test_config_rows_flatten_nested_objects_and_shorten_long_lists():
    rows = dict(config_rows({"lr": 0.001, "preprocessing": {"mean": [0.5, 0.5], "image_size": 64},
                             "class_names": [str(i) for i in range(12)]}))
    assert rows == {"lr": "0.001", "preprocessing.mean": "[0.5, 0.5]", "preprocessing.image_size": "64",
                    "class_names": "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, … (12 items)"}


def test_counts_follow_class_names_order_and_total_up():
    summary = {"class_names": ["b", "a"], "counts": {"train": {"a": 2, "b": 5, "extra": 1}, "test": {"a": 1}}}
    table = count_table(ordered_counts(summary))
    assert [row["name"] for row in table["rows"]] == ["b", "a", "extra"]
    assert [row["counts"] for row in table["rows"]] == [[5, 0], [2, 1], [1, 0]]
    assert table["totals"] == [8, 1] and table["total"] == 9


def test_missing_numbers_show_a_dash_not_an_error():
    assert fmt_percent(None) == "–"
    assert fmt_percent(float("nan")) == "–"
    assert fmt_percent(0.5) == "50.0%"
    row = per_class_rows({"per_class": [{"name": "x", "f1": None}]})[0]
    assert row["precision"] == "–" and row["f1_width"] == 0
