// Wires the page together: photo choice, generation with live progress, the viewer, the
// download, the session history and the language switch. Strings come from i18n.js only.

import { LANGUAGES, language, onLanguageChange, setLanguage, t, translate } from "./i18n.js";
import { ApiError, apiKey, fetchBytes, generate, health, setApiKey } from "./api.js";
import { SceneViewer } from "./viewer.js";
import { SessionHistory, thumbnailOf } from "./history.js";
import { sharpCameraFromPly } from "./plyinfo.js";
import { setupBatch, startBatch, wantsBatch } from "./batch.js";
import { initExports } from "./exports.js";
import { initLighterView } from "./lighter.js";

const $ = (id) => document.getElementById(id);
const PHOTO_EXTENSIONS = /\.(jpe?g|png|webp|heic|heif|bmp|tiff?|gif)$/i;
const SCENE_EXTENSIONS = /\.(ply|spz)$/i;

const ui = {
  photo: null, // the chosen File
  photoSize: null, // {width, height} when the browser can decode it
  busy: null, // AbortController of the running generation
  stage: null,
  elapsedBase: 0,
  elapsedAt: 0,
  timer: 0,
  lastResult: null,
  healthInfo: null,
  current: null, // history key of the scene on screen
  sceneLabel: null,
};

const history = new SessionHistory();
const viewer = new SceneViewer($("viewer-canvas"), { onStatus: viewerStatus });
window.__mlsharpViewer = viewer; // for debugging in the console and for tests
const exportsPanel = initExports(viewer, $("result-card")); // static/js/exports.js
const lighter = initLighterView(viewer, $("viewer-help"), { // static/js/lighter.js
  current: () => ui.sceneLabel,
  show: (entry) => showEntry(entry).catch((err) => showError(...errorFor(err))),
});

// ---------------------------------------------------------------------- language

function setupLanguage() {
  const select = $("lang-select");
  for (const { code, label } of LANGUAGES) select.add(new Option(label, code));
  select.value = language();
  select.addEventListener("change", () => setLanguage(select.value));
  onLanguageChange(() => {
    renderStatus();
    renderProgress();
    renderResult();
    renderHistory();
    renderViewerStats();
    renderFlyButton();
    renderFullscreenButton();
    if (ui.errorKey) showError(ui.errorKey, ui.errorVars);
  });
  translate();
}

// ---------------------------------------------------------------------- service status

async function checkHealth() {
  try {
    ui.healthInfo = await health();
  } catch {
    ui.healthInfo = null;
    setTimeout(checkHealth, 10000);
  }
  renderStatus();
}

function renderStatus() {
  const pill = $("service-status");
  const info = ui.healthInfo;
  if (!info) {
    pill.textContent = t("status.offline");
    pill.className = "pill bad";
    return;
  }
  pill.textContent = t("status.ready", { backend: t(`backend.${info.backend}`), device: info.device });
  pill.className = info.preview ? "pill warn" : "pill ok";
  $("preview-banner").hidden = !info.preview;
}

// ---------------------------------------------------------------------- errors

function errorFor(err) {
  if (err instanceof ApiError) {
    const retry = err.retryAfter != null ? t("error.retryIn", { seconds: err.retryAfter }) : "";
    const detail = err.detail;
    if (err.status === 0) return ["error.network", {}];
    if (err.status === 401 || err.status === 403) return ["error.auth", { detail }];
    if (err.status === 413) return ["error.tooLarge", { detail }];
    if (err.status === 429) return ["error.rateLimited", { retry }];
    if (err.status === 503) return ["error.busy", { retry, detail }];
    if (err.status === 504) return ["error.timeout", { detail }];
    if (err.status >= 400 && err.status < 500) return ["error.rejected", { detail }];
    return ["error.failed", { detail }];
  }
  return ["error.viewer", { detail: String(err?.message || err) }];
}

function showError(key, vars = {}) {
  ui.errorKey = key;
  ui.errorVars = vars;
  $("error-text").textContent = t(key, vars);
  $("error-box").hidden = false;
}

function clearError() {
  ui.errorKey = null;
  $("error-box").hidden = true;
}

// ---------------------------------------------------------------------- choosing files

function isScene(file) {
  return SCENE_EXTENSIONS.test(file.name);
}

function isPhoto(file) {
  return (file.type || "").startsWith("image/") || PHOTO_EXTENSIONS.test(file.name);
}

function takeFile(file) {
  if (!file) return;
  clearError();
  if (isScene(file)) {
    openSceneFile(file);
  } else if (isPhoto(file)) {
    choosePhoto(file);
  } else {
    showError("error.notPhoto", { name: file.name });
  }
}

