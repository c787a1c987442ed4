// One photo to one scene: read the optional settings, run the job with live progress, show
// the result. Several photos go to batch.js instead (picking.js decides).

import { generate } from "./api.js";
import { thumbnailOf } from "./history.js";
import { state } from "./state.js";
import { $ } from "./dom.js";
import { clearError, showProblem } from "./errors.js";
import { onJob, onStage, setBusy } from "./progress.js";
import { showDraft, showResult } from "./scenes.js";
import { photoTooLarge } from "./settings.js";

/** The Settings form as {fPx, inputSize}; throws [string key, vars] for a value it cannot use. */
export function readSettings() {
  const focalText = $("focal-input").value.trim();
  const fovText = $("fov-input").value.trim();
  const settings = {};
  if (focalText) {
    const value = Number(focalText);
    if (!(value > 0)) throw ["error.badFocal", { value: focalText }];
    settings.fPx = value;
  } else if (fovText) {
    const degrees = Number(fovText);
    if (!(degrees >= 1 && degrees <= 179)) throw ["error.badFov", { value: fovText }];
    if (!state.photoSize) throw ["error.fovNeedsImage", {}];
    settings.fPx = state.photoSize.width / 2 / Math.tan((degrees * Math.PI) / 360);
  }
  const size = $("size-select").value;
  if (size) settings.inputSize = Number(size);
  return settings;
}

async function runGeneration() {
  if (!state.photo || state.busy) return;
  clearError();
  let settings;
  try {
    const tooLarge = photoTooLarge();
    if (tooLarge) throw tooLarge; // the service would refuse it after the whole upload
    settings = readSettings();
  } catch (problem) {
    showProblem(problem);
    return;
  }
  const controller = new AbortController();
  setBusy(controller);
  const photo = state.photo;
  let draftShown = null; // resolves true once a progressive job's draft is on screen
  try {
    const result = await generate(photo, settings, {
      onJob,
      onStage,
      onDraft: (draft) => { draftShown = showDraft(draft, photo.name, controller.signal); },
    }, controller.signal);
    const thumb = await thumbnailOf(photo);
    onStage({ stage: "downloading", elapsed: state.elapsedBase });
    // The final scene replaces its draft where the user left the camera (if the draft is still
    // on screen); never two loads at once.
    const keepView = Boolean(draftShown && (await draftShown) && state.scene?.draft);
    await showResult(result, photo.name, thumb, controller.signal, { keepView });
  } catch (err) {
    if (err?.name !== "AbortError") showProblem(err);
  } finally {
    setBusy(null);
  }
}

export function setupGeneration() {
  $("generate-button").addEventListener("click", runGeneration);
  $("cancel-button").addEventListener("click", () => state.busy?.abort()); // api.js cancels the job too
}
