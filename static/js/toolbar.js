// The viewer's toolbar and keys: reset, fit, fly mode, free orbit, splat size, fullscreen;
// enabled only while a scene is on screen. The controls themselves live in the viewer
// (fly.js, orbit.js).

import { onLanguageChange, t } from "./i18n.js";
import { $ } from "./dom.js";
import { onViewerStatus, viewer } from "./page_viewer.js";
import { viewerHelpKey } from "./touch.js";

const ZOOM_STEP = 0.85;
const SCENE_CONTROLS = ["reset-button", "fit-button", "fly-button", "free-orbit-button", "scale-input"];

function renderFlyButton() {
  const button = $("fly-button");
  button.setAttribute("aria-pressed", String(viewer.flying));
  button.firstElementChild.dataset.i18n = viewer.flying ? "viewer.orbitMode" : "viewer.fly";
  button.firstElementChild.textContent = t(button.firstElementChild.dataset.i18n);
  $("viewer-help").dataset.i18n = viewerHelpKey(viewer.flying);
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

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey || !viewer.mesh) return;
  const key = e.key.toLowerCase();
  if (key === "v") toggleFly();
  else if (viewer.flying) return; // WASD, Q/E and arrows belong to fly mode
  else if (key === "r") viewer.resetView();
  else if (key === "f") viewer.fitScene();
  else if (key === "+" || key === "=") viewer.zoom(ZOOM_STEP);
  else if (key === "-" || key === "_") viewer.zoom(1 / ZOOM_STEP);
  else return;
  e.preventDefault();
}

export function setupToolbar() {
  onViewerStatus((status, info) => {
    const onScreen = status === "ready" || (status === "error" && info?.kept); // a failed load keeps the last scene
    for (const id of SCENE_CONTROLS) $(id).disabled = !onScreen;
  });
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
  $("fullscreen-button").addEventListener("click", () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else $("viewer").requestFullscreen?.().catch(() => {});
  });
  document.addEventListener("fullscreenchange", () => {
    renderFullscreenButton();
    viewer.resize();
  });
  $("viewer-canvas").addEventListener("keydown", onKey);
  onLanguageChange(() => {
    renderFlyButton();
    renderFullscreenButton();
  });
}