function takeFiles(files) {
  // Several photos, or a zip of them, become a batch (batch.js); one file keeps the single flow.
  if (wantsBatch(files)) {
    clearError();
    startBatch(files);
  } else {
    takeFile(files[0]);
  }
}

function choosePhoto(file) {
  ui.photo = file;
  ui.photoSize = null;
  const img = $("thumb-img");
  if (img.src) URL.revokeObjectURL(img.src);
  $("thumb").hidden = false;
  $("thumb-name").textContent = file.name;
  $("thumb-size").textContent = "";
  img.hidden = false;
  img.onload = () => {
    ui.photoSize = { width: img.naturalWidth, height: img.naturalHeight };
    $("thumb-size").textContent = t("upload.size", ui.photoSize);
  };
  img.onerror = () => {
    img.hidden = true;
    $("thumb-size").textContent = t("upload.noPreview");
  };
  img.src = URL.createObjectURL(file);
  img.alt = file.name;
  $("generate-button").disabled = Boolean(ui.busy);
}

function setupPicking() {
  const input = $("photo-input");
  const zone = $("photo-drop");
  zone.addEventListener("click", () => input.click());
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      input.click();
    }
  });
  input.addEventListener("change", () => {
    takeFiles(Array.from(input.files));
    input.value = "";
  });
  const sceneInput = $("scene-input");
  $("open-button").addEventListener("click", () => sceneInput.click());
  sceneInput.addEventListener("change", () => {
    const file = sceneInput.files[0];
    sceneInput.value = "";
    if (!file) return;
    clearError();
    if (isScene(file)) openSceneFile(file);
    else showError("error.notScene", { name: file.name });
  });

  // The whole window accepts drops: a photo to convert, or a .ply/.spz to view.
  const overlay = $("drop-overlay");
  let depth = 0;
  const hasFiles = (e) => Array.from(e.dataTransfer?.types || []).includes("Files");
  window.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    depth++;
    overlay.hidden = false;
  });
  window.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) overlay.hidden = true;
  });
  window.addEventListener("dragover", (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  window.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    takeFiles(Array.from(e.dataTransfer.files));
  });
}

// ---------------------------------------------------------------------- generating

function readSettings() {
  const focalText = $("focal-input").value.trim();
  const fovText = $("fov-input").value.trim();
  const settings = {};
  if (focalText) {
    const value = Number(focalText);
    if (!(value > 0)) throw ["error.badNumber", { value: focalText, field: t("settings.focal") }];
    settings.fPx = value;
  } else if (fovText) {
    const degrees = Number(fovText);
    if (!(degrees > 0 && degrees < 180)) throw ["error.badNumber", { value: fovText, field: t("settings.fov") }];
    if (!ui.photoSize) throw ["error.fovNeedsImage", {}];
    settings.fPx = ui.photoSize.width / 2 / Math.tan((degrees * Math.PI) / 360);
  }
  const size = $("size-select").value;
  if (size) settings.inputSize = Number(size);
  return settings;
}

function setBusy(controller) {
  ui.busy = controller;
  $("generate-button").disabled = Boolean(controller) || !ui.photo;
  $("generate-button").textContent = t(controller ? "generate.busy" : "generate");
  $("generate-button").dataset.i18n = controller ? "generate.busy" : "generate";
  $("cancel-button").hidden = !controller;
  $("progress").hidden = !controller;
  clearInterval(ui.timer);
  if (controller) ui.timer = setInterval(renderProgress, 100);
}

function onStage({ stage, elapsed }) {
  ui.stage = stage;
  ui.elapsedBase = elapsed;
  ui.elapsedAt = performance.now();
  renderProgress();
}

function renderProgress() {
  if (!ui.busy || !ui.stage) return;
  const elapsed = ui.elapsedBase + (performance.now() - ui.elapsedAt) / 1000;
  $("progress-stage").textContent = t(`stage.${ui.stage}`);
  $("progress-elapsed").textContent = t("progress.elapsed", { seconds: elapsed.toFixed(1) });
  $("progress").dataset.stage = ui.stage;
}

async function runGeneration() {
  if (!ui.photo || ui.busy) return;
  clearError();
  let settings;
  try {
    settings = readSettings();
  } catch (problem) {
    if (Array.isArray(problem)) showError(...problem);
    else showError("error.failed", { detail: String(problem) });
    return;
  }
  const controller = new AbortController();
  setBusy(controller);
  const photo = ui.photo;
  try {
    const result = await generate(photo, settings, onStage, controller.signal);
    const thumb = await thumbnailOf(photo);
    onStage({ stage: "downloading", elapsed: ui.elapsedBase });
    await showResult(result, photo.name, thumb, controller.signal);
  } catch (err) {
    if (err?.name !== "AbortError") showError(...errorFor(err));
  } finally {
    setBusy(null);
  }
}

