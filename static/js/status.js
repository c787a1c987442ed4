// The service pill in the top bar (backend and device, or unreachable) and the preview banner;
// the service's answer also words the Settings (settings.js).

import { health } from "./api.js";
import { onLanguageChange, t } from "./i18n.js";
import { state } from "./state.js";
import { $ } from "./dom.js";
import { showProblem } from "./errors.js";
import { photoTooLarge, renderSizeOptions } from "./settings.js";

const RETRY_MS = 10000;

async function checkHealth() {
  try {
    state.healthInfo = await health();
  } catch {
    state.healthInfo = null;
    setTimeout(checkHealth, RETRY_MS);
  }
  renderStatus();
  renderSizeOptions(); // the default side is the service's
  const tooLarge = photoTooLarge(); // a photo chosen before the answer came
  if (tooLarge) showProblem(tooLarge);
}

function renderStatus() {
  const pill = $("service-status");
  const info = state.healthInfo;
  if (!info) {
    pill.textContent = t("status.offline");
    pill.className = "pill bad";
    return;
  }
  pill.textContent = t("status.ready", { backend: t(`backend.${info.backend}`), device: info.device });
  pill.className = info.preview ? "pill warn" : "pill ok";
  $("preview-banner").hidden = !info.preview;
}

export function setupStatus() {
  onLanguageChange(renderStatus);
  checkHealth();
}
