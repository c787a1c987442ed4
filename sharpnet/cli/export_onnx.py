"""``export-onnx -o DIR [--input-size N]``: the network as ONNX, for onnxruntime and
other ONNX tools.

Writes ``DIR/sharp-<model id>-<N>.onnx`` (the weights beside it as ``.onnx.data`` when they pass
2 GB, as the released model's do) and, with ``--int8``, its dynamically quantized twin. These are
the same files ``model.runtime: onnxruntime`` looks for in ``model.onnx_dir``, so exporting ahead
saves the service doing it at start. Exit status: 0 written; 2 bad arguments, checkpoint or missing
exporter (nothing is written).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sharpnet.cli import Invocation
from sharpnet.config import ModelConfigError, checked_input_size, load_model_config
from sharpnet.predictor import CheckpointError, Predictor

# Run on its own (``python -m sharpnet.cli.export_onnx``) it has no default checkpoint.
PLAIN = Invocation("python -m sharpnet.cli.export_onnx")


def build_parser(invocation: Invocation = PLAIN) -> argparse.ArgumentParser:
    """Without a default checkpoint from the caller, --checkpoint is required."""
    default_checkpoint = invocation.default_checkpoint
    parser = argparse.ArgumentParser(prog=invocation.prog, description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="DIR",
                        help="directory for the .onnx file(s) (created if needed)")
    parser.add_argument("--input-size", type=int, default=1536, metavar="N",
                        help="network input side the graph is made for: a multiple of 64 in 512..1536 (default 1536)")
    parser.add_argument("--checkpoint", type=Path, default=default_checkpoint, required=default_checkpoint is None,
                        help=f"SHARP weights (default: {default_checkpoint or 'none, required'})")
    parser.add_argument("--model-config", type=Path, metavar="JSON",
                        help="a model-config JSON describing a smaller network of the same architecture")
    parser.add_argument("--int8", action="store_true",
                        help="also write the ONNX Runtime dynamic int8 quantization of the graph")
    return parser


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None, invocation: Invocation = PLAIN) -> int:
    args = build_parser(invocation).parse_args(argv)
    from sharpnet.onnx_runtime import onnxruntime_missing

    missing = onnxruntime_missing()
    if missing:
        return _fail(missing)
    if not 0 < args.input_size <= 16384:
        return _fail(f"--input-size must be a positive side in pixels, got {args.input_size}")
    if not args.checkpoint.is_file():
        return _fail(invocation.missing_checkpoint(args.checkpoint))
    side = checked_input_size(args.input_size)
    try:
        cfg = load_model_config(args.model_config) if args.model_config else None
        predictor = Predictor.load(args.checkpoint, cfg, device="cpu")
    except (ModelConfigError, CheckpointError) as exc:
        return _fail(str(exc))
    from sharpnet.onnx_export import ensure_onnx, external_data

    start = time.perf_counter()
    written = [ensure_onnx(predictor.model, predictor.model_id, side, args.output)]
    if args.int8:
        written.append(ensure_onnx(predictor.model, predictor.model_id, side, args.output, int8=True))
    for path in written:
        weights = external_data(path)
        extra = f" + {weights.name} ({weights.stat().st_size / 1e9:.2f} GB)" if weights.is_file() else ""
        print(f"{path} ({path.stat().st_size / 1e6:.1f} MB{extra})")
    print(f"exported at {side}x{side} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
