// The review page: a paged grid of one side's faces (sort, filter, select, exclude, restore) and the target's
// timeline with a frame view where mask polygons are drawn. Plain JavaScript over the server's JSON API.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const state = { page: 0, pages: 1, faces: [], selected: new Set(), anchor: null, view: "faces", request: 0 };
const frame = { info: null, labels: { occluders: [], face: [] }, drawing: [] };

function say(text) { $("message").textContent = text; }

async function api(url, body) {
  const options = body === undefined ? {} :
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(url, options);
  const data = await response.json();
  if (!response.ok) { say(data.error || response.statusText); throw new Error(data.error); }
  return data;
}

// ---- faces -------------------------------------------------------------------------------------------------
function query() {
  const p = new URLSearchParams({ sort: $("sort").value, order: $("order").value, filter: $("filter").value,
    page: state.page, per_page: $("per-page").value });
  return `/api/faces/${$("side").value}?${p}`;
}

async function loadFaces() {
  const asked = ++state.request;
  const data = await api(query());
  if (asked !== state.request) return;  // a later request (another sort, page or filter) is on its way
  state.pages = Math.max(1, Math.ceil(data.total / data.per_page));
  state.faces = data.faces;
  $("page-info").textContent = `page ${data.page + 1} of ${state.pages} (${data.total} faces)`;
  showCounts(data.counts, data.stale);
  drawGrid();
}

function showCounts(counts, stale) {
  $("counts").textContent = Object.entries(counts).filter(([, n]) => n).map(([s, n]) => `${s}: ${n}`).join(" · ");
  const panel = $("stale");
  panel.hidden = !stale.length;
  panel.replaceChildren(`${stale.length} key(s) in the exclusion list match no face (no longer exist): ` +
    stale.join(", ") + " ");
  if (stale.length) {
    const button = document.createElement("button");
    button.id = "drop-stale";
    button.textContent = "Take them off the list";
    button.addEventListener("click", async () => {
      await api(`/api/exclusions/${$("side").value}`, { restore: stale });
      say(`took ${stale.length} key(s) that match no face off the list`);
      await loadFaces();
    });
    panel.append(button);
  }
}

function sortValue(face) {
  const sort = $("sort").value;
  const value = face[sort];
  if (value === null) return "not measured";
  return sort === "time" ? `${value.toFixed(2)} s` : `${sort} ${value}`;
}

function drawGrid() {
  const grid = $("grid");
  grid.replaceChildren();
  state.faces.forEach((face, index) => {
    const card = document.createElement("div");
    card.className = `face ${face.status}`;
    card.dataset.key = face.key;
    card.dataset.index = index;
    card.title = `${face.key}\nstatus ${face.status}\nscore ${face.score} size ${face.size}\n` +
      `identity ${face.identity} sharpness ${face.sharpness} yaw ${face.yaw}\ntime ${face.time} s`;
    const img = document.createElement("img");
    img.src = `/thumb/${$("side").value}/${face.key}.jpg`;
    img.loading = "lazy";
    img.alt = face.key;
    card.append(img, caption("status", face.status), caption("caption", face.key), caption("caption", sortValue(face)));
    card.addEventListener("click", (event) => select(index, event.shiftKey));
    grid.append(card);
  });
  markSelection();
}

function markSelection() {
  for (const card of $("grid").children) card.classList.toggle("selected", state.selected.has(card.dataset.key));
  $("selection-info").textContent = state.selected.size ? `${state.selected.size} selected` : "";
}

function caption(cls, text) {
  const span = document.createElement("div");
  span.className = cls;
  span.textContent = text;
  return span;
}

function select(index, range) {
  if (range && state.anchor !== null) {
    const [from, to] = [Math.min(state.anchor, index), Math.max(state.anchor, index)];
    for (let i = from; i <= to; i++) state.selected.add(state.faces[i].key);
  } else {
    const key = state.faces[index].key;
    state.selected.has(key) ? state.selected.delete(key) : state.selected.add(key);
    state.anchor = index;
  }
  markSelection();
}

function selectPage() {
  state.faces.forEach((face) => state.selected.add(face.key));
  markSelection();
}

async function change(action) {
  const keys = [...state.selected];
  if (!keys.length) { say("select faces first"); return; }
  const result = await api(`/api/exclusions/${$("side").value}`, { [action]: keys });
  say(`${action === "exclude" ? "excluded" : "restored"} ${keys.length}; the list holds ${result.excluded} key(s)`);
  state.selected.clear();
  state.anchor = null;
  await loadFaces();
}

function turnPage(step) {
  const page = Math.min(state.pages - 1, Math.max(0, state.page + step));
  if (page !== state.page) { state.page = page; state.anchor = null; loadFaces(); }
}

