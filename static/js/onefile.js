// "Download as HTML": one self-contained file holding the viewer (three.js, Spark, our
// viewer.js) and the scene (SPZ, base64), which opens offline from the file system.
//
// How it runs without a server: each ES module is stored base64-encoded; a small classic
// script decodes them into blob: URLs (where a relative import cannot resolve), rewrites the
// relative imports (three.module.js -> three.core.js to its blob URL; our modules' "./x.js" to
// the import-map name "mlsharp/x"), installs an import map naming the modules, then starts a
// module that builds the same SceneViewer the page uses (orbit and fly controls alike).
// Every module viewer.js imports, directly or not, must be listed in MODULES.

const MODULES = [
  // [import-map name or null, path under static/]
  ["three/core", "vendor/three/build/three.core.js"],
  ["three", "vendor/three/build/three.module.js"],
  ["three/addons/controls/OrbitControls.js", "vendor/three/examples/jsm/controls/OrbitControls.js"],
  ["three/addons/postprocessing/Pass.js", "vendor/three/examples/jsm/postprocessing/Pass.js"],
  ["@sparkjsdev/spark", "vendor/spark/dist/spark.module.js"],
  ["mlsharp/fly", "js/fly.js"],
  ["mlsharp/orbit", "js/orbit.js"],
  ["mlsharp/perf", "js/perf.js"],
  ["mlsharp/viewer", "js/viewer.js"],
];

// The vendored modules come from the folder the page's import map names: the server serves it
// content-versioned and immutable (mlsharp/http/static.py), so the browser already holds them.
const VENDOR_BASE = import.meta.resolve("three").replace(/three\/build\/three\.module\.js$/, "");

function vendoredOr(base, path) {
  return path.startsWith("vendor/") ? VENDOR_BASE + path.slice("vendor/".length) : base + path;
}

function toBase64(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 0x8000) out += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(out);
}

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// The loader and the start-up module, as text. No "</script" may appear in them.
const LOADER = `
const decode = (id) => new TextDecoder().decode(Uint8Array.from(atob(document.getElementById(id).textContent), (c) => c.charCodeAt(0)));
const urls = {};
const nodes = [...document.querySelectorAll("script[data-module]")];
const ours = nodes.map((node) => node.dataset.module).filter((name) => name.startsWith("mlsharp/"));
for (const node of nodes) {
  let text = decode(node.id);
  if (node.dataset.module === "three") text = text.split("'./three.core.js'").join(JSON.stringify(urls["three/core"]));
  if (node.dataset.module.startsWith("mlsharp/")) {
    for (const name of ours) text = text.split('"./' + name.slice(8) + '.js"').join(JSON.stringify(name));
  }
  urls[node.dataset.module] = URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
}
const map = document.createElement("script");
map.type = "importmap";
map.textContent = JSON.stringify({ imports: urls });
document.head.append(map);
const start = document.createElement("script");
start.type = "module";
start.textContent = decode("start");
document.body.append(start);
`;

const START = `
const { SceneViewer } = await import("mlsharp/viewer"); // named by the import map above
const $ = (id) => document.getElementById(id);
const meta = JSON.parse($("scene-meta").textContent);
const bytes = Uint8Array.from(atob($("scene").textContent), (c) => c.charCodeAt(0));
const viewer = new SceneViewer($("c"));
window.__mlsharpViewer = viewer;
$("reset").onclick = () => viewer.resetView();
$("fly").onclick = () => { viewer.setFlying(!viewer.flying); $("fly").setAttribute("aria-pressed", String(viewer.flying)); };
$("free").onclick = () => { viewer.setFreeOrbit(!viewer.freeOrbit); $("free").setAttribute("aria-pressed", String(viewer.freeOrbit)); };
window.addEventListener("keydown", (e) => {
  if (viewer.flying || e.ctrlKey || e.metaKey) return;
  if (e.key === "r") viewer.resetView();
  if (e.key === "f") viewer.fitScene();
});
viewer.load({ bytes, fileName: "scene.spz", camera: meta.camera, source: "file" });
`;

/**
 * The HTML text for `spzBytes` (Uint8Array); `camera` is {fPx, width, height} or null. `lang`
 * and `labels` ({reset, fly, free, freeTitle, help}) come from the page's language (exports.js),
 * so the file speaks the language it was saved in.
 */
export async function buildSceneHtml(spzBytes, { title = "3D scene", camera = null, base = "static/", lang, labels } = {}) {
  const parts = [];
  for (const [name, path] of MODULES) {
    const response = await fetch(vendoredOr(base, path));
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    parts.push(`<script type="text/plain" id="m${parts.length}" data-module="${name}">${toBase64(bytes)}</script>`);
  }
  const utf8 = (text) => toBase64(new TextEncoder().encode(text));
  return `<!doctype html>
<html lang="${escapeHtml(lang)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
html, body { margin: 0; height: 100%; background: #14161b; color: #e8eaf0; font: 14px system-ui, sans-serif; }
#stage { position: fixed; inset: 0; } canvas { width: 100%; height: 100%; display: block; outline: none; }
.bar { position: fixed; left: 12px; bottom: 12px; display: flex; gap: 8px; align-items: center; }
button { background: #2b3040; color: inherit; border: 1px solid #4a5168; border-radius: 6px; padding: 6px 12px; cursor: pointer; }
button[aria-pressed="true"] { background: #4a6cf7; }
</style></head>
<body><div id="stage"><canvas id="c" tabindex="0" aria-label="${escapeHtml(title)}"></canvas></div>
<div class="bar"><button id="reset" type="button">${escapeHtml(labels.reset)} (R)</button><button id="fly" type="button" aria-pressed="false">${escapeHtml(labels.fly)} (WASD, Q/E)</button><button id="free" type="button" aria-pressed="false" title="${escapeHtml(labels.freeTitle)}">${escapeHtml(labels.free)}</button>
<span>${escapeHtml(labels.help)}</span></div>
<script type="application/json" id="scene-meta">${JSON.stringify({ camera }).replace(/</g, "\\u003c")}</script>
<script type="text/plain" id="scene">${toBase64(spzBytes)}</script>
<script type="text/plain" id="start">${utf8(START)}</script>
${parts.join("\n")}
<script>${LOADER}</script>
</body></html>
`;
}
