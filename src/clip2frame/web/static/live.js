// clip2frame live view: audio from the microphone (or a file played at real time) is posted to
// /api/live/<id>/audio as float32 chunks; frames and events come back as server-sent events
// (web/live.py) and are drawn as a scrolling taggram, grouped and coloured as a file result.
"use strict";

(function () {
  const GUTTER = 178, RIGHT_PAD = 8, RULER_H = 18, KIND_H = 17, ROW_H = 15, PX_PER_FRAME = 6;
  const MAX_FRAMES = 4000, SEND_MS = 250;
  const { KIND_COLORS, colormap } = window.c2fPalette;
  const $ = (id) => document.getElementById(id);
  const state = { session: null, source: null, frames: [], t0: 0, pending: [], sent: 0, final: 0,
                  audio: null, timer: 0, sending: false, nEvents: 0 };
  window.c2fLive = { state: state };

  function showError(msg) { $("error-text").textContent = msg; $("error-banner").hidden = false; }
  async function post(url, body) {
    const r = await fetch(url, { method: "POST", body: body,
      headers: body ? { "Content-Type": "application/octet-stream" } : {} });
    if (!r.ok) {
      let msg = r.status + " " + r.statusText;
      try { msg = (await r.json()).detail || msg; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    return r.status === 201 ? r.json() : null;
  }

  async function start(rate) {
    state.session = await post("/api/live?rate=" + Math.round(rate));
    state.frames = []; state.t0 = 0; state.sent = 0; state.final = 0; state.nEvents = 0;
    $("live-events").textContent = "";
    const es = new EventSource("/api/live/" + state.session.id + "/stream");
    es.addEventListener("frames", (m) => {
      const d = JSON.parse(m.data);
      for (const row of d.probs) state.frames.push(row);
      if (state.frames.length > MAX_FRAMES) {
        const drop = state.frames.length - MAX_FRAMES;
        state.frames.splice(0, drop);
        state.t0 += drop * state.session.frame_s;
      }
      state.final = d.t0 + d.probs.length * state.session.frame_s;
      draw();
    });
    es.addEventListener("events", (m) => {
      for (const e of JSON.parse(m.data)) {
        const li = document.createElement("li");
        li.textContent = e.tag + "  " + e.onset.toFixed(2) + "–" + e.offset.toFixed(2) + " s  (peak " +
          e.peak.toFixed(2) + ")";
        $("live-events").prepend(li);
        state.nEvents++;
      }
    });
    es.addEventListener("end", () => { es.close(); status("ended"); });
    es.onerror = () => { if (state.session) status("connection lost"); };
    state.timer = setInterval(send, SEND_MS);
    $("live-stop").disabled = false;
    status("listening");
  }

  function status(what) {
    const s = state.session;
    $("live-status").textContent = what + (s ? " — latency bound " + s.latency_bound_s.toFixed(1) +
      " s, audio " + state.sent.toFixed(1) + " s, final " + state.final.toFixed(1) + " s, " + state.nEvents +
      " events" : "");
  }

  async function send() {
    if (state.sending || !state.session || !state.pending.length) return;
    state.sending = true;
    const n = state.pending.reduce((a, b) => a + b.length, 0);
    const buf = new Float32Array(n);
    let o = 0;
    for (const p of state.pending) { buf.set(p, o); o += p.length; }
    state.pending = [];
    try {
      await post("/api/live/" + state.session.id + "/audio", buf.buffer);
      state.sent += n / state.audio.sampleRate;
      status("listening");
    } catch (e) { showError("live audio: " + e.message); await stop(); }
    state.sending = false;
  }

  async function stop() {
    clearInterval(state.timer);
    if (state.source) { try { state.source.disconnect(); } catch (e) { /* gone */ } }
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    if (state.session) {
      await send();
      try { await post("/api/live/" + state.session.id + "/close"); } catch (e) { showError(e.message); }
    }
    if (state.audio) { state.audio.close(); state.audio = null; }
    $("live-stop").disabled = true;
  }

  function capture(node) {
    const proc = state.audio.createScriptProcessor(4096, 1, 1);
    proc.onaudioprocess = (ev) => { state.pending.push(new Float32Array(ev.inputBuffer.getChannelData(0))); };
    node.connect(proc);
    proc.connect(state.audio.destination);  // a ScriptProcessor runs only when connected; its output is silence
    state.source = node;
  }

  $("mic-start").addEventListener("click", async () => {
    try {
      state.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      state.audio = new AudioContext();
      await start(state.audio.sampleRate);
      capture(state.audio.createMediaStreamSource(state.stream));
    } catch (e) { showError("microphone: " + e.message); }
  });
  $("live-file").addEventListener("change", async (ev) => {
    const file = ev.target.files[0];
    if (!file) return;
    try {
      state.audio = new AudioContext();
      const decoded = await state.audio.decodeAudioData(await file.arrayBuffer());
      await start(state.audio.sampleRate);
      const src = state.audio.createBufferSource();
      src.buffer = decoded;
      src.onended = () => stop();
      capture(src);
      src.start();
    } catch (e) { showError(file.name + ": " + e.message); }
  });
  $("live-stop").addEventListener("click", stop);

  function draw() {
    const s = state.session, canvas = $("live-canvas");
    const nRows = s.labels.length;
    const h = RULER_H + s.groups.length * KIND_H + nRows * ROW_H + 2;
    const dpr = window.devicePixelRatio || 1, w = canvas.clientWidth || 800;
    canvas.width = w * dpr; canvas.height = h * dpr; canvas.style.height = h + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const pw = Math.max(10, w - GUTTER - RIGHT_PAD), nVis = Math.floor(pw / PX_PER_FRAME);
    const f1 = state.frames.length, f0 = Math.max(0, f1 - nVis);
    const x0 = GUTTER + pw - (f1 - f0) * PX_PER_FRAME;  // newest frame at the right edge
    ctx.fillStyle = "#6a7380"; ctx.font = "10px system-ui, sans-serif"; ctx.textBaseline = "middle";
    for (let f = f0; f < f1; f++) {  // a tick every 10 frames (5.12 s at 0.512 s a frame)
      const t = state.t0 + f * s.frame_s;
      if (Math.round(t / s.frame_s) % 10 === 0) ctx.fillText(t.toFixed(0) + " s", x0 + (f - f0) * PX_PER_FRAME, RULER_H / 2);
    }
    let y = RULER_H;
    s.groups.forEach((grp, gi) => {
      const color = KIND_COLORS[gi % KIND_COLORS.length];
      ctx.fillStyle = color; ctx.font = "bold 11px system-ui, sans-serif"; ctx.textAlign = "left";
      ctx.fillText(grp.kind.toUpperCase(), 6, y + KIND_H / 2 + 1);
      ctx.fillRect(0, y + KIND_H - 2, GUTTER - 6, 1);
      y += KIND_H;
      for (const tag of grp.tags) {
        const k = s.labels.indexOf(tag);
        ctx.fillStyle = color; ctx.fillRect(0, y + 1, 3, ROW_H - 2);
        ctx.fillStyle = "#1d232b"; ctx.font = "12px system-ui, sans-serif"; ctx.textAlign = "right";
        ctx.fillText(tag, GUTTER - 8, y + ROW_H / 2 + 0.5);
        for (let f = f0; f < f1; f++) {
          ctx.fillStyle = colormap(state.frames[f][k]);
          ctx.fillRect(x0 + (f - f0) * PX_PER_FRAME, y, PX_PER_FRAME, ROW_H - 1);
        }
        y += ROW_H;
      }
    });
    ctx.textAlign = "left";
    canvas.dataset.frames = String(f1);
  }
})();
