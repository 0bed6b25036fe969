"""``benchmarks/organize_truth.py --same-as``: the check that a change meant only to be faster changed no verdict."""
import importlib.util
from pathlib import Path

HEADER = "duplicate_group,path,suggestion,kind,test,score,threshold,matched_to,detail,reason\n"


def truth_module():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "organize_truth.py"
    spec = importlib.util.spec_from_file_location("organize_truth", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_verdict_changes_finds_a_changed_kind_and_a_lost_row_but_not_renumbered_groups(tmp_path):
    rows = ["0,a.jpg,keep,near,,,,,,r\n", "0,b.jpg,remove,near,aligned pixels,0.0110,0.0400,a.jpg,d,r\n",
            "1,c.jpg,keep,similar,,,,,,r\n", "1,d.jpg,keep,similar,aligned look,0.0900,0.2500,c.jpg,d,r\n"]
    before, same, changed = tmp_path / "before.csv", tmp_path / "same.csv", tmp_path / "changed.csv"
    before.write_text(HEADER + "".join(rows))
    same.write_text(HEADER + "".join(r.replace("0,", "7,", 1) if r.startswith("0,") else r for r in rows[::-1]))
    changed.write_text(HEADER + rows[0] + rows[1].replace("remove,near", "keep,similar") + rows[2])
    diff = truth_module().verdict_changes
    assert diff(before, same) == []
    assert [key for key, _, _ in diff(before, changed)] == [("b.jpg", "a.jpg"), ("d.jpg", "c.jpg")]
