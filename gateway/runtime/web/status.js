// edgegw status page: /api/status once, then /api/stream (Server-Sent Events).
// Plain DOM, no framework, no build step; text goes in with textContent only.
"use strict";

const FEED_MAX = 100;
const HOUR_S = 3600;
const byId = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
};

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function duration(s) {
  if (s === null || s === undefined) return "–";
  s = Math.round(s);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

function clock(ts) {
  if (!ts) return "–";
  return new Date(ts * 1000).toLocaleTimeString([], { hour12: false });
}

function num(v, digits = 2) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  return Number.isInteger(v) ? String(v) : String(parseFloat(v.toFixed(digits)));
}

function setText(id, text) {
  const node = byId(id);
  if (node.textContent !== text) node.textContent = text;
}

// ---- header, broker, cloud, savings ------------------------------------------------

function renderGateway(gw) {
  setText("gw-name", `edgegw · ${gw.name}`);
  document.title = `edgegw · ${gw.name}`;
  const health = byId("health");
  health.textContent = gw.healthy ? "healthy" : `unhealthy: ${gw.problems.join("; ")}`;
  health.className = `badge ${gw.healthy ? "ok" : "bad"}`;
  setText("uptime", duration(gw.uptime_s));
  setText("started", clock(gw.started));
}

function renderBroker(b) {
  const state = byId("broker-state");
  state.textContent = b.connected ? "connected" : "disconnected";
  state.className = b.connected ? "state-ok" : "state-bad";
  setText("broker-address", b.address);
  setText("broker-messages", `${num(b.messages_in)} / ${num(b.messages_out)}`);
  setText("broker-queue", num(b.queue_depth));
  setText("broker-reconnects", num(b.reconnects));
}

function renderCloud(c) {
  const state = byId("cloud-state");
  if (!c.enabled) {
    state.textContent = "off (cloud.enabled: false)";
    state.className = "";
    for (const id of ["cloud-delivered", "outbox-depth", "outbox-oldest", "outbox-dropped"]) {
      setText(id, "–");
    }
    return;
  }
  const circuits = Object.entries(c.circuit || {}).map(([k, v]) => `${k} ${v}`).join(", ");
  const open = Object.values(c.circuit || {}).includes("open");
  state.textContent = `events ${c.events_to} · ${c.model}${circuits ? ` · circuit ${circuits}` : ""}`;
  state.className = open ? "state-bad" : "state-ok";
  setText("cloud-delivered", `${num(c.delivered)} / ${num(c.failures)}`);
  setText("outbox-depth", `${num(c.outbox.depth)} items, ${bytes(c.outbox.bytes)}`);
  setText("outbox-oldest", c.outbox.depth ? duration(c.outbox.oldest_s) : "empty");
  setText("outbox-dropped", `${num(c.outbox.evicted)} / ${num(c.outbox.expired)}`);
}

function renderSavings(s) {
  setText("bytes-in", `${bytes(s.bytes_in)} (sensors ${bytes(s.sensor_bytes_in)}, cameras ${bytes(s.camera_bytes_in)})`);
  setText("bytes-up", bytes(s.bytes_up));
  setText("bytes-all-cloud", bytes(s.all_cloud_bytes));
  setText("up-ratio", s.up_ratio === null ? "–" : `${(s.up_ratio * 100).toFixed(3)}%`);
}

// ---- cameras -----------------------------------------------------------------------

const cameraCards = new Map();

function cameraCard(id) {
  let card = cameraCards.get(id);
  if (card) return card;
  const root = el("div", "card camera");
  root.dataset.camera = id;
  root.append(el("h2", null, id));
  const picture = el("div", "nosnap", "no snapshot yet");
  root.append(picture);
  const dl = el("dl");
  const fields = {};
  for (const [key, label] of [["detect", "detection"], ["fps", "fps in"],
    ["detections", "detections"], ["last", "last detection"], ["active", "active tracks"]]) {
    dl.append(el("dt", null, label));
    fields[key] = el("dd", `cam-${key}`, "–");
    dl.append(fields[key]);
  }
  root.append(dl);
  const tracks = el("ul", "tracks");
  root.append(tracks);
  card = { root, picture, fields, tracks, version: null };
  cameraCards.set(id, card);
  return card;
}

