// The service pill in the top bar (backend and device, or unreachable) and the preview banner.

import { health } from "./api.js";
import { onLanguageChange, t } from "./i18n.js";
import { state } from "./state.js";
import { $ } from "./dom.js";

const RETRY_MS = 10000;

async function checkHealth() {
  try {
    state.healthInfo = await health();
  } catch {
    state.healthInfo = null;
    setTimeout(checkHealth, RETRY_MS);
  }
  renderStatus();
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