// ---------------------------------------------------------------------- results and viewer

/** A finished scene into the history and the viewer (a single generation, or a batch's View). */
async function showResult(result, name, thumb, signal) {
  ui.lastResult = { ...result, name };
  renderResult();
  const entry = {
    key: result.id,
    kind: "result",
    name,
    thumb,
    camera: { fPx: result.f_px, width: result.image_width, height: result.image_height },
    url: result.url,
    viewerUrl: result.viewer_url,
    numGaussians: result.num_gaussians,
    backend: result.backend,
    result,
  };
  history.add(entry);
  renderHistory();
  await showEntry(entry, signal);
}

function renderResult() {
  const result = ui.lastResult;
  $("result-card").hidden = !result;
  exportsPanel.show(result);
  if (!result) return;
  $("res-count").textContent = result.num_gaussians.toLocaleString(language() === "zh" ? "zh-CN" : "en");
  $("res-backend").textContent = t(`backend.${result.backend}`);
  $("res-focal").textContent = `${Math.round(result.f_px)} px (${t("result.focalSource", { source: result.focal_source })})`;
  $("res-time").textContent = `${result.processing_time.toFixed(2)} s${result.cache_hit ? " " + t("result.cached") : ""}`;
  $("res-preview-note").hidden = !result.preview;
  const link = $("download-link");
  link.href = result.url;
  link.download = `${result.name.replace(/\.[^.]+$/, "") || "scene"}.ply`;
}

async function downloadWithKey(e) {
  // A plain link cannot send the X-API-Key header; with a key, fetch the file and save the blob.
  if (!apiKey() || !ui.lastResult) return;
  e.preventDefault();
  try {
    const bytes = await fetchBytes(ui.lastResult.url);
    const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
    const a = Object.assign(document.createElement("a"), { href: url, download: $("download-link").download });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    showError(...errorFor(err));
  }
}

async function showEntry(entry, signal) {
  let bytes;
  let fileName;
  if (entry.kind === "result") {
    try {
      bytes = await fetchBytes(lighter.urlFor(entry), signal); // the viewer's copy, maybe reduced
      fileName = "scene.spz";
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        history.remove(entry.key);
        renderHistory();
        showError("history.gone");
        return;
      }
      if (!(err instanceof ApiError) || err.status < 500) throw err;
      bytes = await fetchBytes(entry.url, signal); // no .spz converter: the viewer reads .ply too
      fileName = "scene.ply";
    }
  } else {
    bytes = history.bytesFor(entry.key);
    fileName = entry.name;
    if (!bytes) return;
  }
  ui.current = entry.key;
  ui.sceneLabel = entry;
  if (entry.kind === "result") {
    ui.lastResult = { ...entry.result, name: entry.name };
    renderResult();
  }
  renderHistory();
  if (window.matchMedia("(max-width: 860px)").matches) $("viewer").scrollIntoView({ block: "start" });
  await viewer.load({ bytes, fileName, camera: entry.camera, source: entry.kind });
}

async function openSceneFile(file) {
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const camera = /\.ply$/i.test(file.name) ? sharpCameraFromPly(bytes) : null;
    const entry = { key: `file:${file.name}:${file.size}:${file.lastModified}`, kind: "file", name: file.name, camera };
    history.add(entry, bytes);
    renderHistory();
    await showEntry(entry);
  } catch (err) {
    showError(...errorFor(err));
  }
}

function viewerStatus(state, info) {
  $("viewer-loading").hidden = state !== "loading";
  $("viewer-empty").hidden = true;
  const ready = state === "ready";
  for (const id of ["reset-button", "fit-button", "fly-button", "free-orbit-button", "scale-input"]) $(id).disabled = !ready;
  if (ready) ui.viewerInfo = info;
  renderViewerStats();
  lighter.render();
}

function renderViewerStats() {
  const info = ui.viewerInfo;
  const entry = ui.sceneLabel;
  if (!info || !entry) return;
  const source = entry.kind === "result" ? t("source.photo", { name: entry.name }) : t("source.file", { name: entry.name });
  $("viewer-stats").textContent = t("viewer.stats", {
    count: info.numSplats.toLocaleString(language() === "zh" ? "zh-CN" : "en"),
    source,
  });
}

// ---------------------------------------------------------------------- history