function showSnapshot(card, id, version) {
  if (version === null || version === undefined || version === card.version) return;
  card.version = version;
  const img = el("img", "snap");
  img.alt = `latest annotated snapshot of ${id}`;
  img.src = `/api/cameras/${encodeURIComponent(id)}/snapshot.jpg?v=${version}`;
  card.picture.replaceWith(img);
  card.picture = img;
}

function renderCameras(cameras) {
  const box = byId("cameras");
  const seen = new Set();
  for (const cam of cameras) {
    seen.add(cam.id);
    const card = cameraCard(cam.id);
    if (!card.root.isConnected) box.append(card.root);
    card.fields.detect.textContent = cam.detect === "OFF" ? "off" : "on";
    card.fields.detect.classList.toggle("state-bad", cam.detect === "OFF");
    card.fields.detect.classList.toggle("state-ok", cam.detect !== "OFF");
    card.fields.fps.textContent = num(cam.fps, 1);
    card.fields.detections.textContent = num(cam.detections);
    card.fields.last.textContent = clock(cam.last_detection);
    card.fields.active.textContent = num(cam.tracks.length);
    card.tracks.replaceChildren(...cam.tracks.map((t) =>
      el("li", null, `#${t.track_id} ${t.label} ${num(t.score)}${t.zones && t.zones.length ? ` in ${t.zones.join(", ")}` : ""}`)));
    showSnapshot(card, cam.id, cam.snapshot_version);
  }
  for (const [id, card] of cameraCards) {
    if (!seen.has(id)) { card.root.remove(); cameraCards.delete(id); }
  }
  const empty = box.querySelector(".empty");
  if (empty) empty.hidden = cameras.length > 0;
}

// ---- sensors -----------------------------------------------------------------------

const sensorCards = new Map();

function drawChart(canvas, history, now) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 280, h = canvas.clientHeight || 48;
  canvas.width = w * ratio; canvas.height = h * ratio;
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, w, h);
  ctx.strokeStyle = "#e3e6eb";
  ctx.beginPath(); ctx.moveTo(0, h - 0.5); ctx.lineTo(w, h - 0.5); ctx.stroke();
  if (!history.length) return;
  const values = history.map((p) => p[1]);
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  // The last hour at most; a shorter history fills the width (at least a minute).
  const span = Math.min(HOUR_S, Math.max(60, now - history[0][0]));
  const x = (ts) => w - ((now - ts) / span) * w;
  const y = (v) => h - 4 - ((v - lo) / (hi - lo)) * (h - 8);
  ctx.strokeStyle = "#0b6bcb"; ctx.lineWidth = 1.5;
  ctx.beginPath();
  history.forEach(([ts, v], i) => (i ? ctx.lineTo(x(ts), y(v)) : ctx.moveTo(x(ts), y(v))));
  ctx.stroke();
  const [lastTs, lastV] = history[history.length - 1];
  ctx.fillStyle = "#0b6bcb";
  ctx.beginPath(); ctx.arc(x(lastTs), y(lastV), 2.5, 0, 2 * Math.PI); ctx.fill();
}

function renderSensors(sensors, now) {
  const box = byId("sensors");
  const seen = new Set();
  for (const s of sensors) {
    seen.add(s.id);
    let card = sensorCards.get(s.id);
    if (!card) {
      const root = el("div", "card sensor");
      root.dataset.sensor = s.id;
      root.append(el("h2", null, s.name));
      const metrics = el("div", "metrics");
      const rules = el("div", "rules");
      root.append(metrics, rules);
      card = { root, metrics, rules, rows: new Map() };
      sensorCards.set(s.id, card);
      box.append(root);
    }
    for (const [name, m] of Object.entries(s.metrics)) {
      let row = card.rows.get(name);
      if (!row) {
        const root = el("div", "metric");
        root.dataset.metric = name;
        const label = el("span", "name", name);
        const value = el("span", "value", "–");
        const canvas = el("canvas");
        canvas.title = `${name}: the last hour`;
        root.append(label, value, canvas);
        card.metrics.append(root);
        row = { value, canvas };
        card.rows.set(name, row);
      }
      row.value.textContent = `${num(m.value)}${m.unit ? ` ${m.unit}` : ""}`;
      drawChart(row.canvas, m.history, now);
    }
    card.rules.replaceChildren(...Object.entries(s.rules).map(([rule, state]) =>
      el("span", `rule ${state === "alert" ? "alert" : ""}`, `${rule}: ${state}`)));
  }
  for (const [id, card] of sensorCards) {
    if (!seen.has(id)) { card.root.remove(); sensorCards.delete(id); }
  }
  const empty = box.querySelector(".empty");
  if (empty) empty.hidden = sensors.length > 0;
}

