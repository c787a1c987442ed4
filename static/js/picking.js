// Choosing what to work on: the photo drop zone and file input, the "Open a .ply or .spz" button
// and drops anywhere on the window. One photo waits for Generate; several photos (or a .zip)
// go to the batch queue; a .ply/.spz opens in the viewer.

import { t } from "./i18n.js";
import { state } from "./state.js";
import { $ } from "./dom.js";
import { clearError, showError, showProblem } from "./errors.js";
import { photoTooLarge } from "./settings.js";
import { startBatch, wantsBatch } from "./batch.js";
import { openSceneFile } from "./scenes.js";

const PHOTO_EXTENSIONS = /\.(jpe?g|png|webp|heic|heif|bmp|tiff?|gif)$/i;
const SCENE_EXTENSIONS = /\.(ply|spz)$/i;

function isScene(file) {
  return SCENE_EXTENSIONS.test(file.name);
}

function isPhoto(file) {
  return (file.type || "").startsWith("image/") || PHOTO_EXTENSIONS.test(file.name);
}

function takeFile(file) {
  if (!file) return;
  clearError();
  if (isScene(file)) openSceneFile(file);
  else if (isPhoto(file)) choosePhoto(file);
  else showError("error.notPhoto", { name: file.name });
}

function takeFiles(files) {
  if (wantsBatch(files)) {
    clearError();
    startBatch(files);
  } else {
    takeFile(files[0]);
  }
}

function choosePhoto(file) {
  state.photo = file;
  state.photoSize = null;
  const img = $("thumb-img");
  if (img.src) URL.revokeObjectURL(img.src);
  $("thumb").hidden = false;
  $("thumb-name").textContent = file.name;
  $("thumb-size").textContent = "";
  img.hidden = false;
  img.onload = () => {
    state.photoSize = { width: img.naturalWidth, height: img.naturalHeight };
    $("thumb-size").textContent = t("upload.size", state.photoSize);
    const tooLarge = photoTooLarge(); // said now, not after an upload the service would refuse
    if (tooLarge && state.photo === file) showProblem(tooLarge);
  };
  img.onerror = () => {
    img.hidden = true;
    $("thumb-size").textContent = t("upload.noPreview");
  };
  img.src = URL.createObjectURL(file);
  img.alt = file.name;
  $("generate-button").disabled = Boolean(state.busy);
}

function setupPhotoInput() {
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
}

function setupSceneInput() {
  const input = $("scene-input");
  $("open-button").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    const file = input.files[0];
    input.value = "";
    if (!file) return;
    clearError();
    if (isScene(file)) openSceneFile(file);
    else showError("error.notScene", { name: file.name });
  });
}

/** The whole window accepts drops: a photo to convert, or a .ply/.spz to view. */
function setupWindowDrop() {
  const overlay = $("drop-overlay");
  let depth = 0; // dragenter/dragleave pairs seen: child elements fire their own
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

export function setupPicking() {
  setupPhotoInput();
  setupSceneInput();
  setupWindowDrop();
}
