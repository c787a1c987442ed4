// Several photos (or a .zip of photos) at once: one POST api/batch, then a queue card with a line
// per photo (its stage, a Cancel button while it waits or runs, a View button once its scene is
// ready) and "Download all (.zip)". picking.js hands multi-file choices and drops over (wantsBatch /
// startBatch); main.js says how to show a finished scene (setupBatch({view, settings, error})).
// The batch is polled like a single job (GET api/batch/{id}); cancel is DELETE on the job or batch.

import { onLanguageChange, t } from "./i18n.js";
import { apiKey, call } from "./api.js";
import { thumbnailOf } from "./history.js";
import { state as page } from "./state.js";
import { saveBlob } from "./dom.js";

const POLL_MS = 600;
const FINISHED = new Set(["done", "cancelled"]); // a batch's final states

const state = page.batch; // this module's part of the page state (state.js)
const hooks = { settings: () => ({}), view: async () => {}, error: () => {} }; // from main.js

/** True when these files should go to the batch API: more than one, or a zip of photos. */
export function wantsBatch(files) {
  return files.length > 1 || files.some((file) => /\.zip$/i.test(file.name));
}

export function setupBatch(given) {
  Object.assign(hooks, given);
  onLanguageChange(render);
}

function card() {
  if (state.card) return state.card;
  const section = document.createElement("section");
  section.className = "card batch";
  section.id = "batch-card";
  section.setAttribute("aria-labelledby", "batch-heading");
  section.innerHTML = `
    <h2 id="batch-heading"></h2>
    <p id="batch-summary" class="muted" role="status" aria-live="polite"></p>
    <ol id="batch-list" class="batch-list"></ol>
    <p id="batch-skipped" class="muted small" hidden></p>
    <div class="actions">
      <a id="batch-download" class="button primary" href="#" download></a>
      <button id="batch-cancel-all" class="button secondary" type="button"></button>
    </div>`;
  const upload = document.getElementById("upload-heading")?.closest("section");
  if (upload) upload.after(section);
  else document.querySelector("main")?.prepend(section);
  section.querySelector("#batch-download").addEventListener("click", downloadAll);
  section.querySelector("#batch-cancel-all").addEventListener("click", () => cancel(`api/batch/${state.status.batch_id}`));
  state.card = section;
  return section;
}

/** Send the files as one batch; settings come from the page (main.js's readSettings). */
export async function startBatch(files) {
  let settings;
  try {
    settings = hooks.settings();
  } catch (problem) {
    hooks.error(problem);
    return;
  }
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  if (settings.fPx) form.append("f_px", String(settings.fPx));
  if (settings.inputSize) form.append("input_size", String(settings.inputSize));
  try {
    const accepted = await (await call("api/batch", { method: "POST", body: form })).json();
    clearTimeout(state.timer);
    state.status = accepted;
    state.files = new Map(files.map((file) => [file.name, file]));
    render();
    schedulePoll();
  } catch (err) {
    hooks.error(err);
  }
}

function schedulePoll() {
  clearTimeout(state.timer);
  if (!state.status || FINISHED.has(state.status.state)) return;
  state.timer = setTimeout(poll, POLL_MS);
}

async function poll() {
  const id = state.status?.batch_id;
  if (!id) return;
  try {
    const status = await (await call(`api/batch/${encodeURIComponent(id)}`)).json();
    if (state.status?.batch_id === id) state.status = status;
  } catch (err) {
    hooks.error(err);
    return;
  }
  render();
  schedulePoll();
}

async function cancel(path) {
  try {
    await call(path, { method: "DELETE" });
  } catch (err) {
    hooks.error(err);
  }
  poll();
}

async function view(item) {
  try {
    const job = await (await call(`api/jobs/${encodeURIComponent(item.job_id)}`)).json();
    const file = state.files.get(item.name);
    const thumb = file ? await thumbnailOf(file) : null;
    await hooks.view(job.result, item.name, thumb);
  } catch (err) {
    hooks.error(err);
  }
}

async function downloadAll(e) {
  // Without a key a plain link streams the zip to disk; with one, fetch it (links cannot send headers).
  if (!apiKey()) return;
  e.preventDefault();
  try {
    const link = e.currentTarget;
    const response = await call(link.getAttribute("href"));
    saveBlob(await response.blob(), link.download);
  } catch (err) {
    hooks.error(err);
  }
}

function button(label, className, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = label;
  element.addEventListener("click", onClick);
  return element;
}

function line(item) {
  const li = document.createElement("li");
  li.className = "batch-item";
  li.dataset.state = item.state;
  if (item.job_id) li.dataset.jobId = item.job_id;
  const text = document.createElement("span");
  text.className = "batch-text";
  const name = document.createElement("span");
  name.className = "batch-name";
  name.textContent = item.name;
  const stage = document.createElement("small");
  stage.className = item.state === "error" ? "batch-stage error-text" : "batch-stage muted";
  stage.textContent = item.error && item.state === "error" ? `${t("stage.error")}: ${item.error}` : t(`stage.${item.stage}`);
  text.append(name, stage);
  li.append(text);
  if (item.state === "queued" || item.state === "running") {
    li.append(button(t("batch.cancel"), "link-button batch-cancel",
      () => cancel(`api/jobs/${encodeURIComponent(item.job_id)}`)));
  } else if (item.state === "done") {
    li.append(button(t("batch.view"), "button secondary batch-view", () => view(item)));
  }
  return li;
}

function render() {
  const batch = state.status;
  if (!batch) return;
  const root = card();
  root.dataset.state = batch.state;
  root.querySelector("#batch-heading").textContent = t("batch.heading");
  const counts = batch.counts;
  root.querySelector("#batch-summary").textContent = t("batch.summary", {
    done: counts.done, total: batch.total, failed: counts.error, cancelled: counts.cancelled,
  });
  root.querySelector("#batch-list").replaceChildren(...batch.items.map(line));
  const skipped = root.querySelector("#batch-skipped");
  skipped.hidden = !batch.skipped.length;
  skipped.textContent = t("batch.skipped", { names: batch.skipped.join(", ") });
  const download = root.querySelector("#batch-download");
  download.textContent = t("batch.download");
  download.href = batch.zip_url.replace(/^\//, "");
  download.download = `batch-${batch.batch_id.slice(0, 8)}.zip`;
  download.toggleAttribute("aria-disabled", counts.done === 0);
  download.classList.toggle("disabled", counts.done === 0);
  const cancelAll = root.querySelector("#batch-cancel-all");
  cancelAll.textContent = t("batch.cancelAll");
  cancelAll.hidden = counts.queued + counts.running === 0;
}
