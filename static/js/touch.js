// Touch devices have no drop target to drag onto and no keyboard at hand: there the upload
// zone says "tap" and the help line under the viewer names gestures instead of keys. Only the
// string keys change here; i18n.js still supplies the words in every language.

import { $ } from "./dom.js";

/** A coarse pointer (finger) or touch events: words for fingers, not for a mouse and keys. */
export function isTouch() {
  return window.matchMedia("(pointer: coarse)").matches || "ontouchstart" in window;
}

/** The string key of the help line under the viewer, for orbit or fly mode on this device. */
export function viewerHelpKey(flying) {
  if (isTouch()) return flying ? "viewer.helpFlyTouch" : "viewer.helpTouch";
  return flying ? "viewer.helpFly" : "viewer.helpOrbit";
}

export function applyTouchWording() {
  if (!isTouch()) return;
  document.documentElement.classList.add("touch");
  $("drop-text").dataset.i18n = "upload.tap";
  $("viewer-help").dataset.i18n = viewerHelpKey(false);
}
