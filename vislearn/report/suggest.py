"""``suggest.html``: the images to label next as a contact sheet -- the uncertain ones in the order to label them,
then the ones unlike the training images. One self-contained file (images embedded), opens offline."""
from __future__ import annotations

import html
from pathlib import Path

from .contact_sheet import thumbnail, write_contact_sheet


def _cards(rows: list[dict]) -> str:
    cards = []
    for row in rows:
        picture = thumbnail(row["path"])
        unlike = f", unlike score {row['unlike_score']}" if row["unlike_score"] != "" else ""
        cards.append(f'<figure><img src="{picture}" alt="{html.escape(Path(row["path"]).name)}"><figcaption>#{row["rank"]} '
                     f'model says <b>{html.escape(row["predicted"])}</b> ({row["confidence"]:.2f}), uncertainty '
                     f'{row["uncertainty"]:.2f}{unlike}<br><span class="path">{html.escape(row["path"])}</span></figcaption></figure>')
    return "".join(cards) or "<p>none</p>"


def write_suggest_page(out_dir: Path, rows: list[dict], summary: dict) -> Path:
    uncertain = _cards([r for r in rows if r["list"] == "uncertain"])
    unlike = _cards([r for r in rows if r["list"] != "uncertain"])
    body = f"""<h1>What to label next</h1>
<p>{summary["suggested"]} of the {summary["readable"] - summary["unlike_training"]} pool images like the training ones, in the
order to label them: the model's least sure predictions (uncertainty = 1 - the margin between its two most probable classes;
mean {summary["mean_uncertainty_suggested"]} here, {summary["mean_uncertainty_pool"]} over the pool), spread over the
collection so that no two are near-copies (weighted k-center greedy on the run's features).</p>
<h2>Uncertain</h2><div class="grid">{uncertain}</div>
<h2>Unlike the training images ({summary["unlike_training"]})</h2>
<p>Foreign to what the model learnt (the run's unlike-training rule): label them to teach it something new, or take
them out of the data if they do not belong.</p><div class="grid">{unlike}</div>"""
    return write_contact_sheet(out_dir / "suggest.html", "suggest", body)
