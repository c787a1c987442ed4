// The 3D view: three.js + Spark (vendored under static/vendor/, loaded through the import map).
//
// SHARP scenes use the OpenCV camera convention: x right, y down, z forward, the photo's camera
// at the origin. The view therefore starts at the origin looking at +z with "up" = -y, with the
// vertical field of view of the photo (2 atan(H / 2f)), widened only when the canvas is
// narrower than the photo so the whole picture stays in frame: the first frame is the photo.
//
// Frames are drawn on demand (camera moves, sort results from Spark's worker, slider changes)
// rather than continuously, which keeps laptops cool and software-rendered CI machines usable.
// The state is published for people and tests: <html data-viewer-state="idle|loading|ready|error">
// and window.__viewerState / window.__viewerInfo; "ready" means a frame with splats on screen.

import * as THREE from "three";
import { SparkRenderer, SplatMesh, SplatFileType, dyno } from "@sparkjsdev/spark";
import { FlyControls } from "./fly.js";
import { BoundedOrbitControls } from "./orbit.js";
import { RenderSpeed } from "./perf.js";

const UP = new THREE.Vector3(0, -1, 0); // OpenCV: y points down, so "up" is -y
const FORWARD = new THREE.Vector3(0, 0, 1);
const BACKGROUND = new THREE.Color(0x14161b);
const DEFAULT_FOV = 60;
const SAMPLE_LIMIT = 200000; // centres kept for the scene's extent and depth
const READY_TIMEOUT_MS = 120000;

function publishState(state, info) {
  window.__viewerState = state;
  document.documentElement.dataset.viewerState = state;
  if (info) window.__viewerInfo = { ...(window.__viewerInfo || {}), ...info };
}

function quantile(sorted, q) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))))];
}

