// How fast this browser draws the viewer: a fence after each frame, so the viewer draws the next
// one only once the GPU has finished the last, and so the page can say when drawing is slow.
//
// Why the fence: WebGL calls return at once and the GPU works through them later. With a software
// rasteriser (SwiftShader, llvmpipe: no graphics card, seconds per frame for a default scene) the
// browser kept accepting frames during a drag and then drew them for minutes; a read of the
// canvas (a screenshot, a video frame) waited behind all of them.
//
// Two signs of a slow browser: the WebGL renderer is a software one, or the viewer's own frames
// (submit to fence signalled) take longer than SLOW_MS whatever the renderer says.

const SOFTWARE = /swiftshader|llvmpipe|softpipe|software|basic render driver/i;
const SLOW_MS = 200; // a frame slower than this makes dragging feel broken
const SAMPLES = 8; // frame times kept (the median of them counts)
const MIN_SAMPLES = 3;

/** The WebGL renderer's name, unmasked where the browser allows it ("" if it says nothing). */
export function rendererName(gl) {
  try {
    const info = gl.getExtension("WEBGL_debug_renderer_info");
    return String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) || "");
  } catch {
    return "";
  }
}

export class RenderSpeed {
  constructor(gl) {
    this.gl = gl;
    this.fence = null;
    this.fenceAt = 0;
    this.renderer = rendererName(gl);
    this.software = SOFTWARE.test(this.renderer);
    this.times = [];
    this.listeners = new Set();
    this.wasSlow = this.slow;
  }

  /** Right after a frame's draw calls: fence them (WebGL 2; without fences nothing waits). */
  submitted() {
    const gl = this.gl;
    if (!gl.fenceSync || gl.isContextLost()) return;
    if (this.fence) gl.deleteSync(this.fence);
    this.fence = gl.fenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0);
    this.fenceAt = performance.now();
    gl.flush();
  }

  /** Is the GPU still drawing the last frame? Once it is done, its time counts as a sample. */
  busy() {
    if (!this.fence) return false;
    const gl = this.gl;
    if (!gl.isContextLost() && gl.getSyncParameter(this.fence, gl.SYNC_STATUS) !== gl.SIGNALED) return true;
    if (!gl.isContextLost()) gl.deleteSync(this.fence);
    this.fence = null;
    this.record(performance.now() - this.fenceAt);
    return false;
  }

  /** Median of the recent back-to-back frame times in ms, or null before there are enough. */
  get frameMs() {
    if (this.times.length < MIN_SAMPLES) return null;
    const sorted = [...this.times].sort((a, b) => a - b);
    return Math.round(sorted[Math.floor(sorted.length / 2)]);
  }

  /** Software rendering, or measured frames too slow for a smooth drag. */
  get slow() {
    return this.software || (this.frameMs ?? 0) > SLOW_MS;
  }

  /** One frame took `ms` to draw; listeners hear when "slow" flips. */
  record(ms) {
    this.times.push(ms);
    if (this.times.length > SAMPLES) this.times.shift();
    if (this.slow !== this.wasSlow) {
      this.wasSlow = this.slow;
      for (const listener of this.listeners) listener(this);
    }
  }

  /** Call `listener(speed)` whenever "slow" changes; returns it, for convenience. */
  listen(listener) {
    this.listeners.add(listener);
    return listener;
  }

  get summary() {
    return { renderer: this.renderer, software: this.software, frameMs: this.frameMs, slow: this.slow };
  }
}
