"""Template of the organize gallery (report.html in the index folder); shares the run report's CSS."""
from .template import CSS

GALLERY_CSS = CSS + """
.thumbs { display:flex; flex-wrap:wrap; gap:6px; margin:6px 0; }
.thumb { width:112px; font-size:11px; color:var(--muted); overflow:hidden; }
.thumb img { width:108px; height:108px; object-fit:cover; border-radius:4px; border:1px solid var(--line); display:block; }
.thumb.keep img { border:3px solid var(--good); }
.thumb.remove img { border:3px solid var(--bad); opacity:.85; }
.group { border-top:1px solid var(--line); padding:8px 0; }
.group h3 .size { color:var(--muted); font-weight:400; font-size:13px; }
"""

GALLERY = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title><style>{{ css|safe }}</style></head><body>
{% macro thumb(t, cls="") %}<div class="thumb {{ cls }}">{% if t.uri %}<img src="{{ t.uri }}" alt="{{ t.name }}" loading="lazy">{% else %}<div class="path">unreadable</div>{% endif %}
<div class="path" title="{{ t.path }}">{{ t.name }}</div>{% if t.note %}<div>{{ t.note }}</div>{% endif %}</div>{% endmacro %}
<header><div class="wrap"><h1>{{ title }}</h1>
<div class="sub">Collection <span class="mono">{{ collection }}</span> · embedder {{ embedder }} · written {{ generated }}</div></div></header>
<nav><div class="wrap"><a href="#groups">Groups</a><a href="#duplicates">Duplicates</a><a href="#other">Other (outliers)</a>
{% if people %}<a href="#people">People</a>{% endif %}<a href="#skipped">Skipped files</a>{% if quality %}<a href="#quality">Quality</a>{% endif %}</div></nav>
<main class="wrap">
<div class="cards">{% for label, value in cards %}<div class="card"><div class="label">{{ label }}</div><div class="value">{{ value }}</div></div>{% endfor %}</div>

<section id="groups"><h2>Groups</h2>
<p class="note">{{ groups_note }} Names: {{ named_by }}. Shown: each group's most typical images (closest to its centre).</p>
{% for g in groups %}<div class="group"><h3>{{ g.name }}{% if not g.confident %} <span class="size">(low confidence)</span>{% endif %} <span class="size">{{ g.size }} images · {{ g.evidence }}</span></h3>
<div class="thumbs">{% for t in g.thumbs %}{{ thumb(t) }}{% endfor %}</div></div>
{% endfor %}</section>

<section id="duplicates"><h2>Duplicates</h2>
{% if duplicates %}<p class="note">Suggestion only: nothing was deleted. Green = keep, red = could be removed (exact and near:
the same photo). <b>similar</b> groups (bursts, the same thing photographed again) are shown, never suggested for removal.
Full list with each pair's test and number in duplicates.csv.</p>
{% for d in duplicates %}<div class="group"><h3>{{ d.kind }}{% if d.kind != "similar" %} duplicates{% else %} photos (all kept){% endif %} <span class="size">{{ d.reason }}</span></h3>
<div class="thumbs">{{ thumb(d.keep, "keep" if d.remove else "") }}{% for t in d.remove %}{{ thumb(t, "remove") }}{% endfor %}{% for t in d.similar %}{{ thumb(t) }}{% endfor %}</div></div>
{% endfor %}{% if more_duplicates %}<p class="note">... and {{ more_duplicates }} more groups in duplicates.csv.</p>{% endif %}
{% else %}<p class="missing">No duplicates found.</p>{% endif %}</section>

<section id="other"><h2>Other (outliers)</h2>
{% if outliers %}<p class="note">Images far from every group's centre ({{ n_other }} in all; groups.csv marks them).</p>
<div class="thumbs">{% for t in outliers %}{{ thumb(t) }}{% endfor %}</div>
{% else %}<p class="missing">No outliers.</p>{% endif %}</section>

{% if people %}<section id="people"><h2>People</h2>
<p class="note">Faces grouped by person (dlib descriptors); a group photo appears under everyone in it. Full list in people.csv.</p>
{% for p in people %}<div class="group"><h3>{{ p.name }} <span class="size">{{ p.size }} photos</span></h3>
<div class="thumbs">{% for t in p.thumbs %}{{ thumb(t) }}{% endfor %}</div></div>{% endfor %}</section>{% endif %}

<section id="skipped"><h2>Skipped files</h2>
{% if skipped %}<div class="scroll"><table><thead><tr><th>File</th><th>Reason</th></tr></thead><tbody>
{% for s in skipped %}<tr><td class="mono">{{ s.path }}</td><td>{{ s.reason }}</td></tr>{% endfor %}</tbody></table></div>
{% else %}<p class="missing">Every file was read.</p>{% endif %}</section>

{% if quality %}<section id="quality"><h2>Quality against the folder names</h2>
<p class="note">Folder names used as true groups; baselines are told the true number of groups, vislearn chooses its own.
NMI = normalized mutual information, ARI = adjusted Rand index (scikit-learn); 1 = perfect.</p>
<table><thead><tr><th>Method</th><th class="num">Groups</th><th class="num">NMI</th><th class="num">ARI</th></tr></thead><tbody>
{% for q in quality %}<tr><td>{{ q.method }}</td><td class="num">{{ q.n_groups }}</td><td class="num">{{ "%.3f"|format(q.nmi) }}</td><td class="num">{{ "%.3f"|format(q.ari) }}</td></tr>{% endfor %}
</tbody></table></section>{% endif %}
</main><footer>vislearn organize · originals are never written, moved or deleted</footer></body></html>
"""
