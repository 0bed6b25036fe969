"""``suggest.html``: the images to label next as a contact sheet -- the uncertain ones in the order to label them,
then the ones unlike the training images. One self-contained file (images embedded), opens offline."""
from __future__ import annotations

import html
import tempfile
from pathlib import Path

from .review import thumbnail


def _cards(rows: list[dict], folder: Path) -> str:
    cards = []
    for row in rows:
        picture = thumbnail(row["path"], folder, f"{row['list'][:2]}{row['rank']}.png")
        unlike = f", unlike score {row['unlike_score']}" if row["unlike_score"] != "" else ""
        cards.append(f'<figure><img src="{picture}" alt="{html.escape(Path(row["path"]).name)}"><figcaption>#{row["rank"]} '
                     f'model says <b>{html.escape(row["predicted"])}</b> ({row["confidence"]:.2f}), uncertainty '
                     f'{row["uncertainty"]:.2f}{unlike}<br><span class="path">{html.escape(row["path"])}</span></figcaption></figure>')
    return "".join(cards) or "<p>none</p>"


def write_suggest_page(out_dir: Path, rows: list[dict], summary: dict) -> Path:
    with tempfile.TemporaryDirectory(prefix="vislearn-suggest-") as tmp:
        uncertain = _cards([r for r in rows if r["list"] == "uncertain"], Path(tmp))
        unlike = _cards([r for r in rows if r["list"] != "uncertain"], Path(tmp))
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>vislearn suggest</title><style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }} .grid {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; width: 200px; border: 1px solid #ddd; padding: 6px; }} figure img {{ width: 128px; height: 128px;
object-fit: contain; image-rendering: pixelated; }} .path {{ color: #777; font-size: .8em; word-break: break-all; }}
</style></head><body><h1>What to label next</h1>
<p>{summary["suggested"]} of the {summary["readable"] - summary["unlike_training"]} pool images like the training ones, in the
order to label them: the model's least sure predictions (uncertainty = 1 - the margin between its two most probable classes;
mean {summary["mean_uncertainty_suggested"]} here, {summary["mean_uncertainty_pool"]} over the pool), spread over the
collection so that no two are near-copies (weighted k-center greedy on the run's features).</p>
<h2>Uncertain</h2><div class="grid">{uncertain}</div>
<h2>Unlike the training images ({summary["unlike_training"]})</h2>
<p>Foreign to what the model learnt (the run's unlike-training rule): label them to teach it something new, or take
them out of the data if they do not belong.</p><div class="grid">{unlike}</div></body></html>"""
    path = out_dir / "suggest.html"
    path.write_text(page, encoding="utf-8")
    return path
