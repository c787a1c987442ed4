// The "This session" list: one button per scene in state.history, newest first, the one on
// screen marked. What a click does comes from scenes.js through setupHistoryList({open}).

import { formatNumber, onLanguageChange, t } from "./i18n.js";
import { state } from "./state.js";
import { $ } from "./dom.js";

const hooks = { open: () => {} };

function item(entry) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "history-item";
  if (entry.key === state.scene?.key) button.setAttribute("aria-current", "true");
  button.setAttribute("aria-label", t("history.open", { name: entry.name }));
  if (entry.thumb) {
    const img = document.createElement("img");
    img.src = entry.thumb;
    img.alt = "";
    button.append(img);
  } else {
    const icon = document.createElement("span");
    icon.className = "history-icon";
    icon.textContent = entry.kind === "file" ? "PLY" : "3D";
    button.append(icon);
  }
  const text = document.createElement("span");
  text.className = "history-text";
  const name = document.createElement("span");
  name.textContent = entry.name;
  const meta = document.createElement("small");
  meta.className = "muted";
  meta.textContent = entry.kind === "result"
    ? `${t(`backend.${entry.backend}`)} · ${formatNumber(entry.numGaussians)}`
    : t("source.file", { name: "" }).trim();
  text.append(name, meta);
  button.append(text);
  button.addEventListener("click", () => hooks.open(entry));
  li.append(button);
  return li;
}

export function renderHistory() {
  const entries = state.history.entries;
  $("history-empty").hidden = entries.length > 0;
  $("history-list").replaceChildren(...entries.map(item));
}

export function setupHistoryList(given) {
  Object.assign(hooks, given);
  onLanguageChange(renderHistory);
  renderHistory();
}
