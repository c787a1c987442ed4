// Fly mode for the 3D view: WASD moves, Q/E go down/up, a drag or the arrow keys look around,
// Shift moves faster. Kept apart from viewer.js so the viewer only asks it two things: "did the
// camera move this frame?" (update) and whether it is on (active), while the orbit controls own
// every other pointer gesture.
//
// Axes follow SHARP's OpenCV frame (y down), so the world's "up" is -y; the speed is a share of
// the scene's typical depth so a room and a landscape both feel walkable.

import * as THREE from "three";

const LOOK_SPEED = 0.004; // radians per pixel dragged
const KEY_LOOK_SPEED = 1.2; // radians per second with the arrow keys
const MAX_PITCH = 1.45; // radians; stops short of the poles, where yaw would flip
const MOVE_KEYS = "wasdqe";

function keyName(e) {
  return e.key.length === 1 ? e.key.toLowerCase() : e.key;
}

export class FlyControls {
  /**
   * camera: the three.js camera to steer; canvas: where keys and drags arrive (it must be
   * focusable); up: the world's up vector; onChange(): ask for a frame; depth(): the scene's
   * typical depth in metres (read on every step, so a late measurement still counts).
   */
  constructor({ camera, canvas, up, onChange, depth }) {
    this.camera = camera;
    this.canvas = canvas;
    this.up = up;
    this.onChange = onChange;
    this.depth = depth;
    this.active = false;
    this.keys = new Set();
    this.install();
  }

  /** Switch fly mode on or off; held keys are forgotten either way. */
  setActive(on) {
    this.active = on;
    this.keys.clear();
  }

  install() {
    const canvas = this.canvas;
    let dragging = null;
    canvas.addEventListener("pointerdown", (e) => {
      if (!this.active || e.button !== 0) return;
      dragging = { x: e.clientX, y: e.clientY };
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!dragging) return;
      this.look(e.clientX - dragging.x, e.clientY - dragging.y);
      dragging = { x: e.clientX, y: e.clientY };
    });
    const stop = () => { dragging = null; };
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    canvas.addEventListener("keydown", (e) => {
      if (!this.active || e.ctrlKey || e.metaKey || e.altKey) return;
      const key = keyName(e);
      if (MOVE_KEYS.includes(key) || key.startsWith("Arrow") || key === "Shift") {
        this.keys.add(key);
        e.preventDefault();
        this.onChange();
      }
    });
    canvas.addEventListener("keyup", (e) => this.keys.delete(keyName(e)));
    canvas.addEventListener("blur", () => this.keys.clear());
  }

  /** Yaw about the world's vertical, pitch about the camera's right axis (clamped near the poles). */
  look(dx, dy) {
    this.camera.rotateOnWorldAxis(this.up, -dx * LOOK_SPEED);
    const forward = this.camera.getWorldDirection(new THREE.Vector3());
    const pitch = Math.asin(THREE.MathUtils.clamp(forward.dot(this.up), -1, 1));
    const next = THREE.MathUtils.clamp(pitch - dy * LOOK_SPEED, -MAX_PITCH, MAX_PITCH);
    this.camera.rotateX(next - pitch);
    this.onChange();
  }

  /** One frame's movement for the held keys, dt seconds long; true while a key is held. */
  update(dt) {
    if (!this.keys.size) return false;
    const k = this.keys;
    const speed = this.depth() * 0.5 * (k.has("Shift") ? 4 : 1) * dt;
    const move = new THREE.Vector3(
      (k.has("d") ? 1 : 0) - (k.has("a") ? 1 : 0),
      (k.has("e") ? 1 : 0) - (k.has("q") ? 1 : 0),
      (k.has("s") ? 1 : 0) - (k.has("w") ? 1 : 0),
    );
    if (move.lengthSq() > 0) this.camera.translateOnAxis(move.normalize(), speed);
    const yaw = (k.has("ArrowRight") ? 1 : 0) - (k.has("ArrowLeft") ? 1 : 0);
    const pitch = (k.has("ArrowDown") ? 1 : 0) - (k.has("ArrowUp") ? 1 : 0);
    if (yaw || pitch) this.look((yaw * KEY_LOOK_SPEED * dt) / LOOK_SPEED, (pitch * KEY_LOOK_SPEED * dt) / LOOK_SPEED);
    return true;
  }
}
