// "View in VR": an immersive WebXR session of the scene, offered only where the browser says it
// can start one. SHARP's scene is in OpenCV axes (y down, z forward); a headset's world is y up
// with the viewer looking down -z, so the scene is turned half a turn about x for the session.

import * as THREE from "three";

export async function vrSupported() {
  try {
    return Boolean(navigator.xr && (await navigator.xr.isSessionSupported("immersive-vr")));
  } catch {
    return false;
  }
}

export async function enterVr(viewer) {
  const session = await navigator.xr.requestSession("immersive-vr", { optionalFeatures: ["local-floor"] });
  const { renderer, scene, camera, mesh } = viewer;
  const saved = mesh ? mesh.quaternion.clone() : null;
  if (mesh) mesh.quaternion.setFromAxisAngle(new THREE.Vector3(1, 0, 0), Math.PI);
  renderer.xr.enabled = true;
  await renderer.xr.setSession(session);
  renderer.setAnimationLoop(() => renderer.render(scene, camera));
  session.addEventListener("end", () => {
    renderer.setAnimationLoop(null);
    renderer.xr.enabled = false;
    if (mesh && saved) mesh.quaternion.copy(saved);
    viewer.resize();
  });
}