// ---- timeline ----------------------------------------------------------------------------------------------
const COLOURS = { d: "#3fa34d", r: "#e0b040", m: "#d04040", x: "#7a4fd0" };
const NAMES = { d: "detected", r: "recovered", m: "missing", x: "excluded" };
const strip = { videos: [], letters: "", cell: 2, perRow: 1 };

async function loadTimeline() {
  const data = await api("/api/timeline");
  strip.videos = data.videos;
  const letters = data.videos.map((v) => v.strip).join("");
  const count = (c) => letters.split(c).length - 1;
  $("timeline-summary").textContent = `${letters.length} frames: ` +
    Object.keys(NAMES).map((c) => `${count(c)} ${NAMES[c]}`).join(", ");
  strip.letters = letters;
  drawStrip();
  const list = $("missing-list");
  list.replaceChildren(caption("", data.missing.length ? "Missing stretches:" : "No missing stretches."));
  for (const gap of data.missing) {
    const button = document.createElement("button");
    button.textContent = `${gap.video} frames ${gap.first}–${gap.last} (${gap.start.toFixed(2)}–${gap.end.toFixed(2)} s)`;
    button.addEventListener("click", () => openFrame(gap.video, gap.first));
    list.append(button);
  }
}

function drawStrip() {
  const letters = strip.letters;
  const canvas = $("strip");
  const room = Math.min(1400, document.body.clientWidth - 40);
  strip.cell = Math.max(1, Math.min(8, Math.floor(room / letters.length)));
  strip.perRow = Math.min(letters.length, Math.floor(room / strip.cell));
  canvas.width = strip.perRow * strip.cell;
  canvas.height = Math.ceil(letters.length / strip.perRow) * 20;
  const context = canvas.getContext("2d");
  for (let i = 0; i < letters.length; i++) {
    context.fillStyle = COLOURS[letters[i]];
    context.fillRect((i % strip.perRow) * strip.cell, Math.floor(i / strip.perRow) * 20, strip.cell, 18);
  }
  const shown = frame.info && positionOf(frame.info.video, frame.info.frame);
  if (shown !== null && shown !== undefined) {  // the frame in the view, as a white mark
    context.fillStyle = "#fff";
    context.fillRect((shown % strip.perRow) * strip.cell, Math.floor(shown / strip.perRow) * 20, Math.max(2, strip.cell), 20);
  }
}

function positionOf(name, index) {
  let position = 0;
  for (const video of strip.videos) {
    if (video.name === name) return position + index;
    position += video.frames;
  }
  return null;
}

function frameAt(position) {
  for (const video of strip.videos) {
    if (position < video.frames) return [video.name, position];
    position -= video.frames;
  }
  return null;
}

function frameKey(video, index) { return `${video}_${String(index).padStart(6, "0")}`; }

async function openFrame(video, index) {
  const data = await api(`/api/frame/${frameKey(video, index)}`);
  frame.info = data;
  frame.labels = data.labels || { occluders: [], face: [] };
  frame.drawing = [];
  $("frame-view").hidden = false;
  $("still").hidden = true;
  drawStrip();
  $("frame-info").textContent = `${data.key} · ${data.time.toFixed(2)} s · ${data.status}` +
    (data.labels ? " · labelled" : "");
  drawFrame();
}

function drawFrame() {
  const info = frame.info;
  const svg = $("frame-svg");
  svg.setAttribute("viewBox", `0 0 ${info.width} ${info.height}`);
  svg.setAttribute("width", info.width * 1.5);
  svg.replaceChildren(shape("image", { href: `/frame/${info.key}.jpg`, width: info.width, height: info.height }));
  if (info.box) {
    const [x, y, w, h] = info.box;
    svg.append(shape("rect", { x, y, width: w, height: h, fill: "none", stroke: "#5ea1ff", "stroke-width": 2 }));
  }
  for (const [x, y] of info.landmarks || []) svg.append(shape("circle", { cx: x, cy: y, r: 1.8, fill: "#5ea1ff" }));
  for (const kind of ["occluders", "face"]) {
    for (const polygon of frame.labels[kind]) svg.append(polygonShape(polygon, kind, true));
  }
  if (frame.drawing.length) svg.append(polygonShape(frame.drawing, $("draw-kind").value, false));
}

