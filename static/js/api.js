// Talks to the MLSharp service. Progress is polled (GET /api/jobs/{id} every POLL_MS): it works
// through any proxy, needs no open connection per job, and the service keeps a job's state
// anyway. All paths are relative so the page also works when served under a sub-path.

const POLL_MS = 400;
const KEY_STORAGE = "mlsharp.apiKey";

export class ApiError extends Error {
  constructor(status, detail, retryAfter = null) {
    super(detail);
    this.status = status; // 0: the request never got an answer
    this.detail = detail;
    this.retryAfter = retryAfter; // seconds, when the service said
  }
}

export function apiKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

export function setApiKey(value) {
  try {
    if (value) sessionStorage.setItem(KEY_STORAGE, value);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    /* session storage disabled: the key lives only in the input */
  }
}

function headers() {
  const key = apiKey();
  return key ? { "X-API-Key": key } : {};
}

function retryAfterSeconds(response) {
  const value = response.headers.get("Retry-After");
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.round((date - Date.now()) / 1000));
}

export async function call(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) } });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, String(err.message || err));
  }
  if (!response.ok) {
    let detail = response.statusText || `HTTP ${response.status}`;
    try {
      const body = await response.json();
      if (body && typeof body.detail === "string") detail = body.detail;
    } catch {
      /* not JSON: keep the status text */
    }
    throw new ApiError(response.status, detail, retryAfterSeconds(response));
  }
  return response;
}

export async function health() {
  return (await call("api/health")).json();
}

function formFor(file, { fPx, inputSize } = {}) {
  const form = new FormData();
  form.append("file", file, file.name);
  if (fPx) form.append("f_px", String(fPx));
  if (inputSize) form.append("input_size", String(inputSize));
  return form;
}

/** Ask the service to stop a job (DELETE api/jobs/{id}); idempotent, answers its status. */
export async function cancelJob(jobId) {
  return (await call(`api/jobs/${encodeURIComponent(jobId)}`, { method: "DELETE" })).json();
}

/**
 * Submit a photo as a job and poll it to the end. onJob(id) is called once the service accepted
 * it, onStage({stage, elapsed}) on each answer, onDraft(draft) once, when a progressive job
 * publishes its draft scene while the final one is still being built. Resolves with the (final)
 * prediction result, rejects with ApiError (or AbortError). Aborting `signal` cancels the job on
 * the service as well (before the promise rejects), so its worker stops instead of finishing a
 * scene nobody will look at.
 */
export async function generate(file, settings, { onJob = () => {}, onStage, onDraft = () => {} }, signal) {
  const started = performance.now();
  onStage({ stage: "uploading", elapsed: 0 });
  const accepted = await (
    await call("api/jobs", { method: "POST", body: formFor(file, settings), signal })
  ).json();
  onJob(accepted.job_id);
  try {
    return await poll(accepted.job_id, started, onStage, onDraft, signal);
  } catch (err) {
    // A failed cancel (service gone) leaves nothing more the page could do about the job.
    if (err?.name === "AbortError") await cancelJob(accepted.job_id).catch(() => {});
    throw err;
  }
}

async function poll(jobId, started, onStage, onDraft, signal) {
  const statusUrl = `api/jobs/${encodeURIComponent(jobId)}`;
  let draftSeen = false;
  for (;;) {
    const job = await (await call(statusUrl, { signal })).json();
    const elapsed = typeof job.elapsed_s === "number" ? job.elapsed_s : (performance.now() - started) / 1000;
    onStage({ stage: job.stage, elapsed });
    if (job.state === "done") return job.result;
    if (job.draft && !draftSeen && job.state === "running") {
      draftSeen = true; // a draft first seen with the final result is not worth showing
      onDraft(job.draft);
    }
    if (job.state === "cancelled") throw new DOMException("cancelled on the service", "AbortError");
    if (job.state === "error") {
      const error = job.error || {};
      throw new ApiError(error.status_code || 500, error.detail || "unknown error");
    }
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, POLL_MS);
      signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(new DOMException("aborted", "AbortError"));
      }, { once: true });
    });
  }
}

/** The bytes at a service URL (the viewer's scene), with the API key when one is set. */
export async function fetchBytes(url, signal) {
  const response = await call(url, { signal });
  return new Uint8Array(await response.arrayBuffer());
}
