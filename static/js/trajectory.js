// Camera paths for recorded videos: the four trajectories of Apple's `sharp render`
// (rotate_forward, rotate, swipe, shake), with its defaults: 60 steps, lateral amplitude from a
// maximum disparity of 0.08, forward amplitude from a maximum zoom of 0.15.
//
// Conventions (SHARP's OpenCV frame: x right, y down, z forward, the photo's camera at 0):
// * near = the 0.1% depth quantile of the scene's centres in front of the camera;
// * lateral amplitude = 0.08 x (diagonal of the image plane at unit depth, sqrt((W/f)^2 + (H/f)^2)) x near,
//   forward amplitude = 0.15 x near;
// * the eye moves on the z = 0 plane (z >= 0 for rotate_forward) and looks at the point
//   (0, 0, max(2 m, 10% depth quantile)) with "up" = -y.

export const TRAJECTORIES = ["rotate_forward", "rotate", "swipe", "shake"];
export const DEFAULTS = { steps: 60, maxDisparity: 0.08, maxZoom: 0.15, minFocus: 2.0 };

function quantile(sorted, q) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))))];
}

function linspace(a, b, n) {
  if (n <= 1) return [a];
  return Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}

/** Near and focus depths from the scene's centre depths (any order). */
export function depthRange(depths) {
  const ahead = Float64Array.from(depths.filter((z) => z > 0)).sort();
  return { near: quantile(ahead, 0.001), focus: quantile(ahead, 0.1) };
}

/**
 * Eye positions ([x, y, z] in metres) and the look-at point for one trajectory.
 * `photo` is {fPx, width, height}; `depths` the centres' z values.
 */
export function trajectory(type, photo, depths, opts = {}) {
  const { steps, maxDisparity, maxZoom, minFocus } = { ...DEFAULTS, ...opts };
  const { near, focus } = depthRange(depths);
  const diagonal = Math.hypot(photo.width / photo.fPx, photo.height / photo.fPx);
  const lateral = maxDisparity * diagonal * near;
  const forward = maxZoom * near;
  const turn = (t) => 2 * Math.PI * t;
  let eyes;
  if (type === "swipe") {
    eyes = linspace(-lateral, lateral, steps).map((x) => [x, 0, 0]);
  } else if (type === "shake") {
    const across = Math.floor(steps / 2);
    eyes = [
      ...linspace(0, 1, across).map((t) => [lateral * Math.sin(turn(t)), 0, 0]),
      ...linspace(0, 1, steps - across).map((t) => [0, lateral * Math.sin(turn(t)), 0]),
    ];
  } else if (type === "rotate") {
    eyes = linspace(0, 1, steps).map((t) => [lateral * Math.sin(turn(t)), lateral * Math.cos(turn(t)), 0]);
  } else if (type === "rotate_forward") {
    eyes = linspace(0, 1, steps).map((t) => [lateral * Math.sin(turn(t)), 0, (forward * (1 - Math.cos(turn(t)))) / 2]);
  } else {
    throw new Error(`unknown trajectory ${type}`);
  }
  return { eyes, target: [0, 0, Math.max(minFocus, focus)] };
}
