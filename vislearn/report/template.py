"""The report's Jinja template and CSS, kept as Python strings so no package data is needed.

The template is rendered with autoescape on: every value from the run folder
(class names, file names, warnings) is escaped; image sources are data URIs.
"""

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --soft:#f5f7fa; --accent:#2f6fb0;
        --good:#2f855a; --bad:#c53030; }
* { box-sizing: border-box; }
body { margin:0; background:var(--soft); color:var(--ink); line-height:1.5;
       font:15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background:#1f3a5f; color:#fff; padding:28px 0 22px; }
header h1 { margin:0 0 4px; font-size:26px; font-weight:600; }
header .sub { color:#c9d6e6; font-size:13px; }
.wrap { max-width:1120px; margin:0 auto; padding:0 24px; }
nav { background:#fff; border-bottom:1px solid var(--line); position:sticky; top:0; z-index:1; }
nav a { display:inline-block; padding:10px 10px; color:var(--accent); text-decoration:none; font-size:13px; }
nav a:hover { text-decoration:underline; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(150px, 1fr)); gap:12px; margin:20px 0 0; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .value { font-size:21px; font-weight:600; overflow-wrap:anywhere; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; margin:20px 0; padding:6px 24px 20px; }
h2 { font-size:20px; margin:16px 0 10px; border-bottom:2px solid var(--line); padding-bottom:6px; }
h3 { font-size:16px; margin:18px 0 8px; }
p.note { color:var(--muted); font-size:13px; margin:6px 0; }
p.missing { color:var(--muted); font-style:italic; background:var(--soft); border-left:3px solid #cbd2d9;
            padding:8px 12px; margin:8px 0; }
.problems { background:#fff5f5; border:1px solid #feb2b2; border-radius:8px; padding:10px 16px; margin:20px 0 0; }
table { border-collapse:collapse; font-size:14px; margin:8px 0; }
th, td { padding:5px 12px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
th { background:var(--soft); font-weight:600; }
tbody tr:nth-child(even) td { background:#fafbfc; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
tfoot td { font-weight:600; border-top:2px solid var(--line); }
.scroll { max-height:480px; overflow:auto; border:1px solid var(--line); border-radius:6px; }
.better { color:#1a7f37; } .worse { color:#b42318; }
.scroll table { margin:0; width:100%; }
.scroll thead th { position:sticky; top:0; }
.bar { display:inline-block; height:8px; background:var(--accent); border-radius:4px; vertical-align:middle;
       margin-right:6px; opacity:.7; }
.bar-cell { min-width:150px; }
.cols { display:grid; grid-template-columns:repeat(auto-fit, minmax(320px, 1fr)); gap:20px; align-items:start; }
figure { margin:10px 0; }
figure img { max-width:100%; height:auto; display:block; border:1px solid var(--line); border-radius:6px; }
figure.wide { overflow:auto; }
figure.wide img { max-width:none; }
figcaption { color:var(--muted); font-size:13px; margin-top:4px; }
.grid { display:grid; grid-template-columns:repeat(auto-fill, minmax(250px, 1fr)); gap:12px; }
.example { border:1px solid var(--line); border-radius:8px; padding:8px; background:#fff; }
.example.wrong { border-top:3px solid var(--bad); }
.example.correct { border-top:3px solid var(--good); }
.panels { display:grid; grid-template-columns:repeat(3, 1fr); gap:4px; }
.panels img { width:100%; height:auto; image-rendering:pixelated; border-radius:3px; display:block; }
.panels .cap { font-size:10px; color:var(--muted); text-align:center; }
.panels .none { font-size:10px; color:var(--muted); text-align:center; padding:20px 0; background:var(--soft); }
.meta { font-size:13px; margin-top:6px; }
.path { font-size:11px; color:var(--muted); white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
code, .mono { font-family:ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size:13px; }
ul.plain { padding-left:20px; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:10px 0 30px; }
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>{{ css|safe }}</style>
</head>
<body>
{% macro missing(what) %}<p class="missing">Not available: {{ what }}</p>{% endmacro %}
{% macro figure(uri, alt, caption="", wide=False) %}
<figure{% if wide %} class="wide"{% endif %}><img src="{{ uri }}" alt="{{ alt }}">
{% if caption %}<figcaption>{{ caption }}</figcaption>{% endif %}</figure>
{% endmacro %}
<header><div class="wrap">
<h1>{{ title }}</h1>
<div class="sub">Run folder <span class="mono">{{ run_name }}</span> · report written {{ generated }}</div>
</div></header>
<nav><div class="wrap">
<a href="#summary">Summary</a><a href="#config">Configuration</a><a href="#data">Data</a>
{% if show_learning_curves %}<a href="#training">Learning curves</a>{% endif %}{% if not defects %}<a href="#metrics">Metrics</a>{% endif %}{% if segmentation %}<a href="#segmentation">Segmentation</a>{% endif %}{% if detection %}<a href="#detection">Detection</a>{% endif %}{% if defects %}<a href="#defects">Defects found</a>{% endif %}{% if add_good %}<a href="#add-good">Good images added</a>{% endif %}
{% if not hide_classification %}<a href="#confusion">Confusion matrix</a><a href="#calibration">Calibration</a>{% if refer %}<a href="#referral">Referral</a>{% endif %}{% if gate %}<a href="#gate">Earlier run</a>{% endif %}<a href="#examples">Predictions</a><a href="#layers">What the network sees</a>{% endif %}
<a href="#skipped">Skipped files &amp; warnings</a>
</div></nav>
<main class="wrap">
<div class="cards" id="summary">
{% for card in cards %}<div class="card"><div class="label">{{ card.label }}</div><div class="value">{{ card.value }}</div></div>
{% endfor %}
</div>
{% if problems %}<div class="problems"><strong>Some parts of this run could not be shown:</strong>
<ul class="plain">{% for problem in problems %}<li>{{ problem }}</li>{% endfor %}</ul></div>{% endif %}

<section id="config"><h2>Configuration</h2>
{% if config_rows %}<table><tbody>
{% for key, value in config_rows %}<tr><th class="mono">{{ key }}</th><td class="mono">{{ value }}</td></tr>
{% endfor %}</tbody></table>
{% else %}{{ missing("config.json was not found in the run folder.") }}{% endif %}
</section>

<section id="data"><h2>Data</h2>
{% if data_source %}<p class="note">Source: <span class="mono">{{ data_source }}</span></p>{% endif %}
{% if count_table %}
<div class="scroll"><table><thead><tr><th>Class</th>{% for split in count_table.splits %}<th class="num">{{ split }}</th>{% endfor %}<th class="num">total</th></tr></thead>
<tbody>{% for row in count_table.rows %}<tr><td>{{ row.name }}</td>{% for n in row.counts %}<td class="num">{{ n }}</td>{% endfor %}<td class="num">{{ row.total }}</td></tr>
{% endfor %}</tbody>
{% if not hide_classification %}<tfoot><tr><td>all classes</td>{% for n in count_table.totals %}<td class="num">{{ n }}</td>{% endfor %}<td class="num">{{ count_table.total }}</td></tr></tfoot>{% endif %}</table></div>
{% if segmentation %}<p class="note">Images showing each class (an image can show several).</p>{% endif %}
{% else %}{{ missing("no image counts (data_summary.json missing or without counts).") }}{% endif %}
{% if plots.class_counts %}{{ figure(plots.class_counts, "Bar chart of images per class and split", "", many_classes) }}{% endif %}
</section>

{% if show_learning_curves %}<section id="training"><h2>Learning curves</h2>
{% if plots.learning_curves %}{{ figure(plots.learning_curves, "Loss, accuracy and learning rate per epoch", epochs_note) }}
{% else %}{{ missing("history.json was not found or holds no epochs.") }}{% endif %}
</section>
{% endif %}

{% if not defects %}<section id="metrics"><h2>Metrics{% if metrics_split %} on the {{ metrics_split }} split{% endif %}</h2>
{% if metric_rows %}
<div class="cols"><div><table><tbody>{% for label, value in metric_rows %}<tr><th>{{ label }}</th><td class="num">{{ value }}</td></tr>{% endfor %}</tbody></table>
{% if referral %}<p class="note">{{ referral }}</p>{% endif %}</div></div>
{% else %}{{ missing("metrics.json was not found in the run folder.") }}{% endif %}
{% if not hide_classification %}
<h3>Per class</h3>
{% if per_class %}<div class="scroll"><table><thead><tr><th>Class</th><th class="num">Precision</th><th class="num">Recall</th><th>F1</th><th class="num">Support</th></tr></thead><tbody>
{% for row in per_class %}<tr><td>{{ row.name }}</td><td class="num">{{ row.precision }}</td><td class="num">{{ row.recall }}</td>
<td class="bar-cell"><span class="bar" style="width: {{ row.f1_width }}px"></span>{{ row.f1 }}</td><td class="num">{{ row.support }}</td></tr>
{% endfor %}</tbody></table></div>
{% else %}{{ missing("no per-class metrics.") }}{% endif %}
{% endif %}
</section>
{% endif %}

{% macro heat_group(group, heading, none_text, note="") %}
<h3>{{ heading }}</h3>
{% if group.rows %}{% if note %}<p class="note">{{ note }}</p>{% endif %}
{% if group.uri %}<figure><img src="{{ group.uri }}" alt="{{ heading }}" style="max-width:720px"></figure>{% endif %}
<div class="scroll"><table><thead><tr><th>Image</th><th>Truth</th><th class="num">Score</th><th>Fired</th></tr></thead><tbody>
{% for r in group.rows %}<tr><td class="mono">{{ r.path }}</td><td>{{ r.truth }}</td><td class="num">{{ r.score }}</td><td>{{ r.kind }}</td></tr>{% endfor %}
</tbody></table></div>
{% else %}<p class="note">{{ none_text }}</p>{% endif %}
{% endmacro %}
{% if defects %}<section id="defects"><h2>Defects found</h2>
{% if defects.has_metrics %}
<table><tbody>{% for label, value in defects.headline %}<tr><th>{{ label }}</th><td class="num">{{ value }}</td></tr>{% endfor %}</tbody></table>
{% for line in defects.threshold_notes %}<p class="note">{{ line }}</p>{% endfor %}
<p class="note">{{ defects.masks_note }}</p>
<h3>Per defect type</h3>
<div class="scroll"><table><thead><tr><th>Defect type</th><th class="num">Images</th><th class="num">Image AUROC</th><th class="num">Detected</th><th>Masks</th><th class="num">Pixel AUROC</th><th class="num">Referred: unlike training</th><th class="num">Fired local</th><th class="num">Fired global</th></tr></thead><tbody>
{% for row in defects.table %}<tr><td>{{ row.name }}</td><td class="num">{{ row.count }}</td><td class="num">{{ row.auroc }}</td><td class="num">{{ row.detected }}</td><td>{{ row.masks }}</td><td class="num">{{ row.pixel }}</td><td class="num">{{ row.referred }}</td><td class="num">{{ row.local }}</td><td class="num">{{ row.global }}</td></tr>
{% endfor %}</tbody></table></div>
{% if defects.tradeoff %}{{ figure(defects.tradeoff, "False alarms and detections versus the threshold", "The threshold comes from held-out good training images that tuned nothing: a conformal quantile at the target false-alarm rate, raised (from 30 such images) to a 90 % upper bound of a tail fitted to their scores; the rule and both numbers are in metrics.json.") }}{% endif %}
{% set scale = "Heat colour scale: 0 (a typical good image) to twice the threshold; the black line on the colour bar is the threshold." %}
{{ heat_group(defects.misses, "Worst misses: defective images that passed (heatmap · true defect)", "No defective test image passed.", scale) }}
{{ heat_group(defects.false_alarms, "Worst false alarms: good images that were flagged", "No good test image was flagged.", scale) }}
{% else %}<p class="note">This run has no test split (test/good and test/&lt;defect&gt;): no test figures.</p>{% endif %}
{{ heat_group(defects.outliers, 'Training images flagged "is it really good?"', "No training image scored above the threshold.",
   "Each is scored against the other training images. If one shows a real defect, remove it from the good images and train again: it teaches the model that the defect is normal.") }}
{% if defects.unlike %}<h3>Images unlike training (referred to a human)</h3>
<p class="note">An image whose whole-image score (Mahalanobis distance of pooled backbone features, in held-out good-image standard deviations) is above {{ defects.unlike.threshold }} is referred with the reason <em>unlike training images</em>: another product, another camera, a blank or a noise image is neither good nor defective. The {{ defects.unlike.rate }} false-referral quantile of {{ defects.unlike.held_out }} held-out good images is {{ defects.unlike.quantile }}; the threshold was set by the {{ defects.unlike.set_by }} (floor {{ defects.unlike.floor }}, above what local defects reach). Good test images referred: {{ defects.unlike.good }}.</p>
{% if defects.unlike.referred %}<div class="scroll"><table><thead><tr><th>Image</th><th>Truth</th><th class="num">Whole-image z</th><th>Reason</th></tr></thead><tbody>
{% for r in defects.unlike.referred %}<tr><td class="mono">{{ r.path }}</td><td>{{ r.truth }}</td><td class="num">{{ r.z }}</td><td>{{ r.reason }}</td></tr>{% endfor %}
</tbody></table></div>{% if defects.unlike.hidden %}<p class="note">{{ defects.unlike.hidden }} more not listed.</p>{% endif %}
{% else %}<p class="note">No test image was referred.</p>{% endif %}
{% endif %}
</section>{% endif %}

{% if add_good %}<section id="add-good"><h2>Good images added</h2>
{% if add_good.problem %}{{ missing(add_good.problem) }}{% else %}
<p>{{ add_good.added }} good images from the user joined the memory of <span class="mono">{{ add_good.from_run }}</span> without a retrain ({{ add_good.good_images_in_model }} good images in the model now){% if add_good.left_out %}; {{ add_good.left_out }} were left out because they look like a real defect (a strong local score on a small area; <span class="mono">--keep-defect-like</span> adds them){% endif %}.
Of the {{ add_good.scored }} images scored, {{ add_good.flagged_before }} were flagged by the run as it was; {{ add_good.flagged_after }} of those added are still flagged now.
Threshold {{ add_good.threshold_before }} &rarr; {{ add_good.threshold_after }}, set again on the run's own held-out good images (none of the added images is held out). The student network: {{ add_good.student }}.</p>
{% if not add_good.evaluated %}<p class="note">The test images were not scored again after adding (<span class="mono">--no-eval</span>, or the run's data folder no longer holds them): the figures in the other sections are the earlier run's.</p>{% endif %}
<table><thead><tr><th>Recomputed</th></tr></thead><tbody>{% for line in add_good.recomputed %}<tr><td>{{ line }}</td></tr>{% endfor %}</tbody></table>
{% if add_good.seconds %}<table><thead><tr><th>Step</th><th class="num">Time</th></tr></thead><tbody>{% for step, value in add_good.seconds %}<tr><td>{{ step }}</td><td class="num">{{ value }}</td></tr>{% endfor %}</tbody></table>{% endif %}
<div class="grid">{% for cell in add_good.images %}<div class="example"><div class="panels"><div>{% if cell.uri %}<img src="{{ cell.uri }}" alt="{{ cell.path }}">{% else %}<div class="none">not available</div>{% endif %}</div></div>
<div class="meta">score {{ cell.before }} &rarr; {{ cell.after }}</div><div class="meta">{% if cell.warn %}<strong class="worse">{{ cell.outcome }}</strong>{% else %}{{ cell.outcome }}{% endif %}</div>
<div class="path mono" title="{{ cell.path }}">{{ cell.path }}</div></div>{% endfor %}</div>
{% if add_good.hidden %}<p class="note">{{ add_good.hidden }} more images are listed in add_good.json.</p>{% endif %}
{% if add_good.skipped %}<h3>Files that could not be read</h3><table><tbody>{% for row in add_good.skipped %}<tr><td class="mono">{{ row.path }}</td><td>{{ row.reason }}</td></tr>{% endfor %}</tbody></table>{% endif %}
{% endif %}
</section>{% endif %}

{% if detection %}<section id="detection"><h2>Detection</h2>
<table><tbody>{% for label, value in detection.headline %}<tr><th>{{ label }}</th><td class="num">{{ value }}</td></tr>{% endfor %}</tbody></table>
<p class="note">Computed by pycocotools' COCOeval on the {{ metrics_split }} split (boxes kept down to score 0.01, NMS per class).</p>
<h3>Average precision per class</h3>
<div class="scroll"><table><thead><tr><th>Class</th><th class="num">True boxes</th><th class="num">AP@[.5:.95]</th><th class="num">AP@.5</th><th class="num">AP@.75</th></tr></thead><tbody>
{% for row in detection.table %}<tr><td>{{ row.name }}</td><td class="num">{{ row.boxes }}</td><td class="num">{{ row.ap }}</td><td class="num">{{ row.ap50 }}</td><td class="num">{{ row.ap75 }}</td></tr>
{% endfor %}</tbody></table></div>
{% if detection.pr_plot %}{{ figure(detection.pr_plot, "Precision-recall curves per class", "COCOeval's interpolated precision at 101 recall points, IoU 0.5.") }}{% endif %}
{% for key, heading in (("examples", "Predictions (coloured, with scores) against the truth (green)"), ("worst", "Worst images: most missed objects and false alarms"), ("explained", "What drove a detection (Grad-CAM on the box's score)")) %}
<h3>{{ heading }}</h3>
{% if detection[key] %}<div class="grid">{% for m in detection[key] %}<div class="example">{% if m.uri %}<img src="{{ m.uri }}" alt="{{ m.caption }}" style="width:100%">{% endif %}
<div class="meta">{{ m.caption }}</div><div class="path mono" title="{{ m.path }}">{{ m.path }}</div></div>{% endfor %}</div>
{% else %}<p class="note">None.</p>{% endif %}
{% endfor %}
{% if detection.conf is not none %}<p class="note">Missed objects and false alarms counted at IoU 0.5 for boxes scoring at least {{ detection.conf }}.</p>{% endif %}
</section>{% endif %}

{% if segmentation %}<section id="segmentation"><h2>Segmentation on the {{ segmentation.split }} split</h2>
<table><tbody>{% for label, value in segmentation.headline %}<tr><th>{{ label }}</th><td class="num">{{ value }}</td></tr>{% endfor %}</tbody></table>
<h3>Per class</h3>
<div class="scroll"><table><thead><tr><th>Class</th><th>IoU</th><th class="num">Dice</th><th class="num">Share of true pixels</th></tr></thead><tbody>
{% for row in segmentation.classes %}<tr><td>{{ row.name }}</td><td class="bar-cell"><span class="bar" style="width: {{ row.width }}px"></span>{{ row.iou }}</td><td class="num">{{ row.dice }}</td><td class="num">{{ row.share }}</td></tr>
{% endfor %}</tbody></table></div>
<p class="note">IoU = overlap / union of predicted and true pixels of a class, over all scored images at their own size; a class absent from both shows –.</p>
<h3>Worst images (lowest mean IoU): photo · truth · prediction</h3>
{% if segmentation.worst %}<div class="grid">{% for w in segmentation.worst %}<div class="example wrong">{% if w.uri %}<img src="{{ w.uri }}" alt="{{ w.caption }}" style="width:100%;image-rendering:pixelated">{% endif %}
<div class="meta">{{ w.caption }}</div><div class="path mono" title="{{ w.path }}">{{ w.path }}</div></div>{% endfor %}</div>
{% else %}<p class="note">No scored images.</p>{% endif %}
</section>{% endif %}

{% if not hide_classification %}{# whole-image classification views; segment, detect and defect runs show their own above #}
<section id="confusion"><h2>Confusion matrix</h2>
{% if plots.confusion_matrix %}{{ figure(plots.confusion_matrix, "Confusion matrix", "Rows are the true class, columns the predicted class; numbers are image counts, colour is the share of the true class.", many_classes) }}
{% else %}{{ missing("no confusion matrix in metrics.json.") }}{% endif %}
</section>

<section id="calibration"><h2>Calibration and referral</h2>
{% if calibration_rows or temperature %}
<p>Temperature scaling divides the logits by <strong>{{ temperature }}</strong> before the softmax{% if refer %}: {{ refer.temperature_reason }}{% if refer.calibration_split == "calibration" %} (the calibration images are held out from training and from the choice of epoch){% endif %}{% else %}, fitted on the validation split{% endif %}.</p>
{% if calibration_rows %}<table><thead><tr><th></th><th class="num">before</th><th class="num">after</th></tr></thead><tbody>
{% for label, before, after in calibration_rows %}<tr><th>{{ label }}</th><td class="num">{{ before }}</td><td class="num">{{ after }}</td></tr>{% endfor %}
</tbody></table>{% endif %}
{% else %}{{ missing("calibration.json was not found in the run folder.") }}{% endif %}
<div class="cols">
<div><h3>Reliability diagram</h3>
{% if plots.reliability %}{{ figure(plots.reliability, "Reliability diagram", "Bars: accuracy of the images in each confidence bin; a calibrated model follows the dashed diagonal. Below: images per bin.") }}
{% else %}{{ missing("no reliability bins in metrics.json.") }}{% endif %}</div>
<div><h3>Accuracy / coverage trade-off</h3>
{% if plots.coverage %}{{ figure(plots.coverage, "Accuracy versus coverage", "Images whose confidence is below a threshold are referred to a human; the rest are decided automatically.") }}
{% else %}{{ missing("no coverage points in metrics.json.") }}{% endif %}</div>
</div>
</section>

{% if refer %}<section id="referral"><h2>Referral to a human</h2>
<p><strong>Rule:</strong> {{ refer.threshold_rule }}.</p>
<p><strong>Unlike training images:</strong> an image whose features are farther than {{ "%.2f"|format(refer.unlike_threshold) }} from every class is referred (threshold set so that at most {{ "%.0f"|format(100 * refer.unlike_rate) }} % of images like the training ones are).</p>
{% if refer.test %}<p>On the test split: {{ refer.test.decided }} of {{ refer.test.images }} images decided ({{ "%.1f"|format(100 * refer.test.coverage) }} %){% if refer.test.decided_error is not none %}, error among them {{ "%.2f"|format(100 * refer.test.decided_error) }} %{% endif %}; {{ refer.test.referred }} referred{% for reason, n in refer.test.referred_by_reason.items() %}{{ "," if not loop.first }} {{ n }} {{ reason }}{% endfor %}; {{ refer.test.errors_referred }} of the {{ refer.test.errors }} wrong predictions were referred.</p>{% endif %}
<div class="cols">
{% if refer.plots.risk %}<div><h3>Risk / coverage</h3>{{ figure(refer.plots.risk, "Error among decided images versus coverage", "Images are decided from the most confident down; the dashed line is the promised rate.") }}</div>{% endif %}
{% if refer.plots.unlike %}<div><h3>Unlike training images</h3>{{ figure(refer.plots.unlike, "Unlike-training scores", "Held-out calibration images against test images; right of the dashed line an image is referred.") }}</div>{% endif %}
</div>
{% for group in refer.groups %}<h3>Referred: {{ group.reason }} ({{ group.count }})</h3><div class="grid">
{% for cell in group.cells %}<div class="example"><div class="panels"><div>{% if cell.uri %}<img src="{{ cell.uri }}" alt="{{ cell.path }}">{% else %}<div class="none">not available</div>{% endif %}</div></div>
<div class="meta">{% if cell.label %}true <strong>{{ cell.label }}</strong> · {% endif %}predicted <strong>{{ cell.predicted }}</strong> · {{ cell.confidence }}</div>
<div class="meta">{{ cell.why }}</div><div class="path mono" title="{{ cell.path }}">{{ cell.path }}</div></div>
{% endfor %}</div>{% if group.count > group.cells|length %}<p class="note">{{ group.count - group.cells|length }} more in predictions_test.csv.</p>{% endif %}
{% endfor %}
</section>{% endif %}

{% macro changed_grid(cells, empty) %}{% if cells %}<div class="grid">
{% for cell in cells %}<div class="example"><div class="panels"><div>{% if cell.uri %}<img src="{{ cell.uri }}" alt="{{ cell.path }}">{% else %}<div class="none">not available</div>{% endif %}</div></div>
<div class="meta">true <strong>{{ cell.truth }}</strong></div><div class="meta">earlier: {{ cell.old }} · {{ cell.old_confidence }}</div><div class="meta">this run: {{ cell.new }} · {{ cell.new_confidence }}</div>
<div class="path mono" title="{{ cell.path }}">{{ cell.path }}</div></div>
{% endfor %}</div>{% else %}<p class="note">{{ empty }}</p>{% endif %}{% endmacro %}
{% if gate %}<section id="gate"><h2>Compared with the earlier run</h2>
{% if gate.problem %}{{ missing(gate.problem) }}{% else %}
<p><strong>{{ "Promoted" if gate.promoted else "NOT promoted" }}</strong>: this run {{ "replaces" if gate.promoted else "does not replace" }} <span class="mono">{{ gate.old_run }}</span>{% if gate.reasons %} because {{ gate.reasons|join("; ") }}{% endif %}.
Both models were scored on the same {{ gate.images }} {{ gate.split }} images, which neither trained on. Rule: promoted unless accuracy falls by more than {{ gate.margin }} or McNemar's exact test finds this run significantly worse (p &lt; 0.05).</p>
<table><thead><tr><th></th><th class="num">earlier run</th><th class="num">this run</th><th class="num">change</th></tr></thead><tbody>
{% for row in gate.headline %}<tr><th>{{ row.label }}</th><td class="num">{{ row.old }}</td><td class="num">{{ row.new }}</td><td class="num {{ row.tone }}">{{ row.change }}</td></tr>{% endfor %}
</tbody></table>
<p class="note">Accuracy difference, bootstrap 95 % interval: {{ gate.interval }}. Images only the earlier run gets right: {{ gate.only_old }}; only this run: {{ gate.only_new }} (McNemar exact p = {{ gate.p_value }}).</p>
{% if gate.classes %}<h3>Recall per class</h3><div class="scroll"><table><thead><tr><th>Class</th><th class="num">Support</th><th class="num">earlier run</th><th class="num">this run</th><th class="num">change</th></tr></thead><tbody>
{% for c in gate.classes %}<tr><td>{{ c.name }}{% if c.worse %} <strong class="worse">worse</strong>{% endif %}</td><td class="num">{{ c.support }}</td><td class="num">{{ c.old }}</td><td class="num">{{ c.new }}</td><td class="num">{{ c.change }}</td></tr>{% endfor %}
</tbody></table></div>{% endif %}
<h3>Broken: right before, wrong now ({{ gate.only_old }})</h3>{{ changed_grid(gate.broken, "None: this run gets every image right that the earlier run did.") }}
<h3>Fixed: wrong before, right now ({{ gate.only_new }})</h3>{{ changed_grid(gate.fixed, "None.") }}
{% endif %}
</section>{% endif %}

<section id="examples"><h2>Predictions with heatmaps</h2>
{% if has_examples %}
{% for kind, heading in (("wrong", "Wrong predictions"), ("correct", "Correct predictions")) %}
<h3>{{ heading }}</h3>
{% if examples[kind].cells %}<div class="grid">
{% for cell in examples[kind].cells %}<div class="example {{ kind }}">
<div class="panels">{% for panel in cell.panels %}<div>{% if panel.uri %}<img src="{{ panel.uri }}" alt="{{ panel.caption }}">{% else %}<div class="none">not available</div>{% endif %}<div class="cap">{{ panel.caption }}</div></div>{% endfor %}</div>
<div class="meta">true <strong>{{ cell.label }}</strong> · predicted <strong>{{ cell.predicted }}</strong> · {{ cell.confidence }}</div>
<div class="path mono" title="{{ cell.path }}">{{ cell.path }}</div>
</div>
{% endfor %}</div>
{% if examples[kind].hidden %}<p class="note">{{ examples[kind].hidden }} more not shown.</p>{% endif %}
{% else %}<p class="note">None among the explained examples.</p>{% endif %}
{% endfor %}
{% else %}{{ missing("explain/examples.json was not found in the run folder.") }}{% endif %}
</section>

<section id="layers"><h2>What the network sees</h2>
{% if layers %}{% for layer in layers %}<h3>{{ layer.title }}</h3>
{% if layer.uri %}{{ figure(layer.uri, layer.title, layer.caption) }}{% else %}{{ missing("the image for this view could not be read.") }}{% endif %}
{% endfor %}
{% else %}{{ missing("explain/layers.json was not found in the run folder.") }}{% endif %}
</section>

{% endif %}
<section id="skipped"><h2>Skipped files &amp; warnings</h2>
{% if not has_data_summary %}{{ missing("data_summary.json was not found in the run folder.") }}{% else %}
<h3>Skipped files</h3>
{% if listed.skipped %}<div class="scroll"><table><thead><tr><th>File</th><th>Reason</th></tr></thead><tbody>
{% for item in listed.skipped %}<tr><td class="mono">{{ item.path }}</td><td>{{ item.reason }}</td></tr>{% endfor %}
</tbody></table></div>{% if listed.skipped_hidden %}<p class="note">{{ listed.skipped_hidden }} more not listed.</p>{% endif %}
{% else %}<p class="note">No files were skipped.</p>{% endif %}
<h3>Warnings</h3>
{% if listed.warnings %}<ul class="plain">{% for warning in listed.warnings %}<li>{{ warning }}</li>{% endfor %}</ul>
{% if listed.warnings_hidden %}<p class="note">{{ listed.warnings_hidden }} more not listed.</p>{% endif %}
{% else %}<p class="note">No warnings.</p>{% endif %}
{% endif %}
</section>
</main>
<footer>Written by vislearn. Self-contained: opens offline, no external resources.</footer>
</body>
</html>
"""
