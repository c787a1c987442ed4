// The Result card (Gaussians, backend, focal length, time) and its Download link, plus the
// Export panel below it (exports.js). Both describe state.result, the scene scenes.js last put
// on screen from the service.

import { apiKey, fetchBytes } from "./api.js";
import { formatNumber, onLanguageChange, t } from "./i18n.js";
import { initExports } from "./exports.js";
import { state } from "./state.js";
import { $, saveBlob } from "./dom.js";
import { showProblem } from "./errors.js";
import { viewer } from "./page_viewer.js";

const exportsPanel = initExports(viewer, $("result-card"));

export function renderResult() {
  const result = state.result;
  $("result-card").hidden = !result;
  exportsPanel.show(result && !result.draft ? result : null); // a draft's exports are not worth offering
  if (!result) return;
  $("res-count").textContent = formatNumber(result.num_gaussians);
  $("res-backend").textContent = t(`backend.${result.backend}`);
  $("res-focal").textContent = `${Math.round(result.f_px)} px (${t("result.focalSource", { source: result.focal_source })})`;
  $("res-time").textContent = `${result.processing_time.toFixed(2)} s${result.cache_hit ? " " + t("result.cached") : ""}`;
  $("res-preview-note").hidden = !result.preview;
  $("res-draft-note").hidden = !result.draft;
  const link = $("download-link");
  link.href = result.url;
  link.download = `${result.name.replace(/\.[^.]+$/, "") || "scene"}${result.draft ? "-draft" : ""}.ply`;
}

async function downloadWithKey(e) {
  // A plain link cannot send the X-API-Key header; with a key, fetch the file and save the blob.
  if (!apiKey() || !state.result) return;
  e.preventDefault();
  try {
    const bytes = await fetchBytes(state.result.url);
    saveBlob(new Blob([bytes], { type: "application/octet-stream" }), $("download-link").download);
  } catch (err) {
    showProblem(err);
  }
}

export function setupResult() {
  $("download-link").addEventListener("click", downloadWithKey);
  onLanguageChange(renderResult);
}
