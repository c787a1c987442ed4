"""``predict PHOTO|FOLDER [...] -o OUT_DIR``: photos to scene files, no server.

``--format`` picks any formats of the export registry (``ply`` by default, several allowed),
``--max-gaussians N`` keeps the N most important Gaussians, ``--depth`` adds the depth map as a
16-bit PNG in millimetres and a colourised preview.

A folder is walked recursively for photos (as Apple's CLI does); its sub-folders are kept under
``OUT_DIR`` so equal names in different folders do not overwrite each other.

Exit status: 0 all photos done; 1 some photos could not be read (the others are written);
2 bad arguments, checkpoint or model configuration (nothing is written).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sharpnet.cli import Invocation
from sharpnet.config import (
    CHECKPOINT_NAME,
    F_PX_RANGE,
    MAX_REQUEST_SIDE,
    ModelConfigError,
    checked_input_size,
    load_model_config,
)
from sharpnet.density import reduce_scene
from sharpnet.io.atomic import write_atomic
from sharpnet.io.depth import depth_map, depth_png16, depth_preview_png
from sharpnet.io.registry import FORMATS, export_file, scene_from_gaussians
from sharpnet.predictor import CheckpointError, Predictor
from sharpnet.utils.photo import PhotoError, load_photo
from sharpnet.utils.photo_files import expand_photos, unique_name

# Run on its own (``python -m sharpnet.cli.predict``) it has no default checkpoint.
PLAIN = Invocation("python -m sharpnet.cli.predict")


def build_parser(invocation: Invocation = PLAIN) -> argparse.ArgumentParser:
    """Without a default checkpoint from the caller, --checkpoint is required."""
    default_checkpoint = invocation.default_checkpoint
    parser = argparse.ArgumentParser(
        prog=invocation.prog,
        description="Turn photos into SHARP 3D Gaussian scenes (.ply) without starting the server.",
    )
    parser.add_argument("photos", nargs="+", type=Path, metavar="PHOTO",
                        help="JPEG, PNG, WebP or HEIC files, or folders (searched recursively)")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="OUT_DIR",
                        help="directory for OUT_DIR/<photo stem>.ply (created if needed; a folder's "
                             "sub-folders are kept)")
    parser.add_argument("--checkpoint", type=Path, default=default_checkpoint, required=default_checkpoint is None,
                        help=f"SHARP weights ({CHECKPOINT_NAME}; default: {default_checkpoint or 'none, required'})")
    parser.add_argument("--model-config", type=Path, metavar="JSON",
                        help="a model-config JSON describing a smaller network of the same architecture")
    parser.add_argument("--f-px", type=float, metavar="F",
                        help="focal length in pixels (default: from EXIF, else a 30 mm-equivalent lens)")
    parser.add_argument("--input-size", type=int, default=1536, metavar="N",
                        help="network input side: a multiple of 64 in 512..1536, others are rounded (default 1536)")
    parser.add_argument("--device", choices=("cpu", "cuda", "mps"), default=None,
                        help="where to run (default: cuda if available, else mps, else cpu)")
    parser.add_argument("--checkpoint-segments", type=int, default=1, metavar="K",
                        help="run the encoder's 35 ViT tiles in K batches to lower peak memory (default 1)")
    parser.add_argument("--format", dest="formats", action="append", choices=list(FORMATS), metavar="FMT",
                        help=f"output format, repeatable: {', '.join(FORMATS)} (default ply)")
    parser.add_argument("--max-gaussians", type=int, metavar="N",
                        help="keep only the N most important Gaussians (opacity x footprint from the photo's view)")
    parser.add_argument("--depth", action="store_true",
                        help="also write <stem>.depth.png (16-bit, millimetres, 0 = no data) and "
                             "<stem>.depthcolor.png (colourised preview)")
    return parser


def _default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None, invocation: Invocation = PLAIN) -> int:
    args = build_parser(invocation).parse_args(argv)
    if not 0 < args.input_size <= MAX_REQUEST_SIDE:
        return _fail(f"--input-size must be a positive side in pixels, got {args.input_size}")
    if args.f_px is not None and not F_PX_RANGE[0] <= args.f_px <= F_PX_RANGE[1]:
        return _fail(f"--f-px must be between {F_PX_RANGE[0]:g} and {F_PX_RANGE[1]:g} pixels, got {args.f_px}")
    if args.checkpoint_segments < 1:
        return _fail(f"--checkpoint-segments must be at least 1, got {args.checkpoint_segments}")
    if args.max_gaussians is not None and args.max_gaussians < 1:
        return _fail(f"--max-gaussians must be at least 1, got {args.max_gaussians}")
    formats = [FORMATS[name] for name in dict.fromkeys(args.formats or ["ply"])]
    try:
        photos = expand_photos(args.photos)
    except FileNotFoundError as exc:
        return _fail(str(exc))
    if not photos:
        return _fail("no photos found in " + ", ".join(str(p) for p in args.photos))
    if not args.checkpoint.is_file():
        return _fail(invocation.missing_checkpoint(args.checkpoint))
    input_size = checked_input_size(args.input_size)
    device = args.device or _default_device()
    try:
        cfg = load_model_config(args.model_config) if args.model_config else None
        predictor = Predictor.load(args.checkpoint, cfg, device=device,
                                   checkpoint_segments=args.checkpoint_segments)
    except (ModelConfigError, CheckpointError) as exc:
        return _fail(str(exc))
    except RuntimeError as exc:  # e.g. the requested device is not available
        return _fail(f"cannot run on {device}: {str(exc).splitlines()[0]}")
    args.output.mkdir(parents=True, exist_ok=True)

    failures = 0
    total = len(photos)
    taken: set[str] = set()
    for number, (path, stem) in enumerate(photos, 1):
        start = time.perf_counter()
        try:
            photo = load_photo(path, f_px=args.f_px)
        except PhotoError as exc:
            failures += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        prediction = predictor.predict(photo.rgb, photo.f_px, input_size)
        base = args.output / unique_name(f"{stem.as_posix()}.ply", taken)
        base.parent.mkdir(parents=True, exist_ok=True)
        scene = scene_from_gaussians(prediction.gaussians, photo.f_px, photo.width, photo.height)
        if args.max_gaussians is not None:
            scene = reduce_scene(scene, args.max_gaussians)
        written = [export_file(scene, fmt, base.with_suffix(fmt.suffix)) for fmt in formats]
        if args.depth:
            depth = depth_map(scene.vertices, scene.metadata)
            written.append(write_atomic(base.with_suffix(".depth.png"), depth_png16(depth)))
            written.append(write_atomic(base.with_suffix(".depthcolor.png"), depth_preview_png(depth)))
        print(
            f"[{number}/{total}] {path} -> {', '.join(str(t) for t in written)} ({len(scene):,} Gaussians, "
            f"f={photo.f_px:.1f}px from {photo.focal_source}, {time.perf_counter() - start:.1f}s)",
            flush=True,
        )
    return 1 if failures else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
