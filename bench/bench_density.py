"""What does density control cost? Prints figures, asserts nothing.

    python bench/bench_density.py [--gaussians 614400] [--timeout 900] [--out DIR]

1. Synthesises a SHARP-like scene (two layers on a 640x480 grid = 614,400 Gaussians by default,
   a photo-like pattern with edges; front layer opaque, back layer faint, sizes varying as
   SHARP's do) and reduces it with ``sharpnet.density`` to each page preset: 500k, 200k, 100k.
2. Per preset: the Gaussians kept and the bytes of every export format of the registry.
3. Loads each (as .spz, what the page's viewer downloads) into the real page in headless
   Chromium, at the photo's own viewpoint, and captures the first *complete* frame (after Spark's
   depth sort of all splats): PSNR and SSIM of each reduced render against the full one, and the
   time to the first frame. Without a GPU, Chromium renders in software (SwiftShader), so read
   the times as a ceiling; PSNR/SSIM do not depend on it.
"""

from __future__ import annotations

import argparse
import base64
import io
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from _common import chromium_paths, load_scene_js, make_driver, serve
from sharpnet.density import PRESETS, reduce_scene
from sharpnet.gaussians import Gaussians
from sharpnet.io.registry import FORMATS, export_bytes, export_file, scene_from_gaussians

WIDTH, HEIGHT, F_PX = 1280, 960, 1100.0
CAPTURE_JS = """
const viewer = window.__mlsharpViewer;
viewer.renderer.render(viewer.scene, viewer.camera);
return viewer.renderer.domElement.toDataURL('image/png');
"""


def sharp_like(cols: int = 640, rows: int = 480, seed: int = 0) -> Gaussians:
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:rows, 0:cols].astype(np.float32)
    u, v = (u + 0.5) / cols, (v + 0.5) / rows
    checker = ((np.floor(u * 12) + np.floor(v * 9)) % 2).astype(np.float32)
    disc = ((u - 0.6) ** 2 + (v - 0.45) ** 2 < 0.04).astype(np.float32)
    layers = []
    for layer in range(2):
        depth = 2.0 + 4.0 * v + 0.4 * np.sin(7 * u) - 1.2 * disc + 0.3 * layer
        x = (u * WIDTH - WIDTH / 2) / F_PX * depth
        y = (v * HEIGHT - HEIGHT / 2) / F_PX * depth
        cell = depth * (WIDTH / cols) / F_PX
        size = cell * np.exp(rng.normal(0.0, 0.35, depth.shape)) * (0.7 if layer == 0 else 1.4)
        colors = np.stack([0.15 + 0.7 * checker * (1 - disc) + 0.8 * disc * u,
                           0.2 + 0.5 * v + 0.2 * np.sin(9 * u + layer),
                           0.3 + 0.5 * (1 - checker) * (1 - disc)], -1)
        opacity = rng.uniform(0.6, 0.99, depth.shape) if layer == 0 else rng.uniform(0.02, 0.5, depth.shape)
        layers.append((np.stack([x, y, depth], -1).reshape(-1, 3), np.stack([size, size, size * 0.3], -1).reshape(-1, 3),
                       colors.reshape(-1, 3), opacity.ravel()))
    n = cols * rows * 2
    return Gaussians(
        mean_vectors=np.concatenate([layer[0] for layer in layers]).astype(np.float32),
        singular_values=np.concatenate([layer[1] for layer in layers]).astype(np.float32),
        quaternions=np.tile(np.float32([1, 0, 0, 0]), (n, 1)),
        colors=np.clip(np.concatenate([layer[2] for layer in layers]), 0.0, 1.0).astype(np.float32),
        opacities=np.concatenate([layer[3] for layer in layers]).astype(np.float32),
    )


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of the luminance (Gaussian window, sigma 1.5; constants of Wang et al. 2004)."""
    def luma(img: np.ndarray) -> np.ndarray:
        return img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])

    x, y = luma(a), luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = gaussian_filter(x, 1.5), gaussian_filter(y, 1.5)
    sxx = gaussian_filter(x * x, 1.5) - mx * mx
    syy = gaussian_filter(y * y, 1.5) - my * my
    sxy = gaussian_filter(x * y, 1.5) - mx * my
    value = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(value.mean())


def render_one(paths: tuple[str, str], base: str, path: Path, profile: Path, timeout: int) -> dict:
    """One scene in a fresh browser (a second scene in the same software-WebGL page is slower)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver = make_driver(*paths, profile, profile / "dl")
    try:
        driver.set_script_timeout(timeout)
        driver.command_executor.client_config.timeout = timeout  # a software frame of 600k splats is slow
        driver.get(base)
        WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return !!window.__mlsharpViewer"))
        result = driver.execute_async_script(load_scene_js(F_PX, WIDTH, HEIGHT), f"{base}scenes/{path.name}", path.name)
        if "error" not in result:
            png = base64.b64decode(driver.execute_script(CAPTURE_JS).split(",", 1)[1])
            result["image"] = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
            result["renderer"] = driver.execute_script(
                "const gl = window.__mlsharpViewer.renderer.getContext();"
                "const ext = gl.getExtension('WEBGL_debug_renderer_info');"
                "return ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);")
        return result
    finally:
        driver.quit()


