// The viewer's orbit: three.js OrbitControls, bounded by default to where a single-photo scene
// holds up, and settling in time rather than in frames.
//
// Why bounded: a scene made from one photo only exists near that photo's viewpoint. Swinging the
// camera 110° (what a 220 px drag did with the stock speed) shows a sliver of the scene, and
// dollying far in or out shows black. So, around the pose the orbit starts from (the photo's pose
// after a load or a reset; the framed pose after Fit; where fly mode left the camera), see FRONT: azimuth within ±azimuthDeg; the camera may rise upDeg but
// sink only downDeg (below the photo's eye a scene soon shows the underside of its ground); the
// distance to the pivot between closer and farther times the start distance, and no closer than
// nearShare of the way to the nearest content; the pivot within pan times the start distance of
// where it started; a drag across the canvas spans about the allowed azimuth range, whatever the
// canvas size. setFree(true) lifts all of it.
//
// The figures come from the test photo (tests/ui/ui_helpers.py shapes_photo, preview backend):
// at each bound alone the scene still covers >= 70% (azimuth, rise), ~55% (sink, zoom out) of a
// canvas it fills 79% of at the photo's pose; past them coverage and shape fall off quickly.
//
// Why time-based settling: OrbitControls' damping decays per update, i.e. per frame. With software
// WebGL at seconds per frame, ~40 frames of decay meant minutes of redrawing after one drag. Here
// the damping factor follows the real time between frames, and step() reports "still moving"
// only while the camera moves at least SETTLE_PX on screen.
//
// Orbit axes: the camera's up is -y (OpenCV), and OrbitControls measures azimuth (theta) and
// polar angle (phi) in a frame rotated so that up becomes +y; anchor() does the same rotation.

import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";

export const FRONT = Object.freeze({
  azimuthDeg: 25, // left/right of the start pose
  upDeg: 25, // camera rising above it (looking down on the scene)
  downDeg: 10, // camera sinking below it
  closer: 0.5, // nearest distance to the pivot, as a share of the start distance
  nearShare: 0.6, // and at most this share of the way to the nearest content (when known)
  farther: 1.25, // farthest distance to the pivot, as a share of the start distance
  pan: 0.2, // how far the pivot may move, as a share of the start distance
});
const DAMPING_PER_60HZ_FRAME = 0.12; // the stock feel at 60 fps
const SETTLE_PX = 0.5; // below this much on-screen motion per frame the view counts as still
const Y_UP = new THREE.Vector3(0, 1, 0);

function wrapAngle(a) {
  return Math.atan2(Math.sin(a), Math.cos(a)); // to (-pi, pi]
}

export class BoundedOrbitControls extends OrbitControls {
  constructor(camera, canvas) {
    super(camera, canvas);
    this.enableDamping = true;
    this.dampingFactor = DAMPING_PER_60HZ_FRAME;
    this.free = false;
    this.anchorAngles = null; // {theta, phi} of the start pose, in OrbitControls' y-up frame
    this.anchorDistance = 0;
    this.anchorClosest = 0;
    this.canvasSize = { width: 1, height: 1 };
    this._prevPosition = new THREE.Vector3();
    this._prevQuaternion = new THREE.Quaternion();
  }

  /** The camera's current azimuth and polar angle about the pivot (OrbitControls' convention). */
  angles() {
    const offset = this.object.position.clone().sub(this.target);
    offset.applyQuaternion(new THREE.Quaternion().setFromUnitVectors(this.object.up, Y_UP));
    const spherical = new THREE.Spherical().setFromVector3(offset);
    return { theta: spherical.theta, phi: spherical.phi, radius: spherical.radius };
  }

  /**
   * Bound the orbit around the current pose (camera position and target as they are now), or,
   * with bounded = false, not at all: a scene of unknown origin may be a full capture that is
   * meant to be walked around, and only a scene with its photo is known to be one-sided.
   * near: the depth of the nearest content straight ahead, when known (at the photo's pose).
   */
  anchor(bounded = true, near = null) {
    const { theta, phi, radius } = this.angles();
    this.anchorAngles = bounded ? { theta, phi } : null;
    this.anchorDistance = radius;
    this.anchorClosest = Math.max(FRONT.closer * radius, near > 0 ? radius - FRONT.nearShare * near : 0);
    this.cursor.copy(this.target);
    this.applyLimits();
  }