export class SceneViewer {
  constructor(canvas, { onStatus } = {}) {
    this.canvas = canvas;
    this.onStatus = onStatus || (() => {});
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: false });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.scene = new THREE.Scene();
    this.scene.background = BACKGROUND;
    this.camera = new THREE.PerspectiveCamera(DEFAULT_FOV, 1, 0.01, 5000);
    this.camera.up.copy(UP); // before OrbitControls: it takes its orbit axis from camera.up
    this.spark = new SparkRenderer({ renderer: this.renderer, onDirty: () => this.requestRender() });
    this.scene.add(this.spark);

    this.orbit = new BoundedOrbitControls(this.camera, canvas); // static/js/orbit.js
    this.orbit.listenToKeyEvents(canvas); // arrows pan, Shift/Ctrl+arrows orbit
    // Input moves the camera between frames and asks for one; the frame loop's own update()
    // decides by itself whether to go on (see tick), so its "change" events are not re-arming it.
    this.orbit.addEventListener("change", () => { if (!this.ticking) this.requestRender(); });
    this.ticking = false;
    this.recording = false; // set by recorder.js: it drives the camera, the orbit keeps out

    this.splatScale = dyno.dynoFloat(1.0);
    this.mesh = null;
    this.shown = null; // {source, numSplats, ...} of the scene on screen, once it is drawn
    this.photo = null; // {fPx, width, height} of the source photo, when known
    this.pivotDepth = 2;
    this.nearDepth = null; // depth of the nearest content (2% quantile), once measured
    this.bounds = null;
    this.pendingFrames = 0;
    this.framesDrawn = 0;
    this.rafId = 0;
    this.lastTick = 0;
    this.loadToken = 0;
    this.firstFrame = null;
    this.speed = new RenderSpeed(this.renderer.getContext()); // static/js/perf.js
    this.speed.listen(() => publishState(window.__viewerState, this.speed.summary));

    this.fly = new FlyControls({ camera: this.camera, canvas, up: UP, onChange: () => this.requestRender(),
      depth: () => this.pivotDepth });
    canvas.addEventListener("pointerdown", () => canvas.focus({ preventScroll: true })); // keys reach the canvas
    new ResizeObserver(() => this.resize()).observe(canvas.parentElement);
    this.resize();
    publishState("idle", { numSplats: 0, ...this.speed.summary });
  }

  // ------------------------------------------------------------------ rendering

  /**
   * No frame scheduled and the last one fully drawn: what is on screen is final (until the next
   * input or sort result).
   */
  get idle() {
    return !this.rafId && !this.firstFrame;
  }

  requestRender(frames = 2) {
    this.pendingFrames = Math.max(this.pendingFrames, frames);
    if (!this.rafId) this.schedule();
  }

  schedule() {
    this.rafId = requestAnimationFrame((now) => this.tick(now));
  }

  /**
   * One animation frame: draw if a frame is wanted and the GPU has finished the previous one.
   * Without that wait, software WebGL (seconds per frame) queued every frame of a drag and kept
   * drawing them for minutes after the input stopped (see RenderSpeed in perf.js).
   */
  tick(now) {
    this.rafId = 0;
    if (this.speed.busy()) {
      this.schedule(); // the previous frame is still being drawn
    } else if (this.pendingFrames || this.firstFrame) {
      this.drawFrame(now);
      this.schedule(); // the next frame, or a look at this one's fence
    } else {
      this.lastTick = 0; // that was a last look at the final frame's fence
    }
  }

  drawFrame(now) {
    this.framesDrawn++; // for people and tests: how long the loop runs after an input
    const elapsed = this.lastTick ? Math.min(1, (now - this.lastTick) / 1000) : 0;
    this.lastTick = now;
    this.ticking = true;
    let moving = false;
    if (this.flying) moving = this.fly.update(Math.min(0.1, elapsed));
    else if (!this.recording) moving = this.orbit.step(elapsed);
    this.ticking = false;
    this.renderer.render(this.scene, this.camera);
    this.speed.submitted();
    if (this.firstFrame) this.checkFirstFrame();
    this.pendingFrames = Math.max(moving ? 1 : 0, this.pendingFrames - 1);
  }

  /**
   * The view as a PNG data URL, drawn and read in one task (the drawing buffer is intact then).
   * Tests read pixels this way instead of through a compositor screenshot, which can stall a
   * software-rendered, loaded machine past chromedriver's 10 s renderer limit.
   */
  capture() {
    this.renderer.render(this.scene, this.camera);
    return this.canvas.toDataURL("image/png");
  }

  /** Right after a draw (same task, so the drawing buffer is intact): are splats on screen? */
  checkFirstFrame() {
    const gl = this.renderer.getContext();
    const w = gl.drawingBufferWidth;
    const h = gl.drawingBufferHeight;
    const pixels = new Uint8Array(w * h * 4);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
    const bg = [BACKGROUND.r, BACKGROUND.g, BACKGROUND.b].map((c) => Math.round(c * 255));
    let lit = 0;
    for (let i = 0; i < pixels.length; i += 16) { // every 4th pixel is plenty
      if (Math.abs(pixels[i] - bg[0]) + Math.abs(pixels[i + 1] - bg[1]) + Math.abs(pixels[i + 2] - bg[2]) > 24) lit++;
    }
    const { resolve, started } = this.firstFrame;
    const timedOut = performance.now() - started > READY_TIMEOUT_MS;
    if (lit > (w * h) / 4 / 1000 || timedOut) {
      this.firstFrame = null;
      resolve({ blank: lit === 0, firstFrameAt: performance.now() });
    }
  }

  resize() {
    const parent = this.canvas.parentElement;
    const width = Math.max(1, parent.clientWidth);
    const height = Math.max(1, parent.clientHeight);
    this.renderer.setSize(width, height, false);
    this.orbit.resize(width, height);
    this.camera.aspect = width / height;
    this.applyFov();
    this.requestRender();
  }

  /** The photo's vertical FOV, widened when the canvas is narrower than the photo ("contain"). */
  applyFov() {
    if (this.photo) {
      const halfH = this.photo.height / (2 * this.photo.fPx);
      const halfW = this.photo.width / (2 * this.photo.fPx);
      const tanHalf = Math.max(halfH, halfW / this.camera.aspect);
      this.camera.fov = THREE.MathUtils.radToDeg(2 * Math.atan(tanHalf));
    } else {
      this.camera.fov = DEFAULT_FOV;
    }
    this.camera.updateProjectionMatrix();
  }

  // ------------------------------------------------------------------ loading

  /**
   * Show a scene. bytes: the .ply or .spz file; camera: {fPx, width, height} of its photo, or
   * null for a scene of unknown origin (then the view frames the whole scene). keepView: keep
   * the camera where it is (a progressive job's final scene replacing its draft: the user may
   * have moved). The scene on screen stays until the new one is parsed, so a file that cannot
   * be read leaves it there: the state goes back to "ready" with its numbers and the error
   * (onStatus("error", {kept: true})); with nothing to keep the state is "error".
   * Resolves with timings once splats are on screen.
   */
  async load({ bytes, fileName, camera, source, keepView = false }) {
    const token = ++this.loadToken;
    const t0 = performance.now();
    publishState("loading", { source, numSplats: 0 });
    this.onStatus("loading");
    const fileType = /\.spz$/i.test(fileName) ? SplatFileType.SPZ : SplatFileType.PLY;
    let mesh;
    try {
      mesh = new SplatMesh({ fileBytes: bytes, fileName, fileType });
      await mesh.initialized;
    } catch (err) {
      if (token === this.loadToken) {
        const error = String(err?.message || err);
        const kept = Boolean(this.mesh);
        publishState(kept ? "ready" : "error", kept ? { ...this.shown, error } : { error });
        this.onStatus("error", { kept, error, ...(kept ? this.shown : {}) });
      }
      throw err;
    }
    if (token !== this.loadToken) {
      mesh.dispose();
      return null; // a newer load started meanwhile
    }
    const t1 = performance.now();
    if (this.mesh) {
      this.scene.remove(this.mesh);
      this.mesh.dispose();
    }
    this.mesh = mesh;
    this.shown = null;
    this.bounds = null;
    this.nearDepth = null;
    this.installSplatScale(mesh);
    this.scene.add(mesh);
    this.photo = camera && camera.fPx > 0 ? camera : null;
    if (keepView) {
      this.requestRender();
    } else if (this.photo) {
      // The photo's camera needs no knowledge of the scene: show it first, measure afterwards.
      this.pivotDepth = 2;
      this.resetView();
    } else {
      this.fitScene(true); // measures the scene first
    }

    const frame = await new Promise((resolve) => {
      this.firstFrame = { resolve, started: performance.now() };
      this.requestRender();
    });
    if (token !== this.loadToken) return null;
    const numSplats = mesh.packedSplats?.numSplats ?? 0;
    const timings = {
      parseMs: Math.round(t1 - t0),
      firstFrameMs: Math.round(frame.firstFrameAt - t1),
      totalMs: Math.round(frame.firstFrameAt - t0),
    };
    this.shown = { source, numSplats, blank: frame.blank, ...timings };
    publishState("ready", { ...this.shown, error: null, ...this.speed.summary });
    this.onStatus("ready", { numSplats, ...timings });
    setTimeout(() => {
      if (token !== this.loadToken || keepView) return;
      // Still at the photo's pose (OrbitControls' update leaves ~1e-16 m, never exactly 0)?
      const atPhotoPose = this.photo && !this.flying && this.camera.position.lengthSq() < 1e-12;
      this.ensureMeasured();
      if (atPhotoPose) {
        this.orbit.target.set(0, 0, this.pivotDepth);
        this.orbit.anchor(true, this.nearDepth); // the bounds scale with the measured depths
        this.orbit.update();
      }
    }, 0);
    return { numSplats, ...timings };
  }

  ensureMeasured() {
    if (this.bounds || !this.mesh) return;
    const t = performance.now();
    this.measureScene(this.mesh);
    publishState(window.__viewerState, { measureMs: Math.round(performance.now() - t) });
  }

  /** The splat-size slider: one shader uniform multiplying every Gaussian's scales. */
  installSplatScale(mesh) {
    const scaleUniform = this.splatScale;
    mesh.objectModifier = dyno.dynoBlock({ gsplat: dyno.Gsplat }, { gsplat: dyno.Gsplat }, ({ gsplat }) => {
      const { scales } = dyno.splitGsplat(gsplat).outputs;
      return { gsplat: dyno.combineGsplat({ gsplat, scales: dyno.mul(scales, scaleUniform) }) };
    });
    mesh.updateGenerator();
  }

  setSplatScale(value) {
    this.splatScale.value = value;
    if (this.mesh) this.mesh.updateVersion();
    this.requestRender();
  }

  /** Robust extent (2nd..98th percentile of the centres) and a typical depth to orbit around. */
  measureScene(mesh) {
    const total = mesh.packedSplats?.numSplats ?? 0;
    const stride = Math.max(1, Math.ceil(total / SAMPLE_LIMIT));
    const xs = [], ys = [], zs = [];
    mesh.forEachSplat((index, center) => {
      if (index % stride !== 0) return;
      xs.push(center.x); ys.push(center.y); zs.push(center.z);
    });
    const sort = (a) => Float64Array.from(a).sort();
    const [sx, sy, sz] = [sort(xs), sort(ys), sort(zs)];
    const lo = new THREE.Vector3(quantile(sx, 0.02), quantile(sy, 0.02), quantile(sz, 0.02));
    const hi = new THREE.Vector3(quantile(sx, 0.98), quantile(sy, 0.98), quantile(sz, 0.98));
    this.bounds = new THREE.Box3(lo, hi);
    const ahead = sz.filter((z) => z > 0);
    this.pivotDepth = ahead.length ? Math.max(0.1, quantile(ahead, 0.5)) : Math.max(1, hi.distanceTo(lo) / 2);
    this.nearDepth = ahead.length ? quantile(ahead, 0.02) : null;
  }

  // ------------------------------------------------------------------ camera commands

  /** The photo's own viewpoint (or a framed view for scenes without a known photo). */
  resetView() {
    if (!this.photo) {
      this.camera.position.set(0, 0, 0);
      this.camera.lookAt(FORWARD);
      this.fitScene(true);
      return;
    }
    this.camera.position.set(0, 0, 0);
    this.camera.up.copy(UP);
    this.camera.lookAt(FORWARD);
    this.applyFov();
    this.orbit.target.set(0, 0, this.pivotDepth);
    this.orbit.anchor(true, this.nearDepth);
    this.orbit.update();
    this.requestRender();
  }

  /** Frame the robust bounds of the scene, keeping the current viewing direction. */
  fitScene(fromPhotoDirection = false) {
    this.ensureMeasured();
    if (!this.bounds) return;
    this.applyFov();
    const center = this.bounds.getCenter(new THREE.Vector3());
    const radius = Math.max(1e-3, this.bounds.getSize(new THREE.Vector3()).length() / 2);
    const direction = fromPhotoDirection ? FORWARD.clone() : this.camera.getWorldDirection(new THREE.Vector3());
    const vFov = THREE.MathUtils.degToRad(this.camera.fov);
    const hFov = 2 * Math.atan(Math.tan(vFov / 2) * this.camera.aspect);
    const distance = radius / Math.sin(Math.min(vFov, hFov) / 2);
    this.camera.position.copy(center).addScaledVector(direction, -distance);
    this.camera.up.copy(UP);
    this.camera.lookAt(center);
    this.orbit.target.copy(center);
    this.orbit.anchor(Boolean(this.photo)); // bounded only with a known photo: see orbit.js
    this.orbit.update();
    this.requestRender();
  }

  /** "Free orbit": lift the front-view bounds, or bring them back (and the photo's pose with them). */
  setFreeOrbit(on) {
    this.orbit.setFree(on);
    if (!on && this.mesh) this.resetView();
    this.requestRender();
  }

  get freeOrbit() {
    return this.orbit.free;
  }

  zoom(factor) {
    const offset = this.camera.position.clone().sub(this.orbit.target).multiplyScalar(factor);
    this.camera.position.copy(this.orbit.target).add(offset);
    this.orbit.update();
    this.requestRender();
  }

  // ------------------------------------------------------------------ fly mode (static/js/fly.js)

  get flying() {
    return this.fly.active;
  }

  setFlying(on) {
    this.ensureMeasured(); // fly speed and the orbit pivot scale with the scene
    this.fly.setActive(on);
    this.orbit.enabled = !on;
    if (!on) {
      // Orbit around the point straight ahead, at the scene's typical depth.
      const ahead = this.camera.getWorldDirection(new THREE.Vector3());
      this.orbit.target.copy(this.camera.position).addScaledVector(ahead, this.pivotDepth);
      this.orbit.anchor(Boolean(this.photo)); // bounded only with a known photo: see orbit.js
      this.orbit.update();
    }
    this.requestRender();
  }
}
