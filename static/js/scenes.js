// What the viewer shows and the words around it: a service result or a local .ply/.spz goes
// into the session history and onto the screen, and the stats line under the viewer names it.

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

const PHONE_LAYOUT = "(max-width: 860px)";
// The slow-rendering notice and its "Lighter view" (lighter.js): every service scene is
// fetched through its urlFor(), and turning it on reloads the scene on screen.
const lighter = initLighterView(viewer, $("viewer-help"), {
  current: () => state.scene,
  show: (entry) => showEntry(entry).catch(showProblem),
});

/** A finished scene into the history and the viewer (a single generation, or a batch's View). */
export async function showResult(result, name, thumb, signal) {
  state.result = { ...result, name };
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
  state.history.add(entry);
  renderHistory();
  await showEntry(entry, signal);
}

/** The bytes and file name of an entry's scene; null when the server no longer has it. */
async function sceneBytes(entry, signal) {
  if (entry.kind !== "result") {
    const bytes = state.history.bytesFor(entry.key);
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

export async function showEntry(entry, signal) {
  const scene = await sceneBytes(entry, signal);
  if (!scene) return;
  state.scene = entry;
  if (entry.kind === "result") {
    state.result = { ...entry.result, name: entry.name };
    renderResult();
  }
  renderHistory();
  if (window.matchMedia(PHONE_LAYOUT).matches) $("viewer").scrollIntoView({ block: "start" });
  await viewer.load({ ...scene, camera: entry.camera, source: entry.kind });
}

export async function openSceneFile(file) {
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const camera = /\.ply$/i.test(file.name) ? sharpCameraFromPly(bytes) : null;
    const entry = { key: `file:${file.name}:${file.size}:${file.lastModified}`, kind: "file", name: file.name, camera };
    state.history.add(entry, bytes);
    renderHistory();
    await showEntry(entry);
  } catch (err) {
    showProblem(err);
  }
}

function renderViewerStats() {
  const info = state.viewerInfo;
  const entry = state.scene;
  if (!info || !entry) return;
  const source = entry.kind === "result" ? t("source.photo", { name: entry.name }) : t("source.file", { name: entry.name });
  $("viewer-stats").textContent = t("viewer.stats", { count: formatNumber(info.numSplats), source });
}

function viewerStatus(status, info) {
  $("viewer-loading").hidden = status !== "loading";
  $("viewer-empty").hidden = true;
  if (status === "ready") state.viewerInfo = info;
  renderViewerStats();
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
  });
}