  /** Lift (true) or restore (false) the bounds; the caller decides where the camera goes. */
  setFree(on) {
    this.free = on;
    this.applyLimits();
  }

  applyLimits() {
    const bounded = !this.free && this.anchorAngles;
    const rad = THREE.MathUtils.degToRad;
    const { theta, phi } = this.anchorAngles || { theta: 0, phi: Math.PI / 2 };
    this.minAzimuthAngle = bounded ? theta - rad(FRONT.azimuthDeg) : -Infinity;
    this.maxAzimuthAngle = bounded ? theta + rad(FRONT.azimuthDeg) : Infinity;
    // phi is measured from "up": rising makes it smaller.
    this.minPolarAngle = bounded ? Math.max(0, phi - rad(FRONT.upDeg)) : 0;
    this.maxPolarAngle = bounded ? Math.min(Math.PI, phi + rad(FRONT.downDeg)) : Math.PI;
    this.minDistance = bounded ? this.anchorClosest : 0;
    this.maxDistance = bounded ? this.anchorDistance * FRONT.farther : Infinity;
    this.maxTargetRadius = bounded ? this.anchorDistance * FRONT.pan : Infinity;
    this.applySpeed();
  }

  /** Canvas size in CSS pixels: a drag across the canvas spans about the allowed azimuth range. */
  resize(width, height) {
    this.canvasSize = { width: Math.max(1, width), height: Math.max(1, height) };
    this.applySpeed();
  }

  applySpeed() {
    const { width, height } = this.canvasSize;
    // OrbitControls turns 2*pi*rotateSpeed radians per canvas height dragged.
    const range = 2 * THREE.MathUtils.degToRad(FRONT.azimuthDeg);
    this.rotateSpeed = this.free || !this.anchorAngles ? 1 : (range * height) / (2 * Math.PI * width);
  }

  // A drag that pushes past a bound must not pile up: OrbitControls would keep the excess in its
  // damping delta and the view would stick at the bound until it decayed. Only what still fits is added.
  _rotateLeft(angle) {
    if (isFinite(this.minAzimuthAngle) && this.anchorAngles) {
      const half = THREE.MathUtils.degToRad(FRONT.azimuthDeg);
      const now = wrapAngle(this.angles().theta - this.anchorAngles.theta) + this._sphericalDelta.theta;
      angle = now - THREE.MathUtils.clamp(now - angle, -half, half);
    }
    super._rotateLeft(angle);
  }

  _rotateUp(angle) {
    if (this.anchorAngles && !this.free) {
      const now = this.angles().phi + this._sphericalDelta.phi;
      angle = now - THREE.MathUtils.clamp(now - angle, this.minPolarAngle, this.maxPolarAngle);
    }
    super._rotateUp(angle);
  }

  /**
   * One frame's worth of damped motion, dt seconds after the previous frame (0 for the first).
   * True while the camera still moves visibly; false once it has settled (or did not move).
   */
  step(dt) {
    const frames = Math.max(1, Math.min(60, dt * 60));
    this.dampingFactor = 1 - Math.pow(1 - DAMPING_PER_60HZ_FRAME, frames);
    this._prevPosition.copy(this.object.position);
    this._prevQuaternion.copy(this.object.quaternion);
    if (!this.update()) return false;
    const turned = 2 * Math.acos(Math.min(1, Math.abs(this._prevQuaternion.dot(this.object.quaternion))));
    const distance = Math.max(1e-6, this.object.position.distanceTo(this.target));
    const shifted = this._prevPosition.distanceTo(this.object.position) / distance;
    const pxPerRadian = this.canvasSize.height / THREE.MathUtils.degToRad(this.object.fov || 60);
    return (turned + shifted) * pxPerRadian >= SETTLE_PX;
  }
}
