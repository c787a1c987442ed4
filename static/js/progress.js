// The generation's progress line: the stage the service reports and a clock that keeps running
// between polls; plus the Generate/Cancel buttons, whose state follows the same "busy" switch.

import { onLanguageChange, t } from "./i18n.js";
import { state } from "./state.js";
import { $ } from "./dom.js";

const TICK_MS = 100;

/** controller: the running generation's AbortController, or null when it ended. */
export function setBusy(controller) {
  state.busy = controller;
  const generate = $("generate-button");
  generate.disabled = Boolean(controller) || !state.photo;
  generate.dataset.i18n = controller ? "generate.busy" : "generate";
  generate.textContent = t(generate.dataset.i18n);
  $("cancel-button").hidden = !controller;
  $("progress").hidden = !controller;
  if (!controller) onJob(null);
  clearInterval(state.timer);
  if (controller) state.timer = setInterval(renderProgress, TICK_MS);
}

/** The service's id of the running job (null: none), also on #progress for people and tests. */
export function onJob(id) {
  state.jobId = id;
  if (id) $("progress").dataset.job = id;
  else delete $("progress").dataset.job;
}

/** A stage answer from the service (or the page's own "uploading" / "downloading"). */
export function onStage({ stage, elapsed }) {
  state.stage = stage;
  state.elapsedBase = elapsed;
  state.elapsedAt = performance.now();
  renderProgress();
}

function renderProgress() {
  if (!state.busy || !state.stage) return;
  const elapsed = state.elapsedBase + (performance.now() - state.elapsedAt) / 1000;
  $("progress-stage").textContent = t(`stage.${state.stage}`);
  $("progress-elapsed").textContent = t("progress.elapsed", { seconds: elapsed.toFixed(1) });
  $("progress").dataset.stage = state.stage;
}

export function setupProgress() {
  onLanguageChange(renderProgress);
}
