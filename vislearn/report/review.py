"""``review.html``: the likely label mistakes as a contact sheet a person can go through -- the image, its given label
and the suggested one, how sure the out-of-fold model is, and the Grad-CAM of the suggested class for the first ones.
One self-contained file (images embedded), opens offline."""
from __future__ import annotations

import html
import tempfile
from pathlib import Path

from ..explain.gallery import explain_image
from ..metrics.label_ranking import RANKING_SAYS
from .contact_sheet import thumbnail, write_contact_sheet
from .embed import png_data_uri


def _copies_html(copies: list[dict]) -> str:
    """review_duplicates.csv's rows as one card per group: the copies side by side with label and split."""
    if not copies:
        return "<h2>Copies with different labels or splits</h2><p>None found.</p>"
    groups: dict[int, list[dict]] = {}
    for row in copies:
        groups.setdefault(row["group"], []).append(row)
    cards = []
    for number, members in groups.items():
        pics = "".join(f'<img src="{thumbnail(m["path"])}" alt="{html.escape(Path(m["path"]).name)}">' for m in members)
        lines = "<br>".join(f'<b>{html.escape(m["label"])}</b> ({html.escape(m["split"] or "?")}) '
                            f'<span class="path">{html.escape(m["path"])}</span>' for m in members)
        cards.append(f'<figure><div class="pics">{pics}</div><figcaption>#{number} {members[0]["kind"]} copies, '
                     f'{html.escape(members[0]["problem"])}<br>{lines}</figcaption></figure>')
    return (f"<h2>Copies with different labels or splits ({len(groups)})</h2><p>The same photo (exact or near copies, "
            "verified on the pixels as <code>vislearn organize</code> does) with two labels, or in two splits: a copy in "
            "train and test flatters the test figures. Listed in review_duplicates.csv.</p>"
            f'<div class="grid">{"".join(cards)}</div>')


def write_review_page(out_dir: Path, rows: list[dict], run, explain: int, summary: dict, model=None,
                      copies: list[dict] = ()) -> Path:
    """Write ``out_dir/review.html`` for ``rows`` (review.csv's rows, most likely mistake first); the first ``explain``
    rows get the Grad-CAM of their suggested class by ``model`` (the run's classifier; None: no Grad-CAMs). ``copies``:
    review_duplicates.csv's rows, shown after them."""
    cards = []
    with tempfile.TemporaryDirectory(prefix="vislearn-review-") as tmp:
        folder = Path(tmp)
        for row in rows:
            picture = thumbnail(row["path"])
            cam = ""
            if model is not None and row["rank"] <= explain:
                written = explain_image(model, row["path"], run.preprocessing, run.class_names, folder, f"cam{row['rank']}",
                                        row["suggested"], ("gradcam",))
                cam = f'<img src="{png_data_uri(written["gradcam"])}" alt="Grad-CAM of {html.escape(row["suggested"])}">'
            cards.append(
                f'<figure><div class="pics"><img src="{picture}" alt="{html.escape(Path(row["path"]).name)}">{cam}</div>'
                f'<figcaption>#{row["rank"]} <b>{html.escape(row["given"])} &rarr; {html.escape(row["suggested"])}</b><br>'
                f'p(given) {row["given_probability"]:.2f}, p(suggested) {row["suggested_probability"]:.2f}'
                f'{" &#10003;" if row.get("both_tests") == "yes" else ""}<br>'
                f'<span class="path">{html.escape(row["path"])}</span></figcaption></figure>')
    ranking = RANKING_SAYS[summary.get("ranked_by", "margin")]
    body = f"""<h1>Likely label mistakes</h1>
<p>{summary["issues"]} of {summary["images"]} images look mislabelled (confident learning, Northcutt et al. 2021, on
out-of-fold probabilities from {html.escape(summary.get("probabilities_from", "the run's features"))}
({html.escape(summary.get("method", "features"))}, {summary.get("method_cpu_seconds", 0):.0f} CPU s); their accuracy
against the given labels: {summary["out_of_fold_accuracy"]:.3f}). Most likely first, by the {html.escape(ranking)}:
{html.escape(summary.get("ranking_reason", ""))}.
{summary.get("both_tests", 0)} of them pass the stricter test too (marked &#10003;; the likeliest on clear-cut data).
Left: the image; right (first {explain}): Grad-CAM of the suggested class. Correct a label by moving the file, or
list <code>path,label</code> in a CSV.</p>
<p>How far to trust it: {html.escape(summary.get("caveat", ""))}. Every suggestion is a question for a person, never an automatic relabel.</p>
<div class="grid">{"".join(cards)}</div>{_copies_html(list(copies))}"""
    return write_contact_sheet(out_dir / "review.html", "review", body, card_px=280)
