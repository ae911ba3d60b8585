"use strict";
// One file's review: the plan's regions over the video, a timeline, a waveform, and edits.
// Every edit goes to the server, which validates the whole plan before writing it.
const Q = new URLSearchParams(location.search);
const TOKEN = Q.get("token") || "";
const PLAN = Q.get("plan") || "";
const COLORS = { face: "#ffca28", plate: "#26c6da", screen: "#ab47bc", head: "#f59f00",
                 person: "#c2255c", text: "#2b8a3e" };
const $ = (id) => document.getElementById(id);
const api = (path) => `api/${path}?plan=${encodeURIComponent(PLAN)}&token=${encodeURIComponent(TOKEN)}`;

let view = null;      // the server's view of the plan
let cur = 0;          // current frame index
let t0 = 0;           // time of frame 0 (seconds on the plan's clock)
let drawing = false;  // draw mode
let drag = null;      // box being drawn, in video pixels
let selected = null;  // manual box index that the next drawn box moves (keyframe)
let peaks = null;
let asel = null;      // waveform selection [start, end] in seconds from t0
let playing = false;

function status(text, ok = false) { const s = $("status"); s.textContent = text || ""; s.className = ok ? "ok" : ""; }

async function call(path, body) {
  const r = await fetch(api(path), body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

async function edit(op) {
  try {
    const v = await call("edit", op);
    setView(v);
    status(`saved: ${op.op}`, true);
    return true;
  } catch (e) { status(e.message); return false; }
}

function setView(v) {
  view = v;
  t0 = v.times.length ? v.times[0] : 0;
  $("name").textContent = v.input;
  $("count").textContent = v.frames;
  $("frame").max = v.frames - 1;
  $("badges").innerHTML = "";
  for (const s of v.summary.status || []) {
    const b = document.createElement("span"); b.className = "badge " + s; b.textContent = s;
    $("badges").appendChild(b);
  }
  if (v.media_error) status(v.media_error);
  $("approve").textContent = v.review && v.review.approved ? "Approved ✓ (withdraw)" : "Approve";
  $("undo").disabled = !v.undo;
  $("render").disabled = !(v.review && v.review.approved);
  lists();
  drawTimeline(); drawWave(); drawOverlay();
}

function el(tag, attrs = {}, text = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

function lists() {
  const tracks = $("tracks"); tracks.innerHTML = "";
  for (const t of view.tracks) {
    const row = el("div", { class: "row", id: `track-${t.id}` });
    const sw = el("span", { class: "swatch" }); sw.style.background = COLORS[t.category] || "#fff";
    const cb = el("input", { type: "checkbox", id: `track-${t.id}-redact`, title: "redact this track" });
    cb.checked = !t.exclude;
    cb.onchange = () => edit({ op: "exclude", track: t.id, value: !cb.checked });
    const label = el("label", { for: cb.id }, `#${t.id} ${t.category} ${t.first_frame}–${t.last_frame}`);
    label.onclick = (ev) => { ev.preventDefault(); seek(t.first_frame); };
    const style = el("select", { id: `track-${t.id}-style` });
    for (const s of ["", "blur", "pixelate", "solid"]) style.appendChild(el("option", { value: s }, s || "default"));
    style.value = t.style || "";
    style.onchange = () => edit({ op: "style", track: t.id, style: style.value || null });
    const always = el("button", { id: `track-${t.id}-always`,
      title: "always redact this person: this track and their face, head and person tracks that overlap it become manual boxes" }, "Always");
    always.onclick = () => edit({ op: "always_redact", track: t.id });
    row.append(cb, sw, label, style, always);
    if (t.same_as && t.same_as.length) {
      // One face can have a track per detector: leaving it visible means unticking each.
      row.appendChild(el("span", { class: "same", title: "these tracks cover the same object" },
        "same as " + t.same_as.map((x) => "#" + x).join(" ")));
    }
    tracks.appendChild(row);
  }
  if (!view.tracks.length) tracks.textContent = "no tracks";
  const manual = $("manual"); manual.innerHTML = "";
  view.manual.forEach((m, k) => {
    const kfs = keyframes(m);
    const row = el("div", { class: "row", id: `manual-${k}` });
    const pick = el("input", { type: "radio", name: "manualsel", id: `manual-${k}-select`,
                               title: "boxes drawn next move this one (keyframes)" });
    pick.checked = selected === k;
    pick.onchange = () => { selected = k; };
    const label = el("label", { for: pick.id },
      `box ${k} ${m.category || "face"} frames ${kfs[0].frame}–${kfs[kfs.length - 1].frame} (${kfs.length} keyframes)`);
    const del = el("button", { id: `manual-${k}-delete` }, "Delete");
    del.onclick = async () => { if (await edit({ op: "manual_delete", index: k })) selected = null; };
    row.append(pick, label, del);
    manual.appendChild(row);
    if (m.note) manual.appendChild(el("div", { class: "note", id: `manual-${k}-note` }, `${m.source || "drawn"}: ${m.note}`));
  });
  if (!view.manual.length) manual.textContent = "none: press Draw box and drag on the picture";
  const audio = $("audio"); audio.innerHTML = "";
  (view.audio || []).forEach((a, k) => {
    const status = a.decision || a.source || "added";
    const row = el("div", { class: `row audio-${status}`, id: `audio-${k}` },
      `${a.mode} ${(+a.start).toFixed(2)}–${(+a.end).toFixed(2)} s ${a.reason ? "(" + a.reason + ") " : ""}${status} `);
    if (a.source === "suggested") {
      for (const d of ["accepted", "rejected"]) {
        const b = el("button", { id: `audio-${k}-${d === "accepted" ? "accept" : "reject"}` }, d === "accepted" ? "Accept" : "Reject");
        b.onclick = () => edit({ op: "audio_decide", index: k, decision: a.decision === d ? null : d });
        row.appendChild(b);
      }
    } else {
      const del = el("button", { id: `audio-${k}-delete` }, "Delete");
      del.onclick = () => edit({ op: "audio_delete", index: k });
      row.appendChild(del);
    }
    audio.appendChild(row);
  });
  if (!(view.audio || []).length) audio.textContent = "none";
  drawWords();
}

// ---- the transcript, by the word ----------------------------------------------------------
let wsel = null;  // [first, last] selected word indices
function inRanges(w, pick) {
  const a = w.start + (w.end - w.start) / 4, b = w.end - (w.end - w.start) / 4;
  return (view.audio || []).some((r) => pick(r) && r.start < b && r.end > a);
}
function drawWords() {
  const box = $("words"); box.innerHTML = "";
  const words = view.words || [];
  $("wordcontrols").style.display = words.length ? "" : "none";
  words.forEach((w, k) => {
    const live = (r) => r.decision !== "rejected";
    let cls = "w";
    if (inRanges(w, (r) => live(r))) cls += " muted";
    if (inRanges(w, (r) => r.source === "suggested" && live(r))) cls += " suggested";
    if (wsel && k >= wsel[0] && k <= wsel[1]) cls += " selected";
    const span = el("span", { class: cls, id: `word-${k}`, title: `${w.start.toFixed(2)} s` }, w.text);
    span.onclick = (ev) => {
      wsel = ev.shiftKey && wsel ? [Math.min(wsel[0], k), Math.max(wsel[1], k)] : [k, k];
      seek(frameAt(w.start - t0));
      drawWords();
    };
    box.append(span, " ");
  });
}
async function muteWords(mode) {
  if (!wsel) { status("click a word first"); return; }
  const words = view.words;
  if (await edit({ op: "audio_add", start: words[wsel[0]].start, end: words[wsel[1]].end, mode })) wsel = null;
}
$("mutewords").onclick = () => muteWords("mute");
$("bleepwords").onclick = () => muteWords("bleep");

function keyframes(m) {
  if (m.keyframes) return m.keyframes;
  return [{ frame: m.start_frame, box: m.box }, { frame: m.end_frame, box: m.box }];
}

function manualBox(m, f) {  // same rule as ManualRegion.box_at
  const kfs = keyframes(m);
  if (f < kfs[0].frame || f > kfs[kfs.length - 1].frame) return null;
  for (let i = 0; i + 1 < kfs.length; i++) {
    const [a, b] = [kfs[i], kfs[i + 1]];
    if (a.frame <= f && f <= b.frame) {
      const w = b.frame === a.frame ? 0 : (f - a.frame) / (b.frame - a.frame);
      return a.box.map((v, j) => (1 - w) * v + w * b.box[j]);
    }
  }
  return kfs[0].box;
}

// ---- frames and time ------------------------------------------------------------------
function frameTime(i) {  // seconds from t0, a little into the frame so the browser shows it
  const t = view.times;
  if (!t.length) return 0;
  const dur = i + 1 < t.length ? t[i + 1] - t[i] : (t.length > 1 ? t[1] - t[0] : 0.04);
  return t[i] - t0 + Math.min(0.3 * dur, 0.02);
}

function frameAt(sec) {
  const t = view.times; let lo = 0, hi = t.length - 1;
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (t[mid] - t0 <= sec + 1e-4) lo = mid; else hi = mid - 1; }
  return lo;
}

function seek(i) {
  if (!view) return;
  cur = Math.max(0, Math.min(view.frames - 1, i | 0));
  const v = $("video");
  if (view.times.length) v.currentTime = frameTime(cur);
  drawOverlay(); drawTimeline(); drawWave();
}

// ---- overlay ----------------------------------------------------------------------------
function drawOverlay() {
  const c = $("overlay"), v = $("video");
  const W = c.clientWidth, H = c.clientHeight;
  c.width = W; c.height = H;
  const g = c.getContext("2d");
  g.clearRect(0, 0, W, H);
  $("frame").value = cur;
  if (!view || !view.width) return;
  const s = W / view.width, sy = H / view.height;
  g.font = "12px system-ui"; g.lineWidth = 2;
  const excluded = new Set(view.tracks.filter((t) => t.exclude).map((t) => t.id));
  for (const [x1, y1, x2, y2, cat, source, track] of view.regions[cur] || []) {
    const off = excluded.has(track);
    g.strokeStyle = off ? "#9e9e9e" : (COLORS[cat] || "#fff");
    g.setLineDash(off ? [6, 4] : source === "detected" ? [] : [3, 3]);
    g.strokeRect(x1 * s, y1 * sy, (x2 - x1) * s, (y2 - y1) * sy);
    g.fillStyle = g.strokeStyle;
    g.fillText(`#${track} ${source}${off ? " (visible)" : ""}`, x1 * s + 2, Math.max(12, y1 * sy - 3));
  }
  g.setLineDash([]);
  view.manual.forEach((m, k) => {
    const b = manualBox(m, cur);
    if (!b) return;
    g.strokeStyle = COLORS[m.category || "face"] || "#fff";
    g.lineWidth = selected === k ? 3 : 2;
    g.strokeRect(b[0] * s, b[1] * sy, (b[2] - b[0]) * s, (b[3] - b[1]) * sy);
    g.fillStyle = g.strokeStyle;
    g.fillText(`box ${k} manual`, b[0] * s + 2, Math.max(12, b[1] * sy - 3));
  });
  if (drag) {
    g.strokeStyle = "#ff5252"; g.setLineDash([4, 2]);
    const [x1, y1, x2, y2] = norm(drag);
    g.strokeRect(x1 * s, y1 * sy, (x2 - x1) * s, (y2 - y1) * sy);
  }
  $("clock").textContent = view.times.length ? `${(view.times[cur] - t0).toFixed(3)} s` : "";
}

function norm(b) { return [Math.min(b[0], b[2]), Math.min(b[1], b[3]), Math.max(b[0], b[2]), Math.max(b[1], b[3])]; }

function toVideo(ev) {
  const c = $("overlay"), r = c.getBoundingClientRect();
  return [(ev.clientX - r.left) * view.width / r.width, (ev.clientY - r.top) * view.height / r.height];
}

$("overlay").addEventListener("mousedown", (ev) => {
  if (!drawing || !view || !view.width) return;
  const [x, y] = toVideo(ev); drag = [x, y, x, y];
});
$("overlay").addEventListener("mousemove", (ev) => {
  if (!drag) return;
  const [x, y] = toVideo(ev); drag[2] = x; drag[3] = y; drawOverlay();
});
window.addEventListener("mouseup", async () => {
  if (!drag) return;
  const box = norm(drag).map((v) => Math.round(v * 10) / 10);
  drag = null;
  if (box[2] - box[0] < 2 || box[3] - box[1] < 2) { drawOverlay(); return; }
  if (selected !== null && selected < view.manual.length) {
    await edit({ op: "manual_keyframe", index: selected, frame: cur, box });
  } else if (await edit({ op: "manual_add", category: $("newcat").value, keyframes: [{ frame: cur, box }] })) {
    selected = view.manual.length - 1;
    lists(); drawOverlay();
  }
});

// ---- assisted tracking -------------------------------------------------------------------
function trackDirection(m) {
  const d = $("trackdir").value;
  if (d !== "auto") return d;
  const kfs = keyframes(m);
  if (kfs.length === 1) return "both";
  return cur <= kfs[0].frame ? "backward" : "forward";
}
$("track").onclick = async () => {
  const m = selected !== null ? view.manual[selected] : null;
  const box = m ? manualBox(m, cur) : null;
  if (!box) { status("draw a box on this frame first (Draw box), or select a box that is on it"); return; }
  try {
    await call("track", { frame: cur, box: box.map((v) => Math.round(v * 10) / 10), index: selected,
                          category: m.category || "face", direction: trackDirection(m) });
  } catch (e) { status(e.message); return; }
  pollTrack();
};
$("trackstop").onclick = () => call("track", { cancel: true }).catch((e) => status(e.message));
async function pollTrack() {
  let j;
  try { j = await call("track"); } catch (e) { status(e.message); return; }
  $("trackprogress").value = j.total ? j.done / j.total : 0;
  $("trackstop").disabled = j.state !== "running";
  $("track").disabled = j.state === "running";
  document.body.dataset.tracking = j.state;
  if (j.state === "running") {
    $("trackinfo").textContent = `tracking from frame ${j.frame}: ${j.done} frames read…`;
    setTimeout(pollTrack, 400); return;
  }
  if (j.state === "ok") {
    $("trackinfo").textContent = `box ${j.result.index}: ${j.result.note}`;
    setView(await call("plan"));
    selected = j.result.index; lists(); drawOverlay();
  } else if (j.state !== "idle") {
    $("trackinfo").textContent = `tracking ${j.state}${j.error ? ": " + j.error : ""}`;
  }
  $("trackinfo").dataset.state = j.state;
}

// ---- timeline and waveform ----------------------------------------------------------------
function span() {
  const t = view.times;
  const video = t.length ? t[t.length - 1] - t0 + (t.length > 1 ? t[1] - t[0] : 0.04) : 1;
  return Math.max(video, peaks && peaks.duration ? peaks.duration : 0, 1e-3);
}
function xOf(sec, W) { return sec / span() * W; }
function xFrame(f, W) { return view.times.length ? xOf(view.times[Math.min(f, view.times.length - 1)] - t0, W) : f / view.frames * W; }

function drawTimeline() {
  const c = $("timeline");
  const rows = view.tracks.length + view.manual.length + 1;
  c.width = c.clientWidth; c.height = 10 + rows * 12;
  const g = c.getContext("2d"), W = c.width;
  g.clearRect(0, 0, W, c.height);
  g.fillStyle = "#e53935";
  for (const f of view.flagged) g.fillRect(xFrame(f, W), 0, 2, 8);
  let y = 10;
  for (const t of view.tracks) {
    g.fillStyle = t.exclude ? "#616161" : (COLORS[t.category] || "#fff");
    const x1 = xFrame(t.first_frame, W), x2 = xFrame(t.last_frame + 1, W);
    g.fillRect(x1, y + 1, Math.max(2, x2 - x1), 9);
    y += 12;
  }
  view.manual.forEach((m) => {
    const kfs = keyframes(m);
    g.fillStyle = COLORS[m.category || "face"] || "#fff";
    const x1 = xFrame(kfs[0].frame, W), x2 = xFrame(kfs[kfs.length - 1].frame + 1, W);
    g.globalAlpha = 0.5; g.fillRect(x1, y + 1, Math.max(2, x2 - x1), 9); g.globalAlpha = 1;
    for (const k of kfs) g.fillRect(xFrame(k.frame, W), y, 2, 11);
    y += 12;
  });
  g.fillStyle = "#fff";
  g.fillRect(xFrame(cur, W), 0, 1, c.height);
}

function drawWave() {
  const c = $("wave");
  c.width = c.clientWidth;
  const g = c.getContext("2d"), W = c.width, H = c.height;
  g.clearRect(0, 0, W, H);
  for (const a of view.audio || []) {
    g.fillStyle = a.mode === "bleep" ? "rgba(255,152,0,0.45)" : "rgba(158,158,158,0.45)";
    g.fillRect(xOf(a.start - t0, W), 0, xOf(a.end - a.start, W), H);
  }
  if (asel) { g.fillStyle = "rgba(33,150,243,0.4)"; g.fillRect(xOf(asel[0], W), 0, xOf(asel[1] - asel[0], W), H); }
  if (peaks && peaks.max.length) {
    g.strokeStyle = "#4fc3f7"; g.beginPath();
    const n = peaks.max.length;
    for (let k = 0; k < n; k++) {
      const x = xOf(peaks.start - t0 + k / n * peaks.duration, W);
      g.moveTo(x, H / 2 - peaks.max[k] * H / 2); g.lineTo(x, H / 2 - peaks.min[k] * H / 2);
    }
    g.stroke();
  } else { g.fillStyle = "#777"; g.fillText(view.has_audio ? "loading waveform…" : "no audio", 6, 14); }
  g.fillStyle = "#fff"; g.fillRect(xFrame(cur, W), 0, 1, H);
}

$("timeline").addEventListener("click", (ev) => {
  const r = ev.target.getBoundingClientRect();
  seek(frameAt((ev.clientX - r.left) / r.width * span()));
});
let wdrag = null;
$("wave").addEventListener("mousedown", (ev) => {
  const r = ev.target.getBoundingClientRect();
  wdrag = (ev.clientX - r.left) / r.width * span(); asel = [wdrag, wdrag];
});
$("wave").addEventListener("mousemove", (ev) => {
  if (wdrag === null) return;
  const r = ev.target.getBoundingClientRect();
  const s = Math.max(0, Math.min(span(), (ev.clientX - r.left) / r.width * span()));
  asel = [Math.min(wdrag, s), Math.max(wdrag, s)];
  $("astart").value = asel[0].toFixed(3); $("aend").value = asel[1].toFixed(3);
  drawWave();
});
window.addEventListener("mouseup", () => { wdrag = null; });
$("addaudio").onclick = async () => {
  const start = parseFloat($("astart").value), end = parseFloat($("aend").value);
  // Sent as typed (an empty field is null): the server's plan check words the error.
  if (await edit({ op: "audio_add", start: isNaN(start) ? null : start + t0,
                   end: isNaN(end) ? null : end + t0, mode: $("amode").value })) { asel = null; drawWave(); }
};

// ---- playback and buttons ---------------------------------------------------------------
const video = $("video");
function onFrame(_now, meta) {
  if (playing) { cur = frameAt(meta.mediaTime); drawOverlay(); drawTimeline(); drawWave(); video.requestVideoFrameCallback(onFrame); }
}
$("play").onclick = () => {
  if (video.paused) { video.play(); playing = true; $("play").textContent = "Pause"; if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(onFrame); }
  else { video.pause(); playing = false; $("play").textContent = "Play"; seek(frameAt(video.currentTime)); }
};
video.addEventListener("ended", () => { playing = false; $("play").textContent = "Play"; });
video.addEventListener("seeked", drawOverlay);
video.addEventListener("loadeddata", () => { video.dataset.ready = "1"; seek(cur); });
$("prev").onclick = () => seek(cur - 1);
$("next").onclick = () => seek(cur + 1);
$("back10").onclick = () => seek(cur - 10);
$("fwd10").onclick = () => seek(cur + 10);
$("frame").onchange = () => seek(parseInt($("frame").value, 10) || 0);
$("draw").onclick = () => { drawing = !drawing; $("draw").classList.toggle("active", drawing); };
$("undo").onclick = () => edit({ op: "undo" });
$("approve").onclick = () => edit({ op: "approve", value: !(view.review && view.review.approved) });
$("render").onclick = async () => {
  try { await call("render", {}); } catch (e) { status(e.message); return; }
  status("rendering…", true);
  const poll = async () => {
    const j = await call("render");
    $("progress").value = j.total ? j.done / j.total : 0;
    if (j.state === "running") { setTimeout(poll, 400); return; }
    $("renderinfo").textContent = j.state === "ok"
      ? `rendered: ${j.output}${j.verdict === "review" ? " (second look flagged frames: review them)" : ""}`
      : `render failed: ${j.error}`;
    $("renderinfo").dataset.state = j.state;
    setView(await call("plan"));
  };
  poll();
};
window.addEventListener("keydown", (ev) => {
  if (ev.target.tagName === "INPUT" || ev.target.tagName === "SELECT") return;
  if (ev.key === "ArrowLeft") seek(cur - 1);
  if (ev.key === "ArrowRight") seek(cur + 1);
});
window.addEventListener("resize", () => view && (drawOverlay(), drawTimeline(), drawWave()));

$("back").href = "./?token=" + encodeURIComponent(TOKEN);
(async () => {
  video.src = api("video");  // loads while the plan view is computed
  try { setView(await call("plan")); } catch (e) { status(e.message); return; }
  if (video.dataset.ready) seek(cur);
  document.body.dataset.ready = "1";
  if (view.assist && view.assist.state === "running") pollTrack();
  if (view.has_audio) {
    try { peaks = await call("waveform"); drawWave(); } catch (e) { status(e.message); }
  }
})();
