// "This browser draws slowly" notice and the "Lighter view" it offers (issue 16 item 7).
//
// Where WebGL has no graphics card behind it (SwiftShader, llvmpipe) a default scene takes
// seconds per frame, and a drag feels broken. The viewer measures that (static/js/perf.js); this
// module says so under the toolbar and offers to show fewer Gaussians: the service's own reduced
// scene (GET <viewer url>?max_gaussians=N, the most important Gaussians first, as the export
// panel's density presets). Only the viewer's copy is reduced: the download links keep pointing
// at the full scene. Once chosen, it stays on for the next scenes of the session (main.js fetches
// every service scene through urlFor()); scenes opened from files are shown as they are.

import { onLanguageChange, t } from "./i18n.js";

const SHARE = 0.25; // of the full scene's Gaussians
const MOST = 150000; // a default 1536 px scene (~1.2 M) drops to this
const FEWEST = 5000; // below this the scene is light already

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

/** How many Gaussians the lighter view keeps of `total` (null: not worth reducing). */
export function lighterCount(total) {
  const count = Math.min(MOST, Math.max(FEWEST, Math.round(total * SHARE)));
  return total > 0 && count < total ? count : null;
}

function withMax(url, max) {
  return `${url}${url.includes("?") ? "&" : "?"}max_gaussians=${max}`;
}

class LighterView {
  /** viewer: the SceneViewer; before: the element the notice goes in front of; current(): the
   * history entry on screen; show(entry): main.js's way to (re)load an entry. */
  constructor(viewer, before, { current, show }) {
    this.viewer = viewer;
    this.current = current;
    this.show = show;
    this.on = false;
    this.text = el("span", { id: "slow-text" });
    this.button = el("button", { id: "lighter-button", className: "tool", type: "button" });
    this.button.setAttribute("aria-pressed", "false");
    this.button.addEventListener("click", () => this.toggle());
    this.notice = el("div", { id: "slow-notice", className: "viewer-notice", hidden: true }, this.text, this.button);
    this.notice.setAttribute("role", "status");
    before.before(this.notice);
    viewer.speed.listen(() => this.render());
    onLanguageChange(() => this.render());
    this.render();
  }

  /** The address main.js fetches a service scene's viewer copy from. */
  urlFor(entry) {
    const count = this.on ? lighterCount(entry.numGaussians) : null;
    return count ? withMax(entry.viewerUrl, count) : entry.viewerUrl;
  }

  async toggle() {
    this.on = !this.on;
    this.render();
    const entry = this.current();
    if (entry && entry.kind === "result" && lighterCount(entry.numGaussians)) await this.show(entry);
  }

  render() {
    const speed = this.viewer.speed;
    this.notice.hidden = !speed.slow && !this.on;
    const entry = this.current();
    const reducible = !entry || (entry.kind === "result" && lighterCount(entry.numGaussians));
    this.text.textContent = [
      speed.software ? t("viewer.slowSoftware") : t("viewer.slowFrames", { ms: speed.frameMs ?? "?" }),
      t(this.on ? "viewer.lighterOn" : "viewer.lighterOff"),
    ].join(" ");
    this.button.textContent = t("viewer.lighter");
    this.button.title = t(reducible ? "viewer.lighterTitle" : "viewer.lighterFile");
    this.button.setAttribute("aria-pressed", String(this.on));
  }
}

/** The notice, in front of `before`; returns it (main.js asks it for urlFor(entry)). */
export function initLighterView(viewer, before, options) {
  return new LighterView(viewer, before, options);
}
