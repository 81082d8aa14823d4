// clip2frame viewer: plain JS + canvas, no libraries, no build step.
// Data comes from /api/results/<id> (see web/app.py); every time axis shares one mapping
// x = GUTTER + t / duration * plotWidth, shows the playhead and seeks on click.
"use strict";

function modelText(name, sha, version) {
  // "model: NAME VERSION · 3f2a9c1d0e4b" (which model made a result; its weights hash in short)
  if (!name && !sha) return "model: unknown";
  return "model: " + (name || "?") + (version ? " " + version : "") + (sha ? " · " + sha.slice(0, 12) : "");
}

(function () {
  const GUTTER = 178;        // px left of the time axis, for tag names
  const RIGHT_PAD = 8;
  const RULER_H = 18;
  const WAVE_H = 64;
  const KIND_H = 17;
  const ROW_H = 15;
  const LANE_H = 13;
  const TOP_N = 5;
  const KIND_COLORS = window.c2fPalette.KIND_COLORS;  // palette.js: shared with the live view
  const colormap = window.c2fPalette.colormap;

  const $ = (id) => document.getElementById(id);
  const state = {
    config: null, result: null, player: null, duration: 0, time: 0,
    lastFrame: -1, rows: [], lanes: [], bases: {}, kindIndex: {}, kindItems: {}, raf: 0,
    v0: 0, v1: 1,  // the visible time window (zoom), seconds
  };
  // Handle for debugging and tests: timeToX(canvasId, t) is where time t lies on that canvas (CSS px).
  window.c2f = { state: state, seek: seek, timeToX: (id, t) => xOf($(id), t) };

  // ---------------------------------------------------------------- utilities
  function fmtTime(t) {
    if (!isFinite(t) || t < 0) t = 0;
    const m = Math.floor(t / 60);
    const s = t - 60 * m;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(1);
  }
  function fmtSize(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  async function fetchJSON(url, options) {
    let r;
    try {
      r = await fetch(url, options);
    } catch (e) {
      throw new Error("cannot reach the server (" + e.message + ")");
    }
    let body = null;
    try { body = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) {
      const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : r.statusText;
      throw new Error(detail + " (HTTP " + r.status + ")");
    }
    return body;
  }

  // ---------------------------------------------------------------- errors
  function showError(msg) {
    console.error(msg);
    $("error-text").textContent = msg;
    $("error-banner").hidden = false;
  }
  function clearError() { $("error-banner").hidden = true; $("error-text").textContent = ""; }

  // ---------------------------------------------------------------- results list (from the index)
  // One page of /api/results fills the browse table and the quick-open select; sorting, filtering and
  // paging are done by the server's index query.
  const browse = { offset: 0, limit: 50, sort: "tagged", order: "desc", q: "", total: 0 };

  async function loadResults(selectId) {
    const qs = new URLSearchParams({ offset: browse.offset, limit: browse.limit, sort: browse.sort, order: browse.order });
    if (browse.q) qs.set("q", browse.q);
    const data = await fetchJSON("/api/results?" + qs.toString());
    browse.total = data.total;
    const sel = $("result-select");
    const keep = selectId || (state.result && state.result.id) || "";
    while (sel.options.length > 1) sel.remove(1);
    const body = $("browse-table").tBodies[0];
    body.textContent = "";
    for (const r of data.results) {
      const label = r.name + (r.kind === "video detection" ? " [video detection]" : "") + (r.name !== r.id ? "  —  " + r.id : "");
      const opt = el("option", null, label);
      opt.value = r.id;
      sel.appendChild(opt);
      const tr = el("tr");
      tr.dataset.id = r.id;
      const tagged = r.modified ? new Date(r.modified * 1000).toISOString().slice(0, 16).replace("T", " ") : "";
      tr.append(el("td", null, r.name + (r.kind === "video detection" ? " [video]" : "")), el("td", "muted", r.id),
                el("td", "mono", r.duration_s != null ? fmtTime(r.duration_s) : ""), el("td", "muted", tagged),
                el("td", "muted", modelText(r.model, r.model_sha256)));
      if (r.paths && r.paths.length > 1) tr.title = "same audio: " + r.paths.join(", ");
      tr.addEventListener("click", () => openResult(r.id));
      body.appendChild(tr);
    }
    if (keep && !Array.from(sel.options).some((o) => o.value === keep)) {
      const opt = el("option", null, keep);  // the open result is on another page
      opt.value = keep;
      sel.appendChild(opt);
    }
    sel.value = keep;
    const last = Math.min(browse.offset + data.results.length, data.total);
    $("browse-page").textContent = data.total ? (browse.offset + 1) + "–" + last + " of " + data.total : "no results";
    $("browse-info").textContent = data.indexing ? "indexing the folder…" : "";
    $("browse-prev").disabled = browse.offset === 0;
    $("browse-next").disabled = last >= data.total;
    for (const th of $("browse-table").tHead.rows[0].cells) {
      th.classList.toggle("sorted-asc", th.dataset.sort === browse.sort && browse.order === "asc");
      th.classList.toggle("sorted-desc", th.dataset.sort === browse.sort && browse.order === "desc");
    }
    if (data.indexing) setTimeout(() => loadResults().catch(() => {}), 2000);
    return data.results;
  }

  // ---------------------------------------------------------------- search (tag chips, with / without)
  const search = { offset: 0, limit: 25, query: null };

  async function loadTags() {
    const data = await fetchJSON("/api/tags");
    const box = $("tag-chips");
    const states = {};
    for (const c of box.children) states[c.dataset.tag] = c.dataset.state;
    box.textContent = "";
    if (!data.tags.length) box.appendChild(el("span", "muted", "(no tags indexed yet)"));
    for (const t of data.tags) {
      const chip = el("button", "chip", t.name);
      chip.type = "button";
      chip.dataset.tag = t.name;
      chip.dataset.state = states[t.name] || "";
      chip.title = t.kind + ": click to require, again to exclude, again to ignore";
      chip.addEventListener("click", () => {
        chip.dataset.state = { "": "with", "with": "without", "without": "" }[chip.dataset.state || ""];
        markMain();
      });
      box.appendChild(chip);
    }
    markMain();
  }
  // The first required tag is the one searched for (its order = click order is not kept: DOM order).
  function markMain() {
    let first = true;
    for (const c of $("tag-chips").querySelectorAll(".chip")) {
      const main = first && c.dataset.state === "with";
      c.classList.toggle("main", main);
      if (main) first = false;
    }
  }

  function readQuery() {
    const chips = Array.from($("tag-chips").querySelectorAll(".chip"));
    const want = chips.filter((c) => c.dataset.state === "with").map((c) => c.dataset.tag);
    const not = chips.filter((c) => c.dataset.state === "without").map((c) => c.dataset.tag);
    if (!want.length) throw new Error("Pick a tag to search for: click its chip once (twice excludes it).");
    return { tag: want[0], with: want.slice(1).join(","), without: not.join(","),
             min_duration: $("min-duration").value || "0", min_score: $("min-score").value || "0" };
  }

  async function runSearch() {
    clearError();
    const qs = new URLSearchParams(Object.assign({}, search.query, { limit: search.limit, offset: search.offset }));
    let data;
    try {
      data = await fetchJSON("/api/search?" + qs.toString());
    } catch (e) {
      showError("Search failed: " + e.message);
      return;
    }
    const body = $("search-table").tBodies[0];
    body.textContent = "";
    for (const s of data.segments) {
      const tr = el("tr");
      tr.dataset.file = s.file;
      tr.dataset.onset = s.onset;
      const play = el("button", "button small", "▶");
      play.type = "button";
      play.title = "play from " + fmtTime(s.onset);
      tr.append(el("td"), el("td", null, s.name + (s.name !== s.file ? "  —  " + s.file : "")),
                el("td", "mono", fmtTime(s.onset)), el("td", "mono", fmtTime(s.offset)),
                el("td", "mono", s.duration.toFixed(1) + " s"), el("td", "mono", s.score.toFixed(2)),
                el("td", "muted", modelText(s.model, s.model_sha256)));
      tr.cells[0].appendChild(play);
      tr.addEventListener("click", () => playSegment(s.file, s.onset));
      body.appendChild(tr);
    }
    $("search-results").hidden = false;
    const q = data.query;
    $("search-info").textContent = q.tag + (q.with.length ? " + " + q.with.join(" + ") : "") +
      (q.without.length ? " without " + q.without.join(", ") : "") + (q.min_duration ? ", ≥ " + q.min_duration + " s" : "");
    $("search-page").textContent = data.segments.length ? (search.offset + 1) + "–" + (search.offset + data.segments.length) + (data.has_more ? " of more" : "") : "no segments match";
    $("search-prev").disabled = search.offset === 0;
    $("search-next").disabled = !data.has_more;
  }

  async function playSegment(id, onset) {
    if (!state.result || state.result.id !== id) await openResult(id);
    if (!state.result || state.result.id !== id) return;
    const go = () => {
      seek(onset);
      if (state.player && state.player.paused) togglePlay();
    };
    if (state.player && state.player.readyState < 1) state.player.addEventListener("loadedmetadata", go, { once: true });
    else go();
  }

  async function openResult(id) {
    clearError();
    let data;
    try {
      data = await fetchJSON("/api/results/" + id.split("/").map(encodeURIComponent).join("/"));
    } catch (e) {
      showError("Cannot open result " + id + ": " + e.message);
      return;
    }
    state.result = data;
    state.duration = data.duration_s > 0 ? data.duration_s : (data.boundaries[data.boundaries.length - 1] || 1);
    state.time = 0;
    state.lastFrame = -1;
    state.v0 = 0;
    state.v1 = state.duration;
    $("zoom-info").textContent = "";
    $("result-select").value = id;
    if (location.hash !== "#result=" + encodeURIComponent(id)) {
      history.replaceState(null, "", "#result=" + encodeURIComponent(id));
    }
    $("empty-state").hidden = true;
    $("viewer").hidden = false;
    $("result-name").textContent = data.name;
    $("result-name").title = data.id;
    const m = data.model || {};
    $("result-model").textContent = modelText(m.name || m.model, m.weights_sha256, m.version || m.model_version);
    $("duration").textContent = fmtTime(state.duration);
    document.title = data.name + " — clip2frame";
    setupMedia(data);
    buildKindPanels(data);
    buildFileList(data);
    layoutAndDraw();
    updateAt(0, true);
    $("viewer").dataset.resultId = data.id;
  }

  // ---------------------------------------------------------------- media
  function setupMedia(data) {
    const box = $("media-box");
    if (state.player) {  // retire the previous one: its late events must not touch the new result
      const old = state.player;
      state.player = null;
      old.pause();
      old.removeAttribute("src");
      old.load();
    }
    box.textContent = "";
    state.player = null;
    $("media-status").textContent = "";
    const playBtn = $("play-btn");
    playBtn.disabled = true;
    playBtn.textContent = "▶ Play";
    if (!data.media) {
      $("media-status").textContent = "(no media file next to this result: playback off, seeking still moves the playhead)";
      return;
    }
    const player = el(data.media.video ? "video" : "audio");
    player.id = "player";
    player.controls = true;
    player.preload = "auto";
    player.src = data.media.url;
    if (data.media.video) player.playsInline = true;
    box.appendChild(player);
    if (data.overlay_url && data.overlay_url !== data.media.url) {
      const toggle = el("button", "button", "Show detection overlay");
      toggle.type = "button";
      let overlay = false;
      toggle.addEventListener("click", () => {
        const t = player.currentTime;
        overlay = !overlay;
        player.src = overlay ? data.overlay_url : data.media.url;
        player.currentTime = t;
        toggle.textContent = overlay ? "Show original" : "Show detection overlay";
      });
      box.appendChild(toggle);
    }
    state.player = player;
    playBtn.disabled = false;
    const on = (type, fn) => player.addEventListener(type, (ev) => { if (state.player === player) fn(ev); });
    on("play", () => { playBtn.textContent = "❚❚ Pause"; loop(); });
    on("pause", () => { playBtn.textContent = "▶ Play"; });
    on("ended", () => { playBtn.textContent = "▶ Play"; });
    on("timeupdate", () => updateAt(player.currentTime));
    on("seeked", () => updateAt(player.currentTime));
    on("loadedmetadata", () => {
      if (isFinite(player.duration) && player.duration > state.duration + 0.05) {
        const fit = state.v0 === 0 && state.v1 === state.duration;
        state.duration = player.duration;
        if (fit) state.v1 = state.duration;
        $("duration").textContent = fmtTime(state.duration);
        layoutAndDraw();
      }
      $("media-status").textContent = "";
    });
    on("error", () => {
      const err = player.error;
      const why = err ? ({ 1: "aborted", 2: "network error", 3: "cannot decode", 4: "format not supported by this browser" }[err.code] || "error " + err.code) : "error";
      showError("Cannot play " + data.media.name + ": " + why + ". The detections are still shown; download the files below.");
      playBtn.disabled = true;
    });
  }

  function togglePlay() {
    const p = state.player;
    if (!p) return;
    if (p.paused) {
      const pr = p.play();
      // AbortError: a pause() or a new source came first, which is not a failure.
      if (pr && pr.catch) pr.catch((e) => { if (e.name !== "AbortError") showError("Playback failed: " + e.message); });
    } else {
      p.pause();
    }
  }

  function currentTime() { return state.player ? state.player.currentTime : state.time; }

  function seek(t) {
    t = Math.min(Math.max(0, t), state.duration);
    state.time = t;
    if (state.player) {
      try { state.player.currentTime = t; } catch (e) { /* not seekable yet; playhead still moves */ }
    }
    updateAt(t, true);
  }

  function loop() {
    cancelAnimationFrame(state.raf);
    const step = () => {
      updateAt(currentTime());
      if (state.player && !state.player.paused && !state.player.ended) state.raf = requestAnimationFrame(step);
    };
    state.raf = requestAnimationFrame(step);
  }

  // ---------------------------------------------------------------- time axes
  function plotW(canvas) { return Math.max(10, canvas.clientWidth - GUTTER - RIGHT_PAD); }
  function span() { return Math.max(1e-6, state.v1 - state.v0); }
  function xOf(canvas, t) { return GUTTER + ((t - state.v0) / span()) * plotW(canvas); }
  function timeOf(canvas, x) { return state.v0 + ((x - GUTTER) / plotW(canvas)) * span(); }
  function zoomed() { return state.v0 > 1e-9 || state.v1 < state.duration - 1e-9; }

  // Visible window [v0, v1]: at least 4 model frames (or 1 s), within [0, duration].
  function setView(v0, v1) {
    const r = state.result;
    const frame = r && r.boundaries.length > 1 ? r.boundaries[1] - r.boundaries[0] : 0.5;
    const minSpan = Math.min(state.duration, Math.max(1, 4 * frame));
    let w = Math.min(state.duration, Math.max(minSpan, v1 - v0));
    v0 = Math.min(Math.max(0, v0), state.duration - w);
    state.v0 = v0;
    state.v1 = v0 + w;
    $("zoom-info").textContent = zoomed() ? fmtTime(state.v0) + " – " + fmtTime(state.v1) : "";
    layoutAndDraw();
  }
  function zoomBy(factor, tCenter) {
    const c = tCenter === undefined ? (state.v0 + state.v1) / 2 : tCenter;
    const w = span() * factor;
    const a = (c - state.v0) / span();  // keep tCenter under the same pixel
    setView(c - a * w, c - a * w + w);
  }

  function prepare(canvas, cssH) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || canvas.parentElement.clientWidth;
    canvas.style.height = cssH + "px";
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(cssH * dpr);
    const base = document.createElement("canvas");
    base.width = canvas.width;
    base.height = canvas.height;
    const ctx = base.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { base: base, ctx: ctx, w: w, h: cssH };
  }

  function niceStep(duration, px) {
    const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600];
    for (const s of steps) if ((s / duration) * px >= 64) return s;
    return steps[steps.length - 1];
  }

  function drawRuler(ctx, canvas, y, h) {
    const pw = plotW(canvas);
    const step = niceStep(span(), pw);
    ctx.fillStyle = "#6a7380";
    ctx.strokeStyle = "#c7ccd3";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "alphabetic";
    ctx.beginPath();
    for (let t = Math.ceil(state.v0 / step - 1e-9) * step; t <= state.v1 + 1e-9; t += step) {
      const x = Math.round(xOf(canvas, t)) + 0.5;
      ctx.moveTo(x, y + h - 5);
      ctx.lineTo(x, y + h);
      const label = step < 1 ? t.toFixed(1) + "s" : fmtTime(t).replace(/\.0$/, "");
      ctx.fillText(label, Math.min(Math.max(x, GUTTER + 14), GUTTER + pw - 14), y + h - 7);
    }
    ctx.stroke();
  }

  function drawWaveform() {
    const canvas = $("waveform-canvas");
    const g = prepare(canvas, WAVE_H);
    const ctx = g.ctx, wf = state.result.waveform;
    const mid = WAVE_H / 2, amp = WAVE_H / 2 - 3;
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = "#1d232b";
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ctx.fillText("waveform", GUTTER - 8, mid);
    ctx.fillStyle = "#f1f3f6";
    ctx.fillRect(GUTTER, 0, plotW(canvas), WAVE_H);
    if (!wf || !wf.n) {
      ctx.fillStyle = "#6a7380";
      ctx.textAlign = "left";
      ctx.fillText("(no waveform)", GUTTER + 8, mid);
    } else {
      const pw = plotW(canvas);
      const bucketS = wf.bucket_s || (wf.duration_s / wf.n);
      ctx.fillStyle = "#5b6b80";
      for (let px = 0; px < pw; px++) {
        const t0 = state.v0 + (px / pw) * span(), t1 = state.v0 + ((px + 1) / pw) * span();
        let b0 = Math.floor(t0 / bucketS), b1 = Math.max(b0 + 1, Math.ceil(t1 / bucketS));
        if (b0 >= wf.n) break;
        b1 = Math.min(b1, wf.n);
        let lo = 1, hi = -1;
        for (let b = b0; b < b1; b++) { if (wf.min[b] < lo) lo = wf.min[b]; if (wf.max[b] > hi) hi = wf.max[b]; }
        const y0 = mid - Math.max(-1, Math.min(1, hi)) * amp, y1 = mid - Math.max(-1, Math.min(1, lo)) * amp;
        ctx.fillRect(GUTTER + px, y0, 1, Math.max(1, y1 - y0));
      }
    }
    state.bases.waveform = g;
  }

  function drawTaggram() {
    const r = state.result, canvas = $("taggram-canvas");
    const nRows = r.labels.length;
    const h = RULER_H + r.groups.length * KIND_H + nRows * ROW_H + 2;
    const g = prepare(canvas, h);
    const ctx = g.ctx, pw = plotW(canvas), T = r.probs.length;
    drawRuler(ctx, canvas, 0, RULER_H);
    let y = RULER_H;
    state.rows = [];
    const xs = r.boundaries.map((b) => xOf(canvas, b));
    let f0 = Math.max(0, frameAt(state.v0)), f1 = Math.min(T, frameAt(state.v1) + 1);
    if (T === 0) { f0 = 0; f1 = 0; }
    r.groups.forEach((grp, gi) => {
      const color = KIND_COLORS[gi % KIND_COLORS.length];
      ctx.fillStyle = color;
      ctx.font = "bold 11px system-ui, sans-serif";
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillText(grp.kind.toUpperCase(), 6, y + KIND_H / 2 + 1);
      ctx.fillRect(0, y + KIND_H - 2, GUTTER - 6, 1);
      y += KIND_H;
      for (const tag of grp.tags) {
        const k = r.labels.indexOf(tag);
        ctx.fillStyle = color;
        ctx.fillRect(0, y + 1, 3, ROW_H - 2);
        ctx.fillStyle = "#1d232b";
        ctx.font = "12px system-ui, sans-serif";
        ctx.textAlign = "right";
        ctx.fillText(tag, GUTTER - 8, y + ROW_H / 2 + 0.5);
        ctx.save();
        ctx.beginPath();
        ctx.rect(GUTTER, y, pw, ROW_H);
        ctx.clip();
        for (let t = f0; t < f1; t++) {
          const x0 = xs[t], x1 = xs[t + 1];
          ctx.fillStyle = colormap(r.probs[t][k]);
          ctx.fillRect(x0, y, Math.max(1, x1 - x0 + 0.6), ROW_H - 1);
        }
        ctx.restore();
        state.rows.push({ tag: tag, k: k, y: y });
        y += ROW_H;
      }
    });
    if (T === 0) {
      ctx.fillStyle = "#6a7380";
      ctx.textAlign = "left";
      ctx.fillText("(no frames)", GUTTER + 8, RULER_H + 10);
    }
    ctx.strokeStyle = "#dde1e6";
    ctx.strokeRect(GUTTER - 0.5, RULER_H - 0.5, pw + 1, y - RULER_H + 1);
    state.bases.taggram = g;
    canvas.dataset.drawn = "1";
  }

  function drawEvents() {
    const r = state.result, canvas = $("events-canvas");
    const byTag = {};
    for (const e of r.events) (byTag[e.label] = byTag[e.label] || []).push(e);
    state.lanes = [];
    r.groups.forEach((grp, gi) => {
      for (const tag of grp.tags) if (byTag[tag]) state.lanes.push({ tag: tag, color: KIND_COLORS[gi % KIND_COLORS.length], events: byTag[tag] });
    });
    const h = 20 + Math.max(1, state.lanes.length) * LANE_H + 4;
    const g = prepare(canvas, h);
    const ctx = g.ctx;
    ctx.font = "bold 11px system-ui, sans-serif";
    ctx.fillStyle = "#6a7380";
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText("DETECTED EVENTS", 6, 10);
    let y = 20;
    if (!state.lanes.length) {
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillText("no tag above its threshold", GUTTER + 8, y + LANE_H / 2);
    }
    for (const lane of state.lanes) {
      ctx.fillStyle = "#f1f3f6";
      ctx.fillRect(GUTTER, y, plotW(canvas), LANE_H - 2);
      ctx.fillStyle = "#1d232b";
      ctx.font = "11px system-ui, sans-serif";
      ctx.textAlign = "right";
      ctx.fillText(lane.tag, GUTTER - 8, y + LANE_H / 2);
      ctx.fillStyle = lane.color;
      for (const e of lane.events) {
        if (e.offset < state.v0 || e.onset > state.v1) continue;
        const x0 = Math.max(GUTTER, xOf(canvas, e.onset)), x1 = Math.min(GUTTER + plotW(canvas), xOf(canvas, e.offset));
        ctx.fillRect(x0, y, Math.max(2, x1 - x0), LANE_H - 2);
      }
      y += LANE_H;
    }
    state.bases.events = g;
  }

  function drawLegend() {
    const legend = $("legend");
    legend.textContent = "";
    const c = el("canvas");
    c.width = 120;
    c.height = 10;
    const ctx = c.getContext("2d");
    for (let i = 0; i < 120; i++) { ctx.fillStyle = colormap(i / 119); ctx.fillRect(i, 0, 1, 10); }
    legend.append(el("span", null, "probability 0"), c, el("span", null, "1"),
      el("span", null, "· click or drag on any time axis to seek · space: play/pause · ←/→: 5 s · zoom: +/−/0 or ctrl+wheel"));
  }

  function layoutAndDraw() {
    if (!state.result) return;
    drawWaveform();
    drawTaggram();
    drawEvents();
    drawLegend();
    state.lastFrame = -1;
    drawPlayheads(currentTime());
  }

  function drawPlayheads(t) {
    for (const [id, key] of [["waveform-canvas", "waveform"], ["taggram-canvas", "taggram"], ["events-canvas", "events"]]) {
      const canvas = $(id), g = state.bases[key];
      if (!g) continue;
      const ctx = canvas.getContext("2d");
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(g.base, 0, 0);
      const dpr = canvas.width / g.w;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      const x = Math.round(xOf(canvas, t)) + 0.5;
      canvas.dataset.playheadX = String(x);
      if (t < state.v0 - 1e-9 || t > state.v1 + 1e-9) continue;  // outside the zoomed window
      ctx.strokeStyle = "#e5484d";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, g.h);
      ctx.stroke();
      if (key === "taggram") {
        ctx.fillStyle = "#e5484d";
        ctx.beginPath();
        ctx.moveTo(x - 5, 0); ctx.lineTo(x + 5, 0); ctx.lineTo(x, 7);
        ctx.fill();
      }
    }
  }

  function attachSeek(canvas) {
    let dragging = false;
    const at = (ev) => {
      const rect = canvas.getBoundingClientRect();
      return { x: ev.clientX - rect.left, y: ev.clientY - rect.top };
    };
    canvas.addEventListener("mousedown", (ev) => {
      if (!state.result) return;
      const p = at(ev);
      if (p.x < GUTTER) return;
      dragging = true;
      seek(timeOf(canvas, p.x));
      ev.preventDefault();  // no text selection while dragging; so hand the keyboard back explicitly
      if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    });
    window.addEventListener("mousemove", (ev) => {
      if (dragging) seek(timeOf(canvas, at(ev).x));
    });
    window.addEventListener("mouseup", () => { dragging = false; });
    // Ctrl/⌘ + wheel zooms around the pointer; shift + wheel (or a horizontal wheel) pans a zoomed view.
    canvas.addEventListener("wheel", (ev) => {
      if (!state.result) return;
      const p = at(ev);
      if (ev.ctrlKey || ev.metaKey) {
        ev.preventDefault();
        zoomBy(Math.exp(Math.max(-1, Math.min(1, ev.deltaY * 0.002))), p.x >= GUTTER ? timeOf(canvas, p.x) : undefined);
      } else if (zoomed() && (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY))) {
        ev.preventDefault();
        const d = ((ev.shiftKey ? ev.deltaY || ev.deltaX : ev.deltaX) / plotW(canvas)) * span();
        setView(state.v0 + d, state.v1 + d);
      }
    }, { passive: false });
    canvas.addEventListener("mousemove", (ev) => {
      if (!state.result || dragging) return;
      const p = at(ev);
      if (p.x < GUTTER) { canvas.title = ""; return; }
      const t = timeOf(canvas, p.x);
      let tip = fmtTime(t);
      if (canvas.id === "taggram-canvas") {
        const row = state.rows.find((rw) => p.y >= rw.y && p.y < rw.y + ROW_H);
        const f = frameAt(t);
        if (row && f >= 0) tip = row.tag + " at " + tip + ": " + state.result.probs[f][row.k].toFixed(2);
      }
      canvas.title = tip;
    });
  }

  // ---------------------------------------------------------------- top tags at the playhead
  function frameAt(t) {
    const b = state.result.boundaries, T = state.result.probs.length;
    if (!T) return -1;
    let lo = 0, hi = T - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (b[mid] <= t) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  function tagItem(tag, kind) {
    const li = el("li");
    li.dataset.tag = tag;
    li.dataset.kind = kind;
    const bar = el("span", "bar");
    const fill = el("span");
    bar.appendChild(fill);
    li.append(el("span", "tag-name", tag), bar, el("span", "prob mono", "0.00"));
    li.title = tag + " (" + kind + ")";
    return li;
  }
  function setItem(li, p, thr) {
    li.dataset.prob = p.toFixed(4);
    li.querySelector(".bar > span").style.width = (100 * Math.min(1, Math.max(0, p))).toFixed(1) + "%";
    li.querySelector(".prob").textContent = p.toFixed(2);
    li.classList.toggle("active", p >= thr);
  }

  function buildKindPanels(r) {
    const box = $("kind-panels");
    box.textContent = "";
    state.kindItems = {};
    for (const grp of r.groups) {
      const sec = el("section", "kind-panel");
      sec.dataset.kind = grp.kind;
      sec.appendChild(el("h4", null, grp.kind));
      const ul = el("ol", "kind-list");
      state.kindItems[grp.kind] = { list: ul, items: grp.tags.map((tag) => tagItem(tag, grp.kind)) };
      for (const li of state.kindItems[grp.kind].items) ul.appendChild(li);
      sec.appendChild(ul);
      box.appendChild(sec);
    }
  }

  function updateAt(t, force) {
    if (!state.result) return;
    const playing = state.player && !state.player.paused;
    if (zoomed() && playing && (t < state.v0 || t >= state.v1)) {
      setView(t - 0.05 * span(), t + 0.95 * span());  // follow the playhead page by page
    }
    drawPlayheads(t);
    $("time-display").textContent = fmtTime(t);
    $("playhead-time").textContent = fmtTime(t);
    const f = frameAt(t);
    if (f === state.lastFrame && !force) return;
    state.lastFrame = f;
    const r = state.result;
    const top = $("top-tags");
    top.textContent = "";
    if (f < 0) return;
    const row = r.probs[f];
    const order = r.labels.map((_, k) => k).sort((a, b) => row[b] - row[a]);
    for (const k of order.slice(0, TOP_N)) {
      const li = tagItem(r.labels[k], r.kinds[r.labels[k]]);
      setItem(li, row[k], r.thresholds[k]);
      top.appendChild(li);
    }
    for (const kind in state.kindItems) {
      const ki = state.kindItems[kind];
      const sorted = ki.items.slice().sort((a, b) => row[r.labels.indexOf(b.dataset.tag)] - row[r.labels.indexOf(a.dataset.tag)]);
      for (const li of sorted) {
        const k = r.labels.indexOf(li.dataset.tag);
        setItem(li, row[k], r.thresholds[k]);
        ki.list.appendChild(li);
      }
    }
    $("top-panel").dataset.frame = String(f);
  }

  // ---------------------------------------------------------------- files
  function buildFileList(r) {
    const ul = $("file-list");
    ul.textContent = "";
    for (const f of r.files) {
      const li = el("li");
      const a = el("a", null, f.name);
      a.href = f.download_url;
      a.setAttribute("download", f.name);
      li.append(a, el("span", "size", fmtSize(f.size)));
      ul.appendChild(li);
    }
  }

  // ---------------------------------------------------------------- uploads and jobs
  function uploadFile(file) {
    clearError();
    const limit = state.config ? state.config.max_upload_bytes : Infinity;
    if (file.size > limit) {
      showError(file.name + " is too large to upload: " + fmtSize(file.size) + " (the limit is " + fmtSize(limit) + ").");
      return;
    }
    const li = el("li");
    const name = el("span", "job-name", file.name);
    const bar = el("progress");
    bar.max = 1;
    bar.value = 0;
    const status = el("span", "job-status", "uploading…");
    li.append(name, bar, status);
    $("jobs").prepend(li);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/jobs?filename=" + encodeURIComponent(file.name));
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) { bar.value = 0.2 * ev.loaded / ev.total; status.textContent = "uploading " + Math.round(100 * ev.loaded / ev.total) + "%"; }
    };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 202 && body && body.id) {
        li.dataset.jobId = body.id;
        pollJob(body.id, li, bar, status);
      } else {
        const detail = body && body.detail ? body.detail : xhr.statusText || "upload failed";
        failJob(li, status, "Upload of " + file.name + " refused: " + detail + " (HTTP " + xhr.status + ")");
      }
    };
    xhr.onerror = () => failJob(li, status, "Upload of " + file.name + " failed: network error (is the server running? is the file under the size limit?)");
    xhr.send(file);
  }

  function failJob(li, status, msg) {
    li.classList.add("error");
    status.textContent = "failed";
    const close = el("button", "button", "dismiss");
    close.type = "button";
    close.addEventListener("click", () => li.remove());
    li.appendChild(close);
    showError(msg);
  }

  function pollJob(id, li, bar, status) {
    let misses = 0;
    const tick = async () => {
      let job;
      try {
        job = await fetchJSON("/api/jobs/" + encodeURIComponent(id));
        misses = 0;
      } catch (e) {
        if (++misses < 5 && !/HTTP 404/.test(e.message)) { setTimeout(tick, 1000); return; }  // a hiccup
        failJob(li, status, "Lost track of job " + id + ": " + e.message);
        return;
      }
      li.dataset.status = job.status;
      if (job.status === "queued") {
        status.textContent = job.jobs_ahead ? "queued (" + job.jobs_ahead + " job" + (job.jobs_ahead > 1 ? "s" : "") + " ahead)" : "queued";
        bar.value = 0.2;
      } else if (job.status === "running") {
        status.textContent = job.stage + "… " + Math.round(job.elapsed_s) + " s";
        bar.value = 0.2 + 0.8 * job.progress;
      } else if (job.status === "done") {
        bar.value = 1;
        status.textContent = "done";
        li.classList.add("done");
        try { await loadResults(job.result_id); await loadTags(); } catch (e) { showError("Cannot list results: " + e.message); }
        await openResult(job.result_id);
        setTimeout(() => li.remove(), 4000);
        return;
      } else {
        failJob(li, status, "Analysis failed: " + (job.error || "unknown error"));
        return;
      }
      setTimeout(tick, 400);
    };
    tick();
  }

  // ---------------------------------------------------------------- boot
  function openFromHash() {
    const m = location.hash.match(/^#result=(.+)$/);
    if (m) {
      let id;
      try { id = decodeURIComponent(m[1]); } catch (e) { showError("Malformed result link: " + location.hash); return; }
      if (!state.result || state.result.id !== id) openResult(id);
    }
  }

  async function boot() {
    $("error-close").addEventListener("click", clearError);
    $("play-btn").addEventListener("click", togglePlay);
    $("zoom-in").addEventListener("click", () => zoomBy(0.5, currentTime()));
    $("zoom-out").addEventListener("click", () => zoomBy(2, currentTime()));
    $("zoom-fit").addEventListener("click", () => setView(0, state.duration));
    $("result-select").addEventListener("change", (ev) => { if (ev.target.value) openResult(ev.target.value); });
    $("search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      try { search.query = readQuery(); } catch (e) { showError(e.message); return; }
      search.offset = 0;
      runSearch();
    });
    $("search-clear").addEventListener("click", () => {
      for (const c of $("tag-chips").querySelectorAll(".chip")) c.dataset.state = "";
      markMain();
      $("search-results").hidden = true;
      $("search-info").textContent = "";
    });
    $("search-prev").addEventListener("click", () => { search.offset = Math.max(0, search.offset - search.limit); runSearch(); });
    $("search-next").addEventListener("click", () => { search.offset += search.limit; runSearch(); });
    const reload = () => loadResults().catch((e) => showError("Cannot list results: " + e.message));
    $("browse-prev").addEventListener("click", () => { browse.offset = Math.max(0, browse.offset - browse.limit); reload(); });
    $("browse-next").addEventListener("click", () => { browse.offset += browse.limit; reload(); });
    for (const th of $("browse-table").tHead.rows[0].cells) {
      th.addEventListener("click", () => {
        const key = th.dataset.sort;
        if (browse.sort === key) browse.order = browse.order === "asc" ? "desc" : "asc";
        else { browse.sort = key; browse.order = key === "name" || key === "path" ? "asc" : "desc"; }
        browse.offset = 0;
        reload();
      });
    }
    let filterTimer = 0;
    $("browse-filter").addEventListener("input", (ev) => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => { browse.q = ev.target.value.trim(); browse.offset = 0; reload(); }, 250);
    });
    $("rescan-btn").addEventListener("click", async () => {
      $("rescan-btn").disabled = true;
      try {
        const r = await fetchJSON("/api/index/rescan", { method: "POST" });
        $("browse-info").textContent = r.indexed + " indexed, " + r.removed + " removed" + (r.failed ? ", " + r.failed + " unreadable" : "");
        if (r.failed) showError("Some results could not be indexed: " + r.errors.join("; "));
        await reload();
        await loadTags();
      } catch (e) {
        showError("Rescan failed: " + e.message);
      } finally {
        $("rescan-btn").disabled = false;
      }
    });
    // New results may be written by `clip2frame tag` meanwhile: refresh the list now and then (not while
    // the list is open, which rebuilding would disturb).
    setInterval(() => {
      if (document.hidden || document.activeElement === $("result-select")) return;
      loadResults().catch((e) => showError("Cannot list results: " + e.message));
    }, 15000);
    $("file-input").addEventListener("change", (ev) => {
      for (const f of ev.target.files) uploadFile(f);
      ev.target.value = "";
    });
    for (const id of ["waveform-canvas", "taggram-canvas", "events-canvas"]) attachSeek($(id));
    document.addEventListener("keydown", (ev) => {
      const tag = (ev.target && ev.target.tagName) || "";
      if (/INPUT|SELECT|TEXTAREA|AUDIO|VIDEO/.test(tag) || !state.result || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.code === "Space") { if (tag !== "BUTTON") { ev.preventDefault(); togglePlay(); } }
      else if (ev.code === "ArrowLeft") { ev.preventDefault(); seek(currentTime() - (ev.shiftKey ? 1 : 5)); }
      else if (ev.code === "ArrowRight") { ev.preventDefault(); seek(currentTime() + (ev.shiftKey ? 1 : 5)); }
      else if (ev.key === "+" || ev.key === "=") zoomBy(0.5, currentTime());
      else if (ev.key === "-") zoomBy(2, currentTime());
      else if (ev.key === "0") setView(0, state.duration);
    });
    let depth = 0;
    document.addEventListener("dragenter", (ev) => { ev.preventDefault(); depth++; $("drop-hint").hidden = false; });
    document.addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; $("drop-hint").hidden = true; } });
    document.addEventListener("dragover", (ev) => ev.preventDefault());
    document.addEventListener("drop", (ev) => {
      ev.preventDefault();
      depth = 0;
      $("drop-hint").hidden = true;
      for (const f of ev.dataTransfer.files) uploadFile(f);
    });
    let resizeTimer = 0;
    window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(layoutAndDraw, 120); });
    window.addEventListener("hashchange", openFromHash);
    try {
      state.config = await fetchJSON("/api/config");
      $("model-info").textContent = "model: " + state.config.model + " · clip2frame " + state.config.version;
      $("accepted-info").textContent = "Accepted: " + state.config.accepted + ", up to " + fmtSize(state.config.max_upload_bytes) + ".";
      await loadResults();
      await loadTags();
    } catch (e) {
      showError("Cannot load the result list: " + e.message);
    }
    openFromHash();
    document.body.dataset.ready = "1";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
