// What the viewer shows and the words around it: a service result (or a progressive job's
// draft of one) or a local .ply/.spz goes onto the screen, and only once it is drawn do the
// session history, the Result card and the stats line under the viewer change to describe it.
// A scene that cannot be shown changes none of them: the viewer keeps the previous one (a local
// file is added to the history only once it is drawn), or, with none, everything is cleared.

import { ApiError, fetchBytes } from "./api.js";
import { formatNumber, onLanguageChange, t } from "./i18n.js";
import { sharpCameraFromPly } from "./plyinfo.js";
import { state } from "./state.js";
import { $ } from "./dom.js";
import { clearError, showError, showProblem } from "./errors.js";
import { renderHistory, setupHistoryList } from "./history_list.js";
import { initLighterView } from "./lighter.js";
import { onViewerStatus, viewer } from "./page_viewer.js";
import { renderResult } from "./result.js";

// The slow-rendering notice and its "Lighter view" (lighter.js): every service scene is
// fetched through its urlFor(), and turning it on reloads the scene on screen.
const lighter = initLighterView(viewer, $("viewer-help"), {
  current: () => state.scene,
  show: (entry) => showEntry(entry).catch(showProblem),
});

/** Scroll the viewer into view unless its toolbar (with Download) is already wholly on screen. */
function bringViewerIntoView() {
  const bar = document.querySelector("#viewer .toolbar").getBoundingClientRect();
  const stage = $("viewer-stage").getBoundingClientRect();
  if (stage.top >= 0 && bar.bottom <= window.innerHeight && bar.right <= window.innerWidth) return;
  $("viewer").scrollIntoView({ block: "start", behavior: "instant" });
}

/** A history entry for a service result (draft: a progressive job's draft of it). */
function resultEntry(result, name, thumb = null) {
  return {
    key: result.id,
    kind: "result",
    draft: Boolean(result.draft),
    name,
    thumb,
    camera: { fPx: result.f_px, width: result.image_width, height: result.image_height },
    url: result.url,
    viewerUrl: result.viewer_url,
    numGaussians: result.num_gaussians,
    backend: result.backend,
    result,
  };
}

/**
 * A finished scene into the history and the viewer (a single generation, or a batch's View).
 * keepView: it replaces its own draft, so the camera stays where the user left it.
 */
export async function showResult(result, name, thumb, signal, { keepView = false } = {}) {
  const entry = resultEntry(result, name, thumb);
  state.history.add(entry);
  renderHistory();
  await showEntry(entry, signal, { keepView });
}

/** A progressive job's draft on screen until its final scene comes; true once it is drawn. */
export async function showDraft(draft, name, signal) {
  try {
    return await showEntry(resultEntry(draft, name), signal);
  } catch (err) {
    if (err?.name !== "AbortError") console.warn("draft not shown:", err); // the final scene follows anyway
    return false;
  }
}

/** The bytes and file name of an entry's scene; null when the server no longer has it. */
async function sceneBytes(entry, signal) {
  if (entry.kind !== "result") {
    const bytes = entry.bytes ?? state.history.bytesFor(entry.key);
    return bytes ? { bytes, fileName: entry.name } : null;
  }
  try {
    return { bytes: await fetchBytes(lighter.urlFor(entry), signal), fileName: "scene.spz" }; // maybe reduced
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      state.history.remove(entry.key);
      renderHistory();
      showError("history.gone");
      return null;
    }
    if (!(err instanceof ApiError) || err.status < 500) throw err;
    // no .spz converter on the service: the viewer reads .ply too
    return { bytes: await fetchBytes(entry.url, signal), fileName: "scene.ply" };
  }
}

/** What the Result card says about entry's scene, drawn with the viewer's numbers `shown`. */
function describe(entry, scene, shown) {
  if (entry.kind === "result") return { ...entry.result, name: entry.name, kind: "result" };
  return { kind: "file", name: entry.name, bytes: scene.bytes, num_gaussians: shown.numSplats, camera: entry.camera };
}

/**
 * Put entry's scene on screen; true once drawn, false when it was not (gone, or replaced by a
 * newer load). Throws when the viewer cannot read it; then the previous scene, if any, stays.
 */
export async function showEntry(entry, signal, { keepView = false } = {}) {
  const scene = await sceneBytes(entry, signal);
  if (!scene) return false;
  bringViewerIntoView(); // the loading spinner is seen where the scene will be
  state.loading = entry;
  let shown;
  try {
    shown = await viewer.load({ ...scene, camera: entry.camera, source: entry.kind, keepView });
  } catch (err) {
    if (state.loading === entry && !viewer.mesh) showNothing(); // nothing was on screen to keep
    throw err;
  } finally {
    if (state.loading === entry) state.loading = null;
  }
  if (!shown) return false; // a newer load took the screen meanwhile
  state.scene = entry;
  state.viewerInfo = shown;
  state.result = describe(entry, scene, shown);
  renderScene();
  bringViewerIntoView(); // the Result card above it (phones) may have pushed it down
  return true;
}

function showNothing() {
  state.scene = null;
  state.viewerInfo = null;
  state.result = null;
  renderScene();
  $("viewer-empty").hidden = false;
}

/** Everything that describes the scene on screen: stats line, draft label, Result card, history. */
function renderScene() {
  renderViewerStats();
  $("viewer-draft").hidden = !state.scene?.draft;
  renderResult();
  renderHistory();
  lighter.render();
}

/** A .ply/.spz from this computer: into the history once the viewer has drawn it. */
export async function openSceneFile(file) {
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const camera = /\.ply$/i.test(file.name) ? sharpCameraFromPly(bytes) : null;
    const key = `file:${file.name}:${file.size}:${file.lastModified}`;
    const entry = { key, kind: "file", name: file.name, camera };
    if (await showEntry({ ...entry, bytes })) {
      state.history.add(entry, bytes);
      renderHistory();
    }
  } catch (err) {
    showProblem(err);
  }
}

function renderViewerStats() {
  const info = state.viewerInfo;
  const entry = state.scene;
  if (!info || !entry) {
    $("viewer-stats").textContent = "";
    return;
  }
  const source = entry.kind === "result" ? t("source.photo", { name: entry.name }) : t("source.file", { name: entry.name });
  $("viewer-stats").textContent = t("viewer.stats", { count: formatNumber(info.numSplats), source });
}

function viewerStatus(status, info) {
  $("viewer-loading").hidden = status !== "loading";
  $("viewer-empty").hidden = true;
  // A reload scenes.js did not start (the Export panel's density): same scene, new numbers.
  if (status === "ready" && !state.loading && state.scene) {
    state.viewerInfo = info;
    renderViewerStats();
  }
  lighter.render();
}

export function setupScenes() {
  onViewerStatus(viewerStatus);
  onLanguageChange(renderViewerStats);
  setupHistoryList({
    open: (entry) => {
      clearError();
      showEntry(entry).catch(showProblem);
    },
    remove: (entry) => {
      state.history.remove(entry.key); // a scene on screen stays there; only the list forgets it
      renderHistory();
    },
  });
}