def render_all(spz_files: dict[str, Path], folder: Path, timeout: int) -> dict[str, dict]:
    paths = chromium_paths()
    if isinstance(paths, str):
        print(f"browser: skipped ({paths})")
        return {}
    server, base = serve(folder)
    out = {}
    try:
        for label, path in spz_files.items():
            result = render_one(paths, base, path, folder / f"profile-{label}", timeout)
            if "error" in result:
                print(f"  {label}: error {result['error']}")
                continue
            Image.fromarray(result["image"]).save(folder / f"render-{label}.png")
            out[label] = result
    finally:
        server.shutdown()
    if out:
        print(f"renderer: {next(iter(out.values()))['renderer']}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, nargs=2, default=(640, 480), metavar=("COLS", "ROWS"),
                        help="Gaussians per layer (two layers); default 640 480 = 614,400 in all")
    parser.add_argument("--timeout", type=int, default=900, help="seconds to wait for each complete frame")
    parser.add_argument("--out", type=Path, help="keep the scenes and renders here (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        full = scene_from_gaussians(sharp_like(*args.grid), F_PX, WIDTH, HEIGHT)
        presets = [("full", None)] + [(f"{p // 1000}k", p) for p in PRESETS if p < len(full)]
        spz_files, rows = {}, []
        print(f"{'preset':>7} {'Gaussians':>10} {'reduce s':>8} " + " ".join(f"{n + ' MB':>16}" for n in FORMATS))
        for label, max_gaussians in presets:
            t = time.perf_counter()
            scene = full if max_gaussians is None else reduce_scene(full, max_gaussians)
            seconds = time.perf_counter() - t
            sizes = [len(export_bytes(scene, fmt)) / 1e6 for fmt in FORMATS.values()]
            spz_files[label] = export_file(scene, "spz", folder / f"scene-{label}.spz")
            rows.append((label, len(scene)))
            print(f"{label:>7} {len(scene):>10,} {seconds:>8.2f} " + " ".join(f"{s:>16.2f}" for s in sizes), flush=True)
        renders = render_all(spz_files, folder, args.timeout)
        if "full" not in renders:
            return 0
        reference = renders["full"]["image"]
        print(f"\nfrom the photo's viewpoint, {reference.shape[1]}x{reference.shape[0]} canvas, against the full scene:")
        print(f"{'preset':>7} {'Gaussians':>10} {'PSNR dB':>8} {'SSIM':>6} {'first frame s':>13} {'complete frame s':>16}")
        for label, count in rows:
            r = renders.get(label)
            if r is None:
                continue
            quality = (psnr(r["image"], reference), ssim(r["image"], reference))
            print(f"{label:>7} {count:>10,} {quality[0]:>8.2f} {quality[1]:>6.4f} {r['totalMs'] / 1000:>13.2f} "
                  f"{r['fullFrameMs'] / 1000:>16.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