// ---- feed --------------------------------------------------------------------------

const feedIds = new Set();

function describe(ev) {
  const d = ev.data || {};
  switch (ev.kind) {
    case "sensor.alert":
      return `${d.sensor} · ${d.rule}: ${d.reason} (${num(d.value)}${d.unit ? ` ${d.unit}` : ""})`;
    case "sensor.clear":
      return `${d.sensor} · ${d.rule} back to ok${d.reason ? `: ${d.reason}` : ""}`;
    case "sensor.summary":
      return `${d.sensor}: ` + Object.entries(d.metrics || {})
        .map(([k, m]) => `${k} ${num(m.value)}${m.unit ? ` ${m.unit}` : ""}`).join(", ");
    case "vision.detection":
      return `${d.camera} #${d.track_id} ${d.label} ${d.phase} (best ${num(d.best_score)})`;
    case "vision.hard_case":
      return `${d.camera || ev.source}: hard case ${d.label || ""} ${num(d.score)}`;
    case "device.offline":
      return `${d.device} silent for ${duration(d.silent_s)}`;
    case "device.online":
      return `${d.device} back after ${duration(d.offline_s)}`;
    default:
      return JSON.stringify(d).slice(0, 200);
  }
}

function addEvent(ev, fresh) {
  if (feedIds.has(ev.id)) return;
  feedIds.add(ev.id);
  const li = el("li", `k-${ev.kind.replace(/\./g, "-")}${fresh ? " fresh" : ""}`);
  li.dataset.id = ev.id;
  li.dataset.kind = ev.kind;
  li.dataset.ts = String(ev.ts);
  li.dataset.shown = String(Date.now());
  li.append(el("span", "time", clock(ev.ts)), el("span", "kind", ev.kind),
    el("span", "source", ev.source), el("span", "text", describe(ev)));
  const feed = byId("feed");
  feed.prepend(li);
  while (feed.children.length > FEED_MAX) {
    feedIds.delete(feed.lastElementChild.dataset.id);
    feed.lastElementChild.remove();
  }
}

// ---- wiring ------------------------------------------------------------------------

let lastStatus = null;

function render(status) {
  lastStatus = status;
  renderGateway(status.gateway);
  renderBroker(status.broker);
  renderCloud(status.cloud);
  renderSavings(status.savings);
  renderCameras(status.cameras);
  renderSensors(status.sensors, status.gateway.now);
  for (const ev of status.feed) addEvent(ev, false);
  document.body.dataset.updated = String(Date.now());
}

function connect() {
  const live = byId("live");
  const stream = new EventSource("/api/stream");
  stream.addEventListener("open", () => { live.textContent = "live"; live.className = "badge ok"; });
  stream.addEventListener("error", () => { live.textContent = "reconnecting"; live.className = "badge bad"; });
  stream.addEventListener("status", (e) => render(JSON.parse(e.data)));
  stream.addEventListener("event", (e) => addEvent(JSON.parse(e.data), true));
  stream.addEventListener("snapshot", (e) => {
    const d = JSON.parse(e.data);
    const card = cameraCards.get(d.camera);
    if (card) showSnapshot(card, d.camera, d.version);
  });
}

fetch("/api/status", { credentials: "same-origin" })
  .then((r) => r.json())
  .then(render)
  .catch(() => {})
  .finally(connect);
