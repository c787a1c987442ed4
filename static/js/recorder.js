// Video of the scene along one of Apple's camera paths, rendered frame by frame (never in real
// time, so a slow GPU still gives a smooth video), encoded with WebCodecs: H.264 in MP4 where the
// browser can encode it, else VP9/VP8 in WebM. The muxers are vendored (tools/vendor_viewer.sh).

import * as THREE from "three";
import { Muxer as Mp4Muxer, ArrayBufferTarget as Mp4Target } from "../vendor/mp4-muxer/build/mp4-muxer.mjs";
import { Muxer as WebmMuxer, ArrayBufferTarget as WebmTarget } from "../vendor/webm-muxer/build/webm-muxer.mjs";
import { trajectory } from "./trajectory.js";

const SAMPLE_LIMIT = 200000;
const CANDIDATES = [
  { container: "mp4", codec: "avc1.640028", muxCodec: "avc", type: "video/mp4" },
  { container: "mp4", codec: "avc1.42001f", muxCodec: "avc", type: "video/mp4" },
  { container: "webm", codec: "vp09.00.10.08", muxCodec: "V_VP9", type: "video/webm" },
  { container: "webm", codec: "vp8", muxCodec: "V_VP8", type: "video/webm" },
];

/** The first codec this browser can encode at this size, or null (no WebCodecs at all). */
export async function pickCodec(width, height, fps) {
  if (typeof VideoEncoder === "undefined") return null;
  for (const candidate of CANDIDATES) {
    const config = { codec: candidate.codec, width, height, framerate: fps, bitrate: bitrateFor(width, height, fps) };
    if (candidate.muxCodec === "avc") config.avc = { format: "avc" };
    try {
      const { supported } = await VideoEncoder.isConfigSupported(config);
      if (supported) return { ...candidate, config };
    } catch {
      /* not this one */
    }
  }
  return null;
}

function bitrateFor(width, height, fps) {
  return Math.round(width * height * fps * 0.15);
}

/** Depths of (a sample of) the scene's centres, for the path's amplitude and focus. */
export function sceneDepths(mesh) {
  const total = mesh.packedSplats?.numSplats ?? 0;
  const stride = Math.max(1, Math.ceil(total / SAMPLE_LIMIT));
  const depths = [];
  mesh.forEachSplat((index, center) => {
    if (index % stride === 0) depths.push(center.z);
  });
  return depths;
}

/** Resolves once the viewer has nothing left to draw (Spark's sort for this pose is in). */
function settled(viewer) {
  return new Promise((resolve) => {
    let calm = 0;
    const check = () => {
      calm = viewer.idle ? calm + 1 : 0;
      if (calm >= 2) resolve();
      else requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  });
}

/**
 * Record `viewer`'s scene. Options: type (trajectory), width, height, fps, steps, onProgress(done,
 * total), signal (AbortSignal). Resolves with {blob, container, codec, frames}.
 */
export async function recordVideo(viewer, { type = "rotate_forward", width = 1280, height = 720, fps = 30,
  steps = 60, onProgress = () => {}, signal } = {}) {
  if (!viewer.mesh) throw new Error("no scene loaded");
  width -= width % 2;
  height -= height % 2;
  const codec = await pickCodec(width, height, fps);
  if (!codec) throw new Error("this browser cannot encode video (no WebCodecs encoder)");
  const photo = viewer.photo || { fPx: height / 2 / Math.tan(THREE.MathUtils.degToRad(viewer.camera.fov) / 2), width, height };
  const path = trajectory(type, photo, sceneDepths(viewer.mesh), { steps });

  const muxer = codec.container === "mp4"
    ? new Mp4Muxer({ target: new Mp4Target(), video: { codec: "avc", width, height, frameRate: fps }, fastStart: "in-memory" })
    : new WebmMuxer({ target: new WebmTarget(), video: { codec: codec.muxCodec, width, height, frameRate: fps } });
  let failure = null;
  const encoder = new VideoEncoder({
    output: (chunk, meta) => muxer.addVideoChunk(chunk, meta),
    error: (err) => { failure = err; },
  });
  encoder.configure(codec.config);

  const { renderer, camera, orbit } = viewer;
  const saved = { size: renderer.getSize(new THREE.Vector2()), ratio: renderer.getPixelRatio(),
    position: camera.position.clone(), target: orbit.target.clone(), fov: camera.fov, aspect: camera.aspect };
  if (viewer.flying) viewer.setFlying(false);
  viewer.recording = true;
  try {
    renderer.setPixelRatio(1);
    renderer.setSize(width, height, false);
    camera.aspect = width / height;
    camera.fov = THREE.MathUtils.radToDeg(2 * Math.atan(photo.height / 2 / photo.fPx));
    camera.updateProjectionMatrix();
    const target = new THREE.Vector3(...path.target);
    for (let i = 0; i < path.eyes.length; i++) {
      if (signal?.aborted) throw new DOMException("recording cancelled", "AbortError");
      if (failure) throw failure;
      camera.position.set(...path.eyes[i]);
      camera.up.set(0, -1, 0);
      orbit.target.copy(target);
      camera.lookAt(target);
      viewer.requestRender();
      await settled(viewer);
      camera.lookAt(target);
      renderer.render(viewer.scene, camera); // the frame, drawn and captured in one task
      const frame = new VideoFrame(renderer.domElement, { timestamp: Math.round((i * 1e6) / fps), duration: Math.round(1e6 / fps) });
      encoder.encode(frame, { keyFrame: i % (2 * fps) === 0 });
      frame.close();
      while (encoder.encodeQueueSize > 4) await new Promise((r) => setTimeout(r, 5));
      onProgress(i + 1, path.eyes.length);
    }
    await encoder.flush();
    if (failure) throw failure;
    muxer.finalize();
    const blob = new Blob([muxer.target.buffer], { type: codec.type });
    return { blob, container: codec.container, codec: codec.codec, frames: path.eyes.length, width, height };
  } finally {
    if (encoder.state !== "closed") encoder.close();
    viewer.recording = false;
    renderer.setPixelRatio(saved.ratio);
    camera.position.copy(saved.position);
    orbit.target.copy(saved.target);
    camera.fov = saved.fov;
    viewer.resize();
    orbit.update();
    viewer.requestRender();
  }
}

/** The view on screen as a PNG blob (drawn and read in one task: the drawing buffer is intact). */
export function screenshot(viewer) {
  viewer.renderer.render(viewer.scene, viewer.camera);
  return new Promise((resolve) => viewer.renderer.domElement.toBlob(resolve, "image/png"));
}