function shape(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

function polygonShape(points, kind, closed) {
  const colour = kind === "face" ? "#40d060" : "#ff4040";
  return shape(closed ? "polygon" : "polyline", { points: points.map((p) => p.join(",")).join(" "),
    class: `label ${kind}`, fill: closed ? colour + "55" : "none", stroke: colour, "stroke-width": 2 });
}

function addPoint(event) {
  const svg = $("frame-svg");
  const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(svg.getScreenCTM().inverse());
  frame.drawing.push([Math.round(point.x * 10) / 10, Math.round(point.y * 10) / 10]);
  drawFrame();
}

function closePolygon() {
  if (frame.drawing.length < 3) { say("a polygon needs at least 3 points"); return; }
  frame.labels[$("draw-kind").value].push(frame.drawing);
  frame.drawing = [];
  drawFrame();
}

async function saveLabels(remove) {
  if (!frame.info) return;
  if (frame.drawing.length >= 3) closePolygon();
  const result = await api(`/api/labels/${frame.info.key}`, { label: remove ? null : frame.labels });
  say(`${remove ? "removed the labels of" : "saved labels of"} ${frame.info.key}; ${result.labelled} frame(s) labelled`);
  await openFrame(frame.info.video, frame.info.frame);
}

async function showStill() {
  if (!frame.info) return;
  const url = `/still/${frame.info.key}.jpg`;
  say("swapping the frame with the trained model…");
  const response = await fetch(url);
  if (!response.ok) { say((await response.json()).error); return; }
  const still = $("still");
  still.src = URL.createObjectURL(await response.blob());
  still.hidden = false;
  say(`${frame.info.key}: the target, then the swap`);
}

async function worthLabelling() {
  say("ranking the target's faces by how badly the model reconstructs them…");
  const data = await api("/api/worth-labelling");
  const list = $("worth-list");
  list.replaceChildren();
  for (const face of data.frames) {
    const button = document.createElement("button");
    button.className = "worth";
    button.textContent = `${face.frame} (error ${face.error})`;
    const [video, index] = [face.frame.slice(0, -7), Number(face.frame.slice(-6))];
    button.addEventListener("click", () => openFrame(video, index));
    list.append(button);
  }
  say(`the ${data.frames.length} faces the model reconstructs worst, worst first`);
}

function stepFrame(step) {
  if (!frame.info) return;
  const video = strip.videos.find((v) => v.name === frame.info.video);
  const index = frame.info.frame + step;
  if (index >= 0 && index < video.frames) openFrame(video.name, index);
}

// ---- wiring ------------------------------------------------------------------------------------------------
function showView(view) {
  state.view = view;
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.view === view);
  $("view-faces").hidden = view !== "faces";
  $("view-timeline").hidden = view !== "timeline";
  if (view === "timeline") loadTimeline();
}

function onKey(event) {
  if (event.target.tagName === "SELECT") return;
  const faces = { x: () => change("exclude"), r: () => change("restore"), ArrowLeft: () => turnPage(-1),
    ArrowRight: () => turnPage(1), a: selectPage,
    Escape: () => { state.selected.clear(); markSelection(); } };
  const timeline = { Enter: closePolygon, s: () => saveLabels(false), b: showStill, ArrowLeft: () => stepFrame(-1),
    ArrowRight: () => stepFrame(1), Backspace: () => { frame.drawing.pop(); drawFrame(); } };
  const action = (state.view === "faces" ? faces : timeline)[event.key];
  if (action) { event.preventDefault(); action(); }
}

// the order each sort is most often wanted in: the faces most likely to be bad first
const NATURAL_ORDER = { time: "asc", identity: "desc", sharpness: "asc", score: "asc", size: "asc", yaw: "desc" };

function wire() {
  $("sort").addEventListener("change", () => { $("order").value = NATURAL_ORDER[$("sort").value]; });
  for (const id of ["side", "sort", "order", "filter", "per-page"]) {
    $(id).addEventListener("change", () => { state.page = 0; state.selected.clear(); state.anchor = null; loadFaces(); });
  }
  $("prev").addEventListener("click", () => turnPage(-1));
  $("next").addEventListener("click", () => turnPage(1));
  $("select-page").addEventListener("click", selectPage);
  $("exclude").addEventListener("click", () => change("exclude"));
  $("restore").addEventListener("click", () => change("restore"));
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showView(tab.dataset.view));
  $("strip").addEventListener("click", (event) => {
    const row = Math.floor(event.offsetY / 20);
    const found = frameAt(row * strip.perRow + Math.floor(event.offsetX / strip.cell));
    if (found) openFrame(...found);
  });
  $("frame-svg").addEventListener("click", addPoint);
  $("close-polygon").addEventListener("click", closePolygon);
  $("undo-point").addEventListener("click", () => { frame.drawing.pop(); drawFrame(); });
  $("save-labels").addEventListener("click", () => saveLabels(false));
  $("clear-labels").addEventListener("click", () => saveLabels(true));
  $("show-still").addEventListener("click", showStill);
  $("worth-labelling").addEventListener("click", worthLabelling);
  document.addEventListener("keydown", onKey);
}

wire();
loadFaces();
