#!/usr/bin/env bash
# "A new batch arrived": the README's keep-learning walk-through, run end to end on scikit-learn's digits.
#
#   bash tools/new_batch_story.sh [WORK_DIR]        (default /tmp/vislearn-story; about 5 minutes on 2 cores)
#
# The first batch trains run v1. The second batch arrives with 10 % of its images filed under a wrong digit by a
# careless labeller, plus an unlabelled pool (digits and a few Fashion-MNIST items that do not belong).
# review finds the mistakes, suggest says which pool images to label; a "person" (here: the true labels) answers
# both in one corrections CSV; v2 fine-tunes from v1 on the batch with the corrections, and the gate decides.
set -euo pipefail
VISLEARN=${VISLEARN:-vislearn}
PY=${PY:-python}
W=${1:-/tmp/vislearn-story}
rm -rf "$W" && mkdir -p "$W" && cd "$W"
RECIPE="--model tiny_cnn --weights none --epochs 15 --seed 0"

$VISLEARN data sample digits all >/dev/null
$PY - <<'PY'
import csv, random, shutil
from pathlib import Path
rng = random.Random(0)
truth = []
for cls in sorted(Path("all").iterdir()):
    files = sorted(cls.glob("*.png")); rng.shuffle(files)
    n = len(files)
    for i, f in enumerate(files):
        part = "batch1" if i < 0.4 * n else "batch2" if i < 0.8 * n else "pool"
        label = cls.name
        if part == "batch2" and rng.random() < 0.10:  # filed under a wrong digit
            label = rng.choice([d for d in "0123456789" if d != cls.name])
        dest = Path(part) / label / f.name if part != "pool" else Path("pool") / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest)
        truth.append((str(dest.resolve()), cls.name))
try:  # a few images that do not belong: Fashion-MNIST items, if the Debian package is there
    from vislearn.data.idx import read_idx_folder
    from PIL import Image
    images, _ = read_idx_folder("/usr/share/datasets/fashion-mnist", "test")
    for i in range(15):
        Image.fromarray(images[i]).resize((8, 8)).save(f"pool/item_{i:02d}.png")
except Exception as error:
    print(f"(no Fashion-MNIST items in the pool: {error})")
with open("truth.csv", "w", newline="") as f:
    csv.writer(f).writerows([("path", "label"), *truth])
wrong = sum(1 for p, t in truth if "/batch2/" in p and Path(p).parent.name != t)
print(f"batch1 {sum('/batch1/' in p for p, _ in truth)} images, batch2 {sum('/batch2/' in p for p, _ in truth)} "
      f"({wrong} filed under a wrong digit), pool {len(list(Path('pool').iterdir()))} unlabelled")
PY

echo "== 1. the first model"
$VISLEARN train classify --data batch1 $RECIPE --out runs/v1 --quiet
$PY -c "import json; m = json.load(open('runs/v1/metrics.json')); print(f\"v1: test accuracy {m['accuracy']:.4f} on {m['num_images']} images\")"

echo "== 2. review the new batch"
$VISLEARN review runs/v1 --data batch2 --out review --explain 8 --quiet
echo "== 3. what to label from the pool"
$VISLEARN suggest runs/v1 --pool pool -k 30 --out suggest --quiet

echo "== 4. a person answers both lists (here: the true labels) in one corrections CSV"
$PY - <<'PY'
import csv
from pathlib import Path
truth = {r["path"]: r["label"] for r in csv.DictReader(open("truth.csv"))}
review = list(csv.DictReader(open("review/review.csv")))
suggest = [r for r in csv.DictReader(open("suggest/suggest.csv"))]
flagged_wrong = sum(Path(r["path"]).parent.name != truth[str(Path(r["path"]).resolve())] for r in review)
all_wrong = sum(1 for p, t in truth.items() if "/batch2/" in p and Path(p).parent.name != t)
right_suggestion = sum(r["suggested"] == truth[str(Path(r["path"]).resolve())] for r in review)
print(f"review flagged {len(review)}: {flagged_wrong} really mislabelled (precision {flagged_wrong / max(1, len(review)):.3f}, "
      f"recall {flagged_wrong / max(1, all_wrong):.3f} of {all_wrong}); suggested label right for {right_suggestion}")
lists = {k: [r for r in suggest if r["list"] == k] for k in ("uncertain", "unlike training images")}
foreign = sum("item_" in r["path"] for r in lists["unlike training images"])
print(f"suggest: {len(lists['uncertain'])} uncertain to label; {len(lists['unlike training images'])} unlike training "
      f"({foreign} of them Fashion-MNIST items)")
rows = [(r["path"], truth[str(Path(r["path"]).resolve())]) for r in review]
rows += [(r["path"], truth[str(Path(r["path"]).resolve())]) for r in lists["uncertain"]]
with open("corrections.csv", "w", newline="") as f:
    csv.writer(f).writerows([("path", "label"), *rows])
print(f"corrections.csv: {len(rows)} rows")
PY

echo "== 5. retrain from v1 on the new batch with the corrections; the gate decides"
$VISLEARN train classify --data batch2 --from runs/v1 --corrections corrections.csv $RECIPE --out runs/v2 2>&1 \
  | grep -E "^(learning rate|warning: corrections|gate)" || true
$PY - <<'PY'
import json
g = json.load(open("runs/v2/gate.json"))
a, lo_hi, m = g["accuracy"], g["difference_interval_95"], g["mcnemar"]
print(f"gate on {g['images']} {g['split']} images: accuracy {a['old']:.4f} -> {a['new']:.4f} (95 % interval of the "
      f"difference [{lo_hi[0]:+.3f}, {lo_hi[1]:+.3f}]), fixed {m['only_new_right']}, broken {m['only_old_right']}, "
      f"McNemar p = {m['p_value']:.3g}: {'promoted' if g['promoted'] else 'NOT promoted'}")
PY
echo "report: $W/runs/v2/report.html (section 'Compared with the earlier run')"
