// The Result card (Gaussians, backend, focal length, time) and its Download link, plus the
// Export panel below it (exports.js). They describe state.result, the scene on screen: a
// service result, or a file opened from this computer (then Download saves that file, and the
// Export panel, which works from the service's copy, is hidden).

import { apiKey, fetchBytes } from "./api.js";
import { formatNumber, onLanguageChange, t } from "./i18n.js";
import { initExports } from "./exports.js";
import { state } from "./state.js";
import { $, saveBlob } from "./dom.js";
import { showProblem } from "./errors.js";
import { viewer } from "./page_viewer.js";

const exportsPanel = initExports(viewer, $("result-card"));

const NONE = "—";

/** Where the service took the focal length from, in words (an unknown source as the service named it). */
function focalSource(source) {
  const key = `focal.${source}`;
  const words = t(key);
  return words === key ? source : words;
}

function renderFileResult(result) {
  $("res-backend").textContent = t("result.localFile");
  $("res-focal").textContent = result.camera ? `${Math.round(result.camera.fPx)} px` : NONE;
  $("res-time").textContent = NONE;
  $("res-preview-note").hidden = true;
  $("res-draft-note").hidden = true;
  const link = $("download-link");
  link.href = "#"; // saved from the bytes in memory on click (downloadResult)
  link.download = result.name;
  link.textContent = t("result.download", { format: result.name.match(/\.[^.]+$/)?.[0] || "" });
}

export function renderResult() {
  const result = state.result;
  $("result-card").hidden = !result;
  $("download-link").hidden = !result;
  // A draft's exports are not worth offering; a local file has no copy on the service.
  exportsPanel.show(result?.kind === "result" && !result.draft ? result : null);
  if (!result) return;
  $("res-count").textContent = formatNumber(result.num_gaussians);
  if (result.kind === "file") {
    renderFileResult(result);
    return;
  }
  $("res-backend").textContent = t(`backend.${result.backend}`);
  $("res-focal").textContent = `${Math.round(result.f_px)} px (${focalSource(result.focal_source)})`;
  $("res-time").textContent = `${result.processing_time.toFixed(2)} s${result.cache_hit ? " " + t("result.cached") : ""}`;
  $("res-preview-note").hidden = !result.preview;
  $("res-draft-note").hidden = !result.draft;
  const link = $("download-link");
  link.href = result.url;
  link.download = `${result.name.replace(/\.[^.]+$/, "") || "scene"}${result.draft ? "-draft" : ""}.ply`;
  link.textContent = t("result.download", { format: ".ply" });
}

async function downloadResult(e) {
  const result = state.result;
  if (result?.kind === "file") {
    e.preventDefault();
    saveBlob(new Blob([result.bytes], { type: "application/octet-stream" }), result.name);
    return;
  }
  // A plain link cannot send the X-API-Key header; with a key, fetch the file and save the blob.
  if (!apiKey() || !result) return;
  e.preventDefault();
  try {
    const bytes = await fetchBytes(state.result.url);
    saveBlob(new Blob([bytes], { type: "application/octet-stream" }), $("download-link").download);
  } catch (err) {
    showProblem(err);
  }
}

export function setupResult() {
  $("download-link").addEventListener("click", downloadResult);
  onLanguageChange(renderResult);
}