function renderHistory() {
  const list = $("history-list");
  list.replaceChildren();
  $("history-empty").hidden = history.entries.length > 0;
  for (const entry of history.entries) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "history-item";
    if (entry.key === ui.current) button.setAttribute("aria-current", "true");
    button.setAttribute("aria-label", t("history.open", { name: entry.name }));
    if (entry.thumb) {
      const img = document.createElement("img");
      img.src = entry.thumb;
      img.alt = "";
      button.append(img);
    } else {
      const icon = document.createElement("span");
      icon.className = "history-icon";
      icon.textContent = entry.kind === "file" ? "PLY" : "3D";
      button.append(icon);
    }
    const text = document.createElement("span");
    text.className = "history-text";
    const name = document.createElement("span");
    name.textContent = entry.name;
    const meta = document.createElement("small");
    meta.className = "muted";
    meta.textContent = entry.kind === "result"
      ? `${t(`backend.${entry.backend}`)} · ${entry.numGaussians.toLocaleString()}`
      : t("source.file", { name: "" }).trim();
    text.append(name, meta);
    button.append(text);
    button.addEventListener("click", () => {
      clearError();
      showEntry(entry).catch((err) => showError(...errorFor(err)));
    });
    item.append(button);
    list.append(item);
  }
}

// ---------------------------------------------------------------------- viewer controls

function renderFlyButton() {
  const button = $("fly-button");
  button.setAttribute("aria-pressed", String(viewer.flying));
  button.firstElementChild.dataset.i18n = viewer.flying ? "viewer.orbitMode" : "viewer.fly";
  button.firstElementChild.textContent = t(button.firstElementChild.dataset.i18n);
  $("viewer-help").dataset.i18n = viewer.flying ? "viewer.helpFly" : "viewer.helpOrbit";
  $("viewer-help").textContent = t($("viewer-help").dataset.i18n);
}

function renderFullscreenButton() {
  const label = $("fullscreen-button").firstElementChild;
  label.dataset.i18n = document.fullscreenElement ? "viewer.exitFullscreen" : "viewer.fullscreen";
  label.textContent = t(label.dataset.i18n);
}

function toggleFly() {
  if (!viewer.mesh) return;
  viewer.setFlying(!viewer.flying);
  renderFlyButton();
  $("viewer-canvas").focus({ preventScroll: true });
}

function setupViewerControls() {
  $("reset-button").addEventListener("click", () => viewer.resetView());
  $("fit-button").addEventListener("click", () => viewer.fitScene());
  $("fly-button").addEventListener("click", toggleFly);
  $("free-orbit-button").addEventListener("click", () => {
    viewer.setFreeOrbit(!viewer.freeOrbit); // kept for the next scenes too
    $("free-orbit-button").setAttribute("aria-pressed", String(viewer.freeOrbit));
  });
  const scale = $("scale-input");
  scale.addEventListener("input", () => {
    const value = Number(scale.value);
    $("scale-output").textContent = `${value.toFixed(2)}×`;
    viewer.setSplatScale(value);
  });
  const stage = $("viewer");
  $("fullscreen-button").addEventListener("click", () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else stage.requestFullscreen?.().catch(() => {});
  });
  document.addEventListener("fullscreenchange", () => {
    renderFullscreenButton();
    viewer.resize();
  });
  $("viewer-canvas").addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || !viewer.mesh) return;
    const key = e.key.toLowerCase();
    if (key === "v") toggleFly();
    else if (viewer.flying) return; // WASD, Q/E and arrows belong to fly mode
    else if (key === "r") viewer.resetView();
    else if (key === "f") viewer.fitScene();
    else if (key === "+" || key === "=") viewer.zoom(0.85);
    else if (key === "-" || key === "_") viewer.zoom(1 / 0.85);
    else return;
    e.preventDefault();
  });
}

// ---------------------------------------------------------------------- start

function start() {
  setupLanguage();
  setupPicking();
  setupViewerControls();
  $("generate-button").addEventListener("click", runGeneration);
  $("cancel-button").addEventListener("click", () => ui.busy?.abort());
  $("error-dismiss").addEventListener("click", clearError);
  $("download-link").addEventListener("click", downloadWithKey);
  const keyInput = $("key-input");
  keyInput.value = apiKey();
  keyInput.addEventListener("change", () => setApiKey(keyInput.value.trim()));
  renderHistory();
  setupBatch({
    settings: readSettings,
    view: (result, name, thumb) => showResult(result, name, thumb),
    error: (problem) => (Array.isArray(problem) ? showError(...problem) : showError(...errorFor(problem))),
  });
  checkHealth();
}

start();
