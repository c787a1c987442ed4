// The Settings words that depend on the service: the input-size choice, worded as quality
// against speed with the service's own default side and the Gaussians each side gives, and the
// photo pixel limit, checked before uploading so an oversized photo is refused at once instead
// of after its whole upload. Both read GET api/health (state.healthInfo, status.js).

import { formatNumber, onLanguageChange, t } from "./i18n.js";
import { state } from "./state.js";
import { $ } from "./dom.js";

const SIDES = [512, 768, 1024, 1536];

/** SHARP predicts two Gaussians per pixel of a half-resolution grid: 2·(side/2)². */
export function gaussiansAt(side) {
  return 2 * (side / 2) ** 2;
}

function choiceWords(side) {
  const words = t(`settings.size.${side}`);
  return words === `settings.size.${side}` ? t("settings.size.1024") : words;
}

function optionText(side) {
  return t("settings.inputOption", { side, words: choiceWords(side), count: formatNumber(gaussiansAt(side)) });
}

/** Refill the size <select>, keeping the choice; the first option is the service's default. */
export function renderSizeOptions() {
  const select = $("size-select");
  const chosen = select.value;
  const side = state.healthInfo?.input_size;
  const first = new Option(side ? t("settings.inputDefaultIs", { choice: `${side} — ${choiceWords(side)}` })
    : t("settings.inputDefault"), "");
  select.replaceChildren(first, ...SIDES.map((s) => new Option(optionText(s), String(s))));
  select.value = chosen;
}

function megapixels(pixels) {
  return formatNumber(pixels / 1e6, { maximumFractionDigits: pixels < 1e7 ? 1 : 0 });
}

/** [string key, vars] when the chosen photo is known to exceed the service's pixel limit, else null. */
export function photoTooLarge() {
  const limit = state.healthInfo?.max_pixels;
  const size = state.photoSize;
  if (!limit || !size || size.width * size.height <= limit) return null;
  return ["error.photoTooLarge", { size: megapixels(size.width * size.height), limit: megapixels(limit) }];
}

export function setupSettings() {
  renderSizeOptions();
  onLanguageChange(renderSizeOptions);
}
