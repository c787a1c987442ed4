// The page's error box: what went wrong, in the user's language, with what to do about it.
// The message is kept as a string key and values so a language switch re-renders it.

import { ApiError } from "./api.js";
import { onLanguageChange, t } from "./i18n.js";
import { state } from "./state.js";
import { $ } from "./dom.js";

/** [string key, vars] explaining err: an HTTP answer by its status, anything else as a viewer problem. */
export function errorFor(err) {
  if (err instanceof ApiError) {
    const retry = err.retryAfter != null ? t("error.retryIn", { seconds: err.retryAfter }) : "";
    const detail = err.detail;
    if (err.status === 0) return ["error.network", {}];
    if (err.status === 401 || err.status === 403) return ["error.auth", { detail }];
    if (err.status === 413) return ["error.tooLarge", { detail }];
    if (err.status === 429) return ["error.rateLimited", { retry }];
    if (err.status === 503) return ["error.busy", { retry, detail }];
    if (err.status === 504) return ["error.timeout", { detail }];
    if (err.status >= 400 && err.status < 500) return ["error.rejected", { detail }];
    return ["error.failed", { detail }];
  }
  return ["error.viewer", { detail: String(err?.message || err) }];
}

export function showError(key, vars = {}) {
  state.error = { key, vars };
  $("error-text").textContent = t(key, vars);
  $("error-box").hidden = false;
}

/** An exception, or a [key, vars] pair thrown by a form check, into the error box. */
export function showProblem(problem) {
  if (Array.isArray(problem)) showError(...problem);
  else showError(...errorFor(problem));
}

export function clearError() {
  state.error = null;
  $("error-box").hidden = true;
}

export function setupErrors() {
  $("error-dismiss").addEventListener("click", clearError);
  onLanguageChange(() => {
    if (state.error) showError(state.error.key, state.error.vars);
  });
}
