// The "?" button of the viewer toolbar: an overlay on the viewer listing every gesture and key,
// for people who never hover a tooltip (and touch devices, which cannot). Esc, Close or a click
// outside its panel closes it, and focus goes back to the "?" button.

import { t } from "./i18n.js"; // the items carry data-i18n: a language switch re-words them
import { $ } from "./dom.js";

const GESTURES = ["help.g.orbit", "help.g.pan", "help.g.zoom"];
const KEYS = ["help.k.pan", "help.k.zoom", "help.k.view", "help.k.fly", "help.k.close"];

function fill(list, keys) {
  list.replaceChildren(...keys.map((key) => {
    const item = document.createElement("li");
    item.dataset.i18n = key;
    item.textContent = t(key);
    return item;
  }));
}

function setOpen(open) {
  const overlay = $("help-overlay");
  if (overlay.hidden === !open) return;
  overlay.hidden = !open;
  $("help-button").setAttribute("aria-expanded", String(open));
  if (open) overlay.querySelector(".help-panel").focus({ preventScroll: true });
  else $("help-button").focus({ preventScroll: true });
}

export function setupHelp() {
  fill($("help-gestures"), GESTURES);
  fill($("help-keys"), KEYS);
  $("help-button").addEventListener("click", () => setOpen($("help-overlay").hidden));
  $("help-close").addEventListener("click", () => setOpen(false));
  $("help-overlay").addEventListener("click", (e) => {
    if (!e.target.closest(".help-panel")) setOpen(false); // the dimmed area around the panel
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("help-overlay").hidden) {
      e.preventDefault();
      setOpen(false);
    }
  });
  document.addEventListener("pointerdown", (e) => {
    if (!$("help-overlay").hidden && !e.target.closest(".help-panel, #help-button")) setOpen(false);
  });
}
