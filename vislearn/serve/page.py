"""The web page at ``/``: choose a run, drop an image (or take one with the camera), read the answer in plain words and
see the picture (Grad-CAM, defect heatmap, boxes or mask). With a review queue (``--review-dir``), the queued images one
by one: accept the proposed label or pick another class (keys: Enter accepts, 1-9 pick a class, S skips).
One self-contained HTML file: no CDN, works offline."""

PAGE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>vislearn serve</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 920px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } label { margin-right: .5em; }
#drop { border: 2px dashed #888; border-radius: 8px; padding: 2em; text-align: center; margin: 1em 0; cursor: pointer; }
#drop.over { background: #eef6ff; border-color: #1a73e8; }
#answer { font-size: 1.15em; margin: .5em 0; } #reason { color: #b00020; font-weight: 600; }
#decided { color: #0a7a2f; font-weight: 600; } .muted { color: #666; font-size: .9em; }
.pictures { display: flex; gap: 1em; flex-wrap: wrap; } .pictures figure { margin: 0; }
.pictures img { width: 320px; height: auto; image-rendering: pixelated; border: 1px solid #ccc; }
video { max-width: 320px; display: none; } table { border-collapse: collapse; } td { padding: 2px 8px; }
#review { border-top: 1px solid #ccc; margin-top: 2em; padding-top: 1em; }
#qimage { width: 256px; height: auto; image-rendering: pixelated; border: 1px solid #ccc; }
#qlabels button { margin: 2px; } #qaccept { font-weight: 600; }
</style></head>
<body>
<h1>vislearn serve</h1>
<p><label for="run">Run</label><select id="run"></select> <span id="runinfo" class="muted"></span></p>
<p><label for="key">API key</label><input id="key" type="password" placeholder="only if the server asks for one" size="32"></p>
<div id="drop" tabindex="0">Drop an image here, or click to choose a file
  <input id="file" type="file" accept="image/*" hidden></div>
<p><button id="camera" type="button">Use the camera</button> <button id="snap" type="button" hidden>Take the picture</button></p>
<video id="video" autoplay playsinline></video>
<div id="status" class="muted"></div>
<div id="answer"></div>
<div id="details"></div>
<div class="pictures">
  <figure><img id="photo" alt="your image" hidden><figcaption class="muted" id="photocap"></figcaption></figure>
  <figure><img id="overlay" alt="what drove the answer" hidden><figcaption class="muted" id="overlaycap"></figcaption></figure>
</div>
<section id="review" hidden>
  <h2>Review queue</h2>
  <p id="qcount" class="muted"></p>
  <div id="qempty" class="muted" hidden>Nothing left to label.</div>
  <div id="qitem" hidden>
    <figure style="margin:0"><img id="qimage" alt="image to label"><figcaption class="muted" id="qfile"></figcaption></figure>
    <p id="qnote"></p>
    <p><button id="qaccept" type="button"></button> <button id="qskip" type="button">Skip (S)</button></p>
    <p>or the right class: <span id="qlabels"></span></p>
    <p id="qdone" class="muted"></p>
  </div>
</section>
<script>
const REASONS = {
  "low confidence": "the model is not sure enough about this image, so a person should decide",
  "unlike training images": "this image does not look like the images the model learned from, so a person should decide",
};
const CAPTIONS = {
  classify: "Grad-CAM: the regions that drove the predicted class (red = most)",
  defects: "Defect heatmap (colour scale: 0 to twice the threshold) over the image",
  detect: "Detected boxes with their class and score",
  segment: "The predicted mask over the image, one colour per class",
};
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
let runs = [];
function plainReason(reason) {
  if (reason.startsWith("ambiguous: ")) return "it could be any of " + reason.slice(11).split("|").join(", ") + ", so a person should decide";
  return REASONS[reason] || reason;
}
function headers() { const k = $("key").value.trim(); localStorage.setItem("vislearn-key", k); return k ? {"X-API-Key": k} : {}; }
async function loadRuns() {
  $("key").value = localStorage.getItem("vislearn-key") || "";
  const r = await fetch("/v1/runs", {headers: headers()});
  if (!r.ok) { $("status").textContent = "Could not list runs: " + (await r.json()).detail; return; }
  runs = (await r.json()).runs;
  $("run").innerHTML = runs.map((x) => `<option value="${esc(x.name)}">${esc(x.name)} (${esc(x.task)})</option>`).join("");
  showRun();
}
function showRun() {
  const x = runs.find((r) => r.name === $("run").value);
  if (x) $("runinfo").textContent = `${x.task}, ${x.classes.length} classes, ${x.image_size} px, model ${x.model}`;
  $("review").hidden = !(x && x.review_queue);
  if (x && x.review_queue) { skipped = new Set(); loadQueue(); }
}
let queue = null, current = null, skipped = new Set();
const qurl = (rest) => `/v1/runs/${encodeURIComponent($("run").value)}/queue${rest}`;
async function loadQueue() {
  const r = await fetch(qurl(""), {headers: headers()});
  if (!r.ok) { $("qcount").textContent = "(could not be read)"; return; }
  queue = await r.json(); nextItem();
}
function nextItem() {
  const left = queue.items.filter((i) => !skipped.has(i.id));
  $("qcount").textContent = `(${queue.left} left, ${queue.answered} answered; labels go to ${queue.corrections_csv})`;
  current = left[0] || null;
  $("qitem").hidden = !current; $("qempty").hidden = !!current;
  if (!current) return;
  $("qimage").src = qurl(`/${current.id}/image`); $("qfile").textContent = `${current.file} (${current.source})`;
  $("qnote").textContent = current.note;
  $("qaccept").textContent = `Accept "${current.proposed}" (Enter)`;
  $("qlabels").innerHTML = queue.classes.map((c, i) => `<button type="button" data-label="${esc(c)}">${i < 9 ? (i + 1) + ": " : ""}${esc(c)}</button>`).join("");
}
async function answer(label) {
  if (!current) return;
  const r = await fetch(qurl(`/${current.id}`), {method: "POST", body: JSON.stringify({label}),
                                                   headers: {...headers(), "Content-Type": "application/json"}});
  const body = await r.json();
  if (!r.ok) { $("qdone").textContent = `Not written (${r.status}): ${body.detail}`; return; }
  $("qdone").textContent = `${current.file}: "${label}" written.`;
  queue.items = queue.items.filter((i) => i.id !== current.id); queue.left = body.left; queue.answered += 1;
  nextItem();
}
$("qaccept").addEventListener("click", () => answer(current.proposed));
$("qskip").addEventListener("click", () => { if (current) { skipped.add(current.id); nextItem(); } });
$("qlabels").addEventListener("click", (e) => { if (e.target.dataset.label) answer(e.target.dataset.label); });
document.addEventListener("keydown", (e) => {
  if ($("review").hidden || !current || e.target.tagName === "INPUT") return;
  if (e.key === "Enter") answer(current.proposed);
  else if (e.key === "s" || e.key === "S") { skipped.add(current.id); nextItem(); }
  else if (/^[1-9]$/.test(e.key) && queue.classes[+e.key - 1] !== undefined) answer(queue.classes[+e.key - 1]);
});
function pct(v) { return (100 * v).toFixed(1) + " %"; }
function describe(task, p) {
  if (task === "classify") return [`Predicted: <b>${esc(p.predicted)}</b> (calibrated confidence ${pct(p.confidence)})`,
    Object.entries(p.probabilities).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${pct(v)}</td></tr>`).join("")];
  if (task === "defects") return [`Verdict: <b>${esc(p.verdict)}</b> (score ${p.score.toFixed(2)}${p.kind ? ", " + esc(p.kind) : ""})`, ""];
  if (task === "detect") return [`Found <b>${p.boxes.length}</b> object(s)`,
    p.boxes.map((b) => `<tr><td>${esc(b.label)}</td><td>${b.score.toFixed(2)}</td><td>${b.box_xyxy.map((v) => v.toFixed(0)).join(", ")}</td></tr>`).join("")];
  if (task === "segment") return ["Share of the image per class",
    Object.entries(p.class_fractions).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${pct(v)}</td></tr>`).join("")];
  return [JSON.stringify(p), ""];
}
async function send(blob) {
  const name = $("run").value;
  $("photo").src = URL.createObjectURL(blob); $("photo").hidden = false; $("photocap").textContent = "Your image";
  $("overlay").hidden = true; $("answer").innerHTML = ""; $("details").innerHTML = "";
  $("status").textContent = "Asking " + name + "...";
  const r = await fetch(`/v1/runs/${encodeURIComponent(name)}/predict?picture=true`,
                        {method: "POST", body: blob, headers: {...headers(), "Content-Type": blob.type || "application/octet-stream"}});
  const body = await r.json();
  if (!r.ok) { $("status").textContent = `Refused (${r.status}): ${body.detail}`; return; }
  $("status").textContent = "";
  const p = body.prediction, [head, rows] = describe(body.task, p);
  const referral = p.refer_to_human ? `<div id="reason">Refer to a human: ${esc(plainReason(p.refer_reason))}.</div>`
                                    : `<div id="decided">Decided without a human.</div>`;
  $("answer").innerHTML = `<div id="prediction">${head}</div>${referral}`;
  $("details").innerHTML = rows ? `<table>${rows}</table>` : "";
  if (body.picture_png_base64) {
    $("overlay").src = "data:image/png;base64," + body.picture_png_base64; $("overlay").hidden = false;
    $("overlaycap").textContent = CAPTIONS[body.task] || "";
  }
  const x = runs.find((r) => r.name === name);
  if (p.refer_to_human && x && x.review_queue) loadQueue();  // the referred image joins the queue
}
$("run").addEventListener("change", showRun);
$("key").addEventListener("change", loadRuns);
$("drop").addEventListener("click", () => $("file").click());
$("file").addEventListener("change", (e) => { if (e.target.files[0]) send(e.target.files[0]); });
$("drop").addEventListener("dragover", (e) => { e.preventDefault(); $("drop").classList.add("over"); });
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (e) => { e.preventDefault(); $("drop").classList.remove("over"); if (e.dataTransfer.files[0]) send(e.dataTransfer.files[0]); });
$("camera").addEventListener("click", async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({video: true});
    $("video").srcObject = stream; $("video").style.display = "block"; $("snap").hidden = false;
  } catch (err) { $("status").textContent = "No camera: " + err.message; }
});
$("snap").addEventListener("click", () => {
  const v = $("video"), c = document.createElement("canvas");
  c.width = v.videoWidth; c.height = v.videoHeight; c.getContext("2d").drawImage(v, 0, 0);
  c.toBlob((blob) => send(blob), "image/png");
});
loadRuns();
</script>
</body></html>
"""
