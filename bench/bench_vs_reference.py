"""Our pipeline against Apple's reference on the same full-size weights; prints figures, asserts nothing.

    python bench/bench_vs_reference.py --reference-src PATH/ml-sharp/src [--configs fp32 int8 ort+int8]
                                       [--runs 1] [--device cpu]

Apple's ``sharp`` package is not on the package index: point ``--reference-src`` at the ``src``
folder of a checkout of github.com/apple/ml-sharp, in an environment that has what it imports
(timm, torchvision, click, imageio, matplotlib, pillow-heif, plyfile, scipy; gsplat is only for
its renderer and is stubbed here). Nothing of it is copied into this project: it is imported and
called as its own CLI calls it.

Both networks get the reference's randomly initialised weights (its zero-initialised prediction
convs made random too; our model loads its state dict with ``strict=True``), the same 1024x768
photo and focal length, input 1536. Printed: seconds for the whole photo -> Gaussians step (resize, forward, unprojection) and for the .ply write, per
side, the speed-ups, and how far our Gaussians are from the reference's (means relative to
depth, colours and opacities absolute, covariances relative), which checks fidelity at full
size where the golden cases only cover tiny configurations. ``--configs`` adds our fast paths
(as in bench_network.py): each is timed and compared the same way.
"""

from __future__ import annotations

import argparse
import shutil
import importlib.machinery
import importlib.util
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch


def import_reference(src: Path):
    """Apple's ``sharp`` package from ``src``, loaded by location (nothing is added to sys.path)."""
    spec = importlib.machinery.PathFinder.find_spec("sharp", [str(src)])
    if spec is None or spec.loader is None:
        raise SystemExit(f"error: no 'sharp' package under {src}")
    package = importlib.util.module_from_spec(spec)
    sys.modules["sharp"] = package  # its own submodule imports resolve through the package's path
    spec.loader.exec_module(package)
    sys.modules.setdefault("gsplat", types.ModuleType("gsplat"))  # its renderer only; never called here
    from sharp.cli.predict import predict_image
    from sharp.models import PredictorParams, create_predictor
    from sharp.utils.gaussians import save_ply

    return create_predictor, PredictorParams, predict_image, save_ply


def best_of(runs: int, fn):
    best, out = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def covariances(scales: np.ndarray, quaternions: np.ndarray) -> np.ndarray:
    """(N, 3, 3) in float64: comparable where quaternion signs or axis order differ."""
    from sharpnet.geometry import quaternions_to_matrices

    rot = quaternions_to_matrices(torch.from_numpy(quaternions).double())
    scaled = rot * torch.from_numpy(scales).double()[:, None, :]
    return (scaled @ scaled.transpose(-1, -2)).numpy()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-src", type=Path, required=True)
    parser.add_argument("--configs", nargs="+", default=["fp32"], help="ours: fp32 and/or fast paths")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    try:
        create_predictor, PredictorParams, predict_image, ref_save_ply = import_reference(args.reference_src)
    except ImportError as exc:
        print(f"error: cannot import the reference from {args.reference_src}: {exc}")
        return 2

    from bench_network import parse_config
    from sharpnet.models import build_model
    from sharpnet.predictor import Predictor, load_weights
    from sharpnet.io.ply import save_ply

    for config in args.configs:
        parse_config(config, 1)  # fail fast on a typo

    device = torch.device(args.device)
    torch.manual_seed(0)
    reference = create_predictor(PredictorParams()).eval().to(device)
    with torch.no_grad():
        # Freshly initialised, the final prediction convs are zero, so the Gaussian decoder would not
        # reach the output at all; small random values make the comparison cover it too.
        for name, param in reference.named_parameters():
            if param.ndim >= 2 and not param.any():
                param.normal_(0.0, 1e-2)

    def ours_with_reference_weights():
        model = build_model(device="meta")
        load_weights(model, {k: v.detach().clone() for k, v in reference.state_dict().items()}, "reference weights")
        return model

    rgb = np.random.default_rng(0).integers(0, 256, size=(768, 1024, 3), dtype=np.uint8)
    f_px = 900.0
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}; photo 1024x768, input 1536")
    ref_s, ref_g = best_of(args.runs, lambda: predict_image(reference, rgb, f_px, device))
    with tempfile.TemporaryDirectory() as tmp:
        ref_ply_s, _ = best_of(args.runs, lambda: ref_save_ply(ref_g, f_px, (768, 1024), Path(tmp) / "ref.ply"))
    ref = {name: getattr(ref_g, name)[0].detach().cpu().numpy() for name in ref_g._fields}
    depth = np.abs(ref["mean_vectors"][:, 2]).clip(1e-6)
    cov_ref = covariances(ref["singular_values"], ref["quaternions"])
    cov_scale = np.abs(cov_ref).reshape(len(cov_ref), -1).max(axis=1).clip(1e-30)
    print(f"reference: photo -> Gaussians {ref_s:.2f} s, .ply write {ref_ply_s:.2f} s, total {ref_s + ref_ply_s:.2f} s")
    print(f"{'ours':<16} {'photo->G s':>10} {'x ref':>6} {'forward s':>9} {'.ply s':>7} {'x ref':>6} "
          f"{'total x ref':>11}  difference from the reference")

    for config in args.configs:
        # A fresh model per configuration: fast paths may rewrite the model in place.
        options = parse_config(config, 1)
        onnx_dir = tempfile.mkdtemp(prefix="bench-onnx-") if options.runtime == "onnxruntime" else None
        ours = Predictor(ours_with_reference_weights(), device=args.device, model_id="reference-random",
                         options=options, onnx_dir=onnx_dir)
        if onnx_dir is not None:  # the export (and int8 quantization) is made once per size: not a forward
            t = time.perf_counter()
            ours.prepare(1536)
            print(f"{config}: ONNX export for 1536 in {time.perf_counter() - t:.1f} s", flush=True)
        our_s, pred = best_of(args.runs, lambda: ours.predict(rgb, f_px, 1536))
        with tempfile.TemporaryDirectory() as tmp:
            our_ply_s, _ = best_of(args.runs, lambda: save_ply(pred.gaussians, f_px, 1024, 768, Path(tmp) / "o.ply"))
        g = pred.gaussians
        mean_rel = np.abs(g.mean_vectors - ref["mean_vectors"]).max(axis=1) / depth
        colors = np.abs(g.colors - ref["colors"]).max()
        opacities = np.abs(g.opacities - ref["opacities"]).max()
        cov_ours = covariances(g.singular_values, g.quaternions)
        cov_rel = np.abs(cov_ours - cov_ref).reshape(len(cov_ref), -1).max(axis=1) / cov_scale
        total = (ref_s + ref_ply_s) / (our_s + our_ply_s)
        print(f"{config:<16} {our_s:>10.2f} {ref_s / our_s:>5.2f}x {pred.timings['inference']:>9.2f} "
              f"{our_ply_s:>7.2f} {ref_ply_s / our_ply_s:>5.1f}x {total:>10.2f}x  "
              f"means/depth max {mean_rel.max():.1e} (median {np.median(mean_rel):.0e}), colours {colors:.1e}, "
              f"opacities {opacities:.1e}, covariances rel max {cov_rel.max():.1e} "
              f"(q99.9 {np.quantile(cov_rel, 0.999):.0e})", flush=True)
        if onnx_dir is not None:
            del ours
            shutil.rmtree(onnx_dir, ignore_errors=True)  # a full-size export is ~2.8 GB
    return 0


if __name__ == "__main__":
    sys.exit(main())
