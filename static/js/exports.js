// The Export panel: density presets, every download format with its size shown before the
// download, the depth map, "Download as HTML", a screenshot, video recording and "View in VR"
// (only where the browser offers immersive WebXR). result.js calls initExports() once and
// exportsPanel.show(result) for each scene from the service.

import { apiKey, fetchBytes, health } from "./api.js";
import { formatNumber, htmlLang, onLanguageChange, t } from "./i18n.js";
import { saveBlob } from "./dom.js";
import { buildSceneHtml } from "./onefile.js";
import { recordVideo, screenshot } from "./recorder.js";
import { TRAJECTORIES } from "./trajectory.js";
import { enterVr, vrSupported } from "./xr.js";

const PRESETS = [null, 500000, 200000, 100000];
const RESOLUTIONS = [360, 480, 720, 1080];
const FRAME_COUNTS = [30, 60, 120]; // Apple's default path has 60 steps
const FRAME_RATES = [24, 30, 60];

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

/** This panel's strings are the export.* keys of i18n.js. */
const s = (key, vars) => t(`export.${key}`, vars);

function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "?";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${formatNumber(bytes / 1024, { maximumFractionDigits: 0 })} KB`;
  return `${formatNumber(bytes / 1024 / 1024, { minimumFractionDigits: 1, maximumFractionDigits: 1 })} MB`;
}

// The preset decides the density: the answer's URLs may carry one already (the request's or the
// server's inference.max_gaussians), so it is set or removed, never appended twice.
function withDensity(url, max) {
  const [path, query = ""] = url.split("?");
  const params = new URLSearchParams(query);
  if (max) params.set("max_gaussians", max);
  else params.delete("max_gaussians");
  const rest = params.toString();
  return rest ? `${path}?${rest}` : path;
}

async function sizeOf(url) {
  const response = await fetch(url, { method: "HEAD", headers: apiKey() ? { "X-API-Key": apiKey() } : {} });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return Number(response.headers.get("Content-Length"));
}

class ExportPanel {
  constructor(viewer, anchor) {
    this.viewer = viewer;
    this.result = null;
    this.max = null;
    this.recording = null;
    this.card = el("section", { id: "export-card", className: "card", hidden: true });
    this.card.setAttribute("aria-labelledby", "export-heading");
    anchor.after(this.card);
    onLanguageChange(() => this.render());
    health().then((info) => { if (info.max_gaussians) this.max = info.max_gaussians; }).catch(() => {});
  }

  show(result) {
    this.result = result;
    this.render();
  }

  get baseName() {
    return (this.result?.name || "scene").replace(/\.[^.]+$/, "") || "scene";
  }

  render() {
    const result = this.result;
    this.card.hidden = !result;
    if (!result) return;
    const density = el("select", { id: "density-select" });
    for (const preset of PRESETS) {
      const label = preset ? `${formatNumber(preset / 1000)}k` : s("full");
      density.append(el("option", { value: preset ?? "", textContent: label, selected: preset === this.max }));
    }
    density.addEventListener("change", () => this.setDensity(density.value ? Number(density.value) : null));
    const rows = el("ul", { className: "export-list", id: "export-list" });
    const entries = Object.entries(result.downloads || {}).map(([name, url]) => [s(`formats.${name}`), withDensity(url, this.max), `${this.baseName}${this.max ? "-" + this.max : ""}.${name}`]);
    if (result.depth_url) entries.push([s("depth"), result.depth_url, `${this.baseName}-depth.png`]);
    if (result.depth_preview_url) entries.push([s("depthPreview"), result.depth_preview_url, `${this.baseName}-depth-preview.png`]);
    for (const [label, url, name] of entries) {
      const size = el("span", { className: "muted export-size", textContent: s("sizeUnknown") });
      const button = el("button", { className: "button secondary", type: "button", textContent: s("download") });
      button.dataset.url = url;
      button.addEventListener("click", () => this.download(url, name));
      rows.append(el("li", {}, el("span", { textContent: label }), " ", size, " ", button));
      sizeOf(url).then((bytes) => { size.textContent = formatBytes(bytes); size.dataset.bytes = String(bytes); })
        .catch(() => { size.textContent = "?"; });
    }
    const html = el("button", { id: "html-button", className: "button secondary", type: "button", textContent: s("html") });
    html.addEventListener("click", () => this.downloadHtml());
    const shot = el("button", { id: "screenshot-button", className: "button secondary", type: "button", textContent: s("screenshot") });
    shot.addEventListener("click", async () => saveBlob(await screenshot(this.viewer), `${this.baseName}.png`));
    const vr = el("button", { id: "vr-button", className: "button secondary", type: "button", textContent: s("vr"), hidden: true });
    vr.addEventListener("click", () => enterVr(this.viewer).catch((err) => this.say(s("failed", { detail: err.message }))));
    vrSupported().then((ok) => { vr.hidden = !ok; });
    this.status = el("p", { id: "export-status", className: "muted", role: "status" });
    this.card.replaceChildren(
      el("h2", { id: "export-heading", textContent: s("heading") }),
      el("label", { className: "field" }, el("span", { textContent: s("density") }), density,
        el("small", { className: "muted", textContent: s("densityHint") })),
      rows, el("div", { className: "actions" }, html, shot, vr), this.videoControls(), this.status,
    );
  }

  videoControls() {
    const choose = (id, values, label) => {
      const select = el("select", { id });
      for (const [value, text] of values) select.append(el("option", { value, textContent: text }));
      return [select, el("label", { className: "field" }, el("span", { textContent: label }), select)];
    };
    const [path, pathField] = choose("video-path", TRAJECTORIES.map((t) => [t, s(`paths.${t}`)]), s("trajectory"));
    const [res, resField] = choose("video-resolution", RESOLUTIONS.map((h) => [h, `${h}p`]), s("resolution"));
    res.value = "720";
    const [fps, fpsField] = choose("video-fps", FRAME_RATES.map((f) => [f, String(f)]), s("fps"));
    fps.value = "30";
    const [steps, stepsField] = choose("video-frames", FRAME_COUNTS.map((n) => [n, String(n)]), s("frames"));
    steps.value = "60";
    const record = el("button", { id: "record-button", className: "button secondary", type: "button", textContent: s("record") });
    const cancel = el("button", { id: "record-cancel", className: "button secondary", type: "button", textContent: s("cancel"), hidden: true });
    const progress = el("progress", { id: "record-progress", max: 1, value: 0, hidden: true });
    record.addEventListener("click", () => this.record({ type: path.value, height: Number(res.value), fps: Number(fps.value), steps: Number(steps.value) },
      record, cancel, progress));
    cancel.addEventListener("click", () => this.recording?.abort());
    return el("details", { className: "settings", id: "video-panel" }, el("summary", { textContent: s("videoHeading") }),
      pathField, resField, fpsField, stepsField, el("div", { className: "actions" }, record, cancel), progress);
  }

  say(text) {
    if (this.status) this.status.textContent = text;
  }

  async setDensity(max) {
    this.max = max;
    this.render();
    const result = this.result;
    const bytes = await fetchBytes(withDensity(result.viewer_url, max));
    await this.viewer.load({ bytes, fileName: "scene.spz", source: "result",
      camera: { fPx: result.f_px, width: result.image_width, height: result.image_height } });
  }

  async download(url, name) {
    try {
      saveBlob(new Blob([await fetchBytes(url)]), name);
    } catch (err) {
      this.say(s("failed", { detail: err.message }));
    }
  }

  async downloadHtml() {
    const result = this.result;
    this.say(s("building"));
    try {
      const spz = await fetchBytes(withDensity(result.viewer_url, this.max));
      const labels = { reset: t("viewer.reset"), fly: t("viewer.fly"), free: t("viewer.freeOrbit"),
        freeTitle: t("viewer.freeOrbitTitle"), help: t("export.htmlHelp") };
      const text = await buildSceneHtml(spz, { title: this.baseName, lang: htmlLang(), labels,
        camera: { fPx: result.f_px, width: result.image_width, height: result.image_height } });
      const blob = new Blob([text], { type: "text/html" });
      saveBlob(blob, `${this.baseName}.html`);
      this.say(s("saved", { name: `${this.baseName}.html`, size: formatBytes(blob.size) }));
    } catch (err) {
      this.say(s("failed", { detail: err.message }));
    }
  }

  async record({ type, height, fps, steps }, record, cancel, progress) {
    if (this.recording) return;
    const photo = this.viewer.photo;
    const aspect = photo ? photo.width / photo.height : 16 / 9;
    const width = Math.round((height * aspect) / 2) * 2;
    this.recording = new AbortController();
    record.disabled = true;
    cancel.hidden = false;
    progress.hidden = false;
    try {
      const video = await recordVideo(this.viewer, { type, width, height, fps, steps, signal: this.recording.signal,
        onProgress: (done, total) => { progress.max = total; progress.value = done; this.say(s("progress", { done, total })); } });
      const name = `${this.baseName}-${type}.${video.container}`;
      window.__lastVideo = { ...video, name };
      saveBlob(video.blob, name);
      this.say(s("saved", { name, size: formatBytes(video.blob.size) }));
    } catch (err) {
      this.say(err.name === "AbortError" ? "" : s("failed", { detail: err.message }));
    } finally {
      this.recording = null;
      record.disabled = false;
      cancel.hidden = true;
      progress.hidden = true;
    }
  }
}

/** Create the panel after `anchor` (the result card); returns it (call .show(result)). */
export function initExports(viewer, anchor) {
  return new ExportPanel(viewer, anchor);
}
