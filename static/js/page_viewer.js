// The page's one SceneViewer (viewer.js) and who listens to its load status: the stats line
// (scenes.js) and the toolbar (toolbar.js) each register here instead of being wired together.

import { SceneViewer } from "./viewer.js";
import { $ } from "./dom.js";

const statusListeners = new Set();

export const viewer = new SceneViewer($("viewer-canvas"), {
  onStatus: (status, info) => {
    for (const fn of statusListeners) fn(status, info);
  },
});
window.__mlsharpViewer = viewer; // for debugging in the console and for tests

/** fn(status, info) on every viewer status: "loading", "ready" (with its numbers) or "error". */
export function onViewerStatus(fn) {
  statusListeners.add(fn);
}
