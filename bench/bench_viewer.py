"""How big and how fast is the viewer's scene? Prints figures, asserts nothing.

    python bench/bench_viewer.py [--gaussians 1179648] [--timeout 600] [--no-browser]

1. Synthesises two scenes of N Gaussians (default 1,179,648 = 2 x 768 x 768, SHARP's output size)
   with ``save_ply``: a photo-like one (two smooth layers, neighbours alike, as real scenes are)
   and pure random Gaussians (the worst case for compression).
2. Converts each with the export registry (``sharpnet.io.registry``): size ratio and conversion time.
3. Loads the photo-like scene as .spz and as .ply into the real page (static/, served locally)
   in headless Chromium, through the page's own viewer, and reports: download (fetch from
   localhost), parse (Spark's worker decodes the file), first frame (until splats are on
   screen: the ready signal), then the centre sampling the page does afterwards for the orbit
   pivot and fit-to-scene, and when the first *complete* frame is on screen (the ready frame may
   be drawn before Spark's first depth sort of all splats lands). On a machine without a GPU,
   Chromium renders in software (SwiftShader): a complete frame of a million splats then takes
   tens of seconds, far slower than on any real GPU, so read that column as a ceiling.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import chromium_paths, load_scene_js, make_driver, serve
from sharpnet.gaussians import Gaussians
from sharpnet.io.ply import save_ply
from sharpnet.io.registry import export_file, scene_from_ply

WIDTH, HEIGHT, F_PX = 1024, 768, 900.0


def photo_like(n: int) -> Gaussians:
    """Two layers of a smooth synthetic photo lifted onto a smooth depth map."""
    side = int(np.ceil(np.sqrt(n / 2)))
    v, u = np.mgrid[0:side, 0:side].astype(np.float32) / side
    layers = []
    for layer in range(2):
        depth = (2.0 + 3.0 * v + 0.5 * np.sin(6 * u) + layer * 0.4).ravel()
        x = (u.ravel() * WIDTH - WIDTH / 2) / F_PX * depth
        y = (v.ravel() * HEIGHT - HEIGHT / 2) / F_PX * depth
        footprint = depth * (WIDTH / side) / F_PX * 0.6
        colors = np.stack([0.5 + 0.4 * np.sin(5 * u + layer), 0.5 + 0.4 * np.cos(4 * v), 0.3 + 0.3 * u * v], -1)
        layers.append((np.stack([x, y, depth], 1), footprint, colors.reshape(-1, 3)))
    means = np.concatenate([m for m, _, _ in layers])[:n]
    foot = np.concatenate([f for _, f, _ in layers])[:n]
    return Gaussians(
        mean_vectors=means.astype(np.float32),
        singular_values=np.stack([foot, foot, foot * 0.2], 1).astype(np.float32),
        quaternions=np.tile(np.array([1, 0, 0, 0], np.float32), (n, 1)),
        colors=np.concatenate([c for _, _, c in layers])[:n].astype(np.float32),
        opacities=np.full(n, 0.9, np.float32),
    )


def random_scene(n: int, seed: int = 0) -> Gaussians:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, 4)).astype(np.float32)
    return Gaussians(
        mean_vectors=rng.uniform(-10, 10, (n, 3)).astype(np.float32) + np.float32([0, 0, 15]),
        singular_values=np.exp(rng.uniform(-6, -1, (n, 3))).astype(np.float32),
        quaternions=q / np.linalg.norm(q, axis=1, keepdims=True),
        colors=rng.uniform(0, 1, (n, 3)).astype(np.float32),
        opacities=rng.uniform(0.05, 0.95, n).astype(np.float32),
    )


def convert(name: str, scene: Gaussians, folder: Path, repeat: int) -> tuple[Path, Path]:
    ply = save_ply(scene, F_PX, WIDTH, HEIGHT, folder / f"{name}.ply")
    spz = folder / f"{name}.spz"
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        export_file(scene_from_ply(ply), "spz", spz)
        times.append(time.perf_counter() - t)
    seconds = float(np.median(times))
    a, b = ply.stat().st_size, spz.stat().st_size
    print(f"{name:>11}: {len(scene):,} Gaussians  PLY {a / 1e6:6.1f} MB  SPZ {b / 1e6:5.1f} MB  "
          f"ratio {a / b:4.1f}x ({100 * b / a:4.1f}%)  convert {seconds:4.2f} s (median of {repeat})")
    return ply, spz


LOAD_JS = load_scene_js(F_PX, WIDTH, HEIGHT)




def browser_load(files: list[Path], base: str, timeout: int, profile: Path, repeat: int) -> None:
    from selenium.webdriver.support.ui import WebDriverWait


    paths = chromium_paths()
    if isinstance(paths, str):
        print(f"browser: skipped ({paths})")
        return
    print(f"\nbrowser load of the photo-like scene through the page's viewer (1280x860 window, "
          f"{repeat} loads each, median; timeout {timeout} s):")
    for path in files:
        driver = make_driver(*paths, profile / path.suffix.strip("."), profile / "dl")
        runs = []
        try:
            driver.set_script_timeout(timeout)
            driver.get(base)
            WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return !!window.__mlsharpViewer"))
            for _ in range(repeat):
                t = time.perf_counter()
                try:
                    r = driver.execute_async_script(LOAD_JS, f"{base}scenes/{path.name}", path.name)
                except Exception as exc:  # noqa: BLE001 - a timeout is a figure too
                    print(f"  {path.suffix:>4}: no ready signal within {timeout} s ({type(exc).__name__}); "
                          f"state={driver.execute_script('return window.__viewerState')}")
                    break
                if "error" in r:
                    print(f"  {path.suffix:>4}: error {r['error']}")
                    break
                r["wall"] = time.perf_counter() - t
                # The page samples the centres right after the first frame (off the critical path).
                WebDriverWait(driver, timeout).until(
                    lambda d: (d.execute_script("return window.__viewerInfo") or {}).get("measureMs") is not None)
                r["measureMs"] = driver.execute_script("return window.__viewerInfo.measureMs")
                driver.execute_script("window.__viewerInfo.measureMs = null")
                runs.append(r)
            renderer = driver.execute_script(
                "const gl = window.__mlsharpViewer.renderer.getContext();"
                "const ext = gl.getExtension('WEBGL_debug_renderer_info');"
                "return ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);")
        finally:
            driver.quit()
        if not runs:
            continue

        def med(key: str) -> float:
            return float(np.median([run[key] for run in runs]))

        walls = ", ".join(f"{run['wall']:.2f}" for run in runs)
        print(f"  {path.suffix:>4} ({path.stat().st_size / 1e6:5.1f} MB): download {med('fetchMs'):6.0f} ms  "
              f"parse {med('parseMs'):6.0f} ms  first frame {med('firstFrameMs'):6.0f} ms  "
              f"= ready after {med('wall'):5.2f} s  (runs: {walls} s); "
              f"complete frame after {med('fullFrameMs') / 1000:5.2f} s; then centre sampling {med('measureMs'):4.0f} ms")
        print(f"        {runs[0]['numSplats']:,} splats, blank={runs[0]['blank']}, renderer: {renderer}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gaussians", type=int, default=2 * 768 * 768)
    parser.add_argument("--timeout", type=int, default=600, help="seconds to wait for each ready signal")
    parser.add_argument("--repeat", type=int, default=3, help="conversions and browser loads per format")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-viewer-") as tmp:
        folder = Path(tmp)
        ply, spz = convert("photo-like", photo_like(args.gaussians), folder, args.repeat)
        rply, rspz = convert("random", random_scene(args.gaussians), folder, args.repeat)
        rply.unlink()
        rspz.unlink()
        if not args.no_browser:
            server, base = serve(folder)
            try:
                browser_load([spz, ply], base, args.timeout, folder, args.repeat)
            finally:
                server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
