// The "This session" list: one button per scene in state.history, newest first, the one on
// screen marked, each with a × to forget it. What the buttons do comes from scenes.js through
// setupHistoryList({open, remove}).

import { formatNumber, onLanguageChange, t } from "./i18n.js";
import { state } from "./state.js";
import { $ } from "./dom.js";

const hooks = { open: () => {}, remove: () => {} };

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
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "history-remove";
  remove.textContent = "×";
  remove.setAttribute("aria-label", t("history.remove", { name: entry.name }));
  remove.title = remove.getAttribute("aria-label");
  remove.addEventListener("click", () => hooks.remove(entry));
  li.className = "history-row";
  li.append(button, remove);
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
