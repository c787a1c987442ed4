"""Command line of ``python app.py``: flags become a config layer on top of the file and defaults.

Only flags the user actually typed end up in the override layer (argparse defaults are ``None``
or suppressed), which is what lets ``CLI > config file > defaults`` hold for every key.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlsharp import __version__
from mlsharp.config import CHECKPOINT_NAME, LOG_LEVELS, MODES


def build_parser(prog: str = "app.py") -> argparse.ArgumentParser:
    """The serve command's flags; ``prog`` is how the user called it (app.py or mlsharp)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "MLSharp 3D Maker: a local web service that turns one photo into a 3D Gaussian "
            "Splatting scene (.ply) with Apple's SHARP model."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "subcommands:\n"
            "  serve                 the web service (the default; the options above)\n"
            "  predict PHOTO... -o DIR\n"
            "                        photos to scenes without a server (see `predict --help`)\n"
            "  worker                a job-engine worker process\n"
            "  export-onnx           the network as an ONNX file\n\n"
            "Values not given here come from the environment (MLSHARP_SECTION__KEY), then the config\n"
            "file, then the built-in defaults."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-c", "--config", type=Path, metavar="PATH",
                        help="config file (.yaml, .yml or .json); default: config.yaml beside app.py")
    parser.add_argument("-m", "--mode", choices=MODES, default=None,
                        help="compute device: auto (default), gpu (any), cpu, nvidia, amd, intel, mps/apple")
    parser.add_argument("-p", "--port", type=int, default=None, help="TCP port (default 8000)")
    parser.add_argument("--host", default=None,
                        help="interface to bind (default 127.0.0.1; 0.0.0.0 exposes it to the network)")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("W", "H"), default=None,
                        help="network input size (default 1536 1536); adjusted to a square multiple "
                             "of 64 in 512..1536 with a warning")
    parser.add_argument("--max-gaussians", type=int, default=None, metavar="N",
                        help="default scene density: answers' URLs and the page serve at most N Gaussians "
                             "(the most important from the photo's view; default all)")
    parser.add_argument("--no-browser", action="store_true", default=None,
                        help="do not open the web page in a browser")
    parser.add_argument("--no-amp", action="store_true", default=None,
                        help="disable automatic mixed precision on GPU")
    parser.add_argument("--no-cudnn-benchmark", action="store_true", default=None,
                        help="disable cuDNN kernel auto-selection")
    on_off(parser, "cache_enabled", ("--enable-cache", "reuse results for identical photos and settings (default on)"),
           ("--no-cache", "always recompute"))
    parser.add_argument("--cache-size", type=int, default=None, metavar="N",
                        help="results kept in the cache (default 100)")
    parser.add_argument("--clear-cache", action="store_true",
                        help="empty the result cache at start")
    parser.add_argument("--enable-auto-tune", action="store_true", default=None,
                        help="benchmark precision/TF32/cuDNN combinations at start, keep the fastest within "
                             "tolerance of fp32 (settings under auto_tune)")
    parser.add_argument("--gradient-checkpointing", action="store_true", default=None,
                        help="run the encoder in batches to lower peak memory (slower)")
    parser.add_argument("--checkpoint-segments", type=int, default=None, metavar="N",
                        help="number of batches for --gradient-checkpointing (default 5)")
    fast_paths(parser)
    parser.add_argument("--download-model", action="store_true",
                        help=f"download SHARP's checkpoint to model.checkpoint (default model_assets/{CHECKPOINT_NAME}), "
                             "then exit")
    parser.add_argument("--jobs-engine", choices=("local", "dramatiq"), default=None,
                        help="where jobs run: local (default) or dramatiq (Redis + `python app.py worker`)")
    parser.add_argument("--redis-url", default=None, metavar="URL",
                        help="dramatiq broker and shared state (default $MLSHARP_REDIS_URL or redis://127.0.0.1:6379/0)")
    parser.add_argument("--results", default=None, metavar="DIR|s3://BUCKET/PREFIX",
                        help="dramatiq: where finished scenes live (default: the cache folder)")
    parser.add_argument("--log-level", default=None, type=str.upper,
                        help=f"log level ({', '.join(LOG_LEVELS)}); default INFO")
    return parser


def on_off(parser: Any, dest: str, on: tuple[str, str], off: tuple[str, str]) -> None:
    """A pair of flags that set ``dest`` True/False, or leave it None (the config decides)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(on[0], dest=dest, action="store_true", default=None, help=on[1])
    group.add_argument(off[0], dest=dest, action="store_false", help=off[1])


def fast_paths(parser: argparse.ArgumentParser) -> None:
    """Flags for every fast path (keys under optimization and model.runtime)."""
    group = parser.add_argument_group("fast paths (see optimization.* in config.yaml)")
    group.add_argument("--quantize", dest="enable_quantization", action="store_true", default=None,
                       help="int8 dynamic quantization of the heavy matrix products")
    group.add_argument("--channels-last", action="store_true", default=None, help="NHWC layout for the decoders")
    group.add_argument("--compile", action="store_true", default=None, help="torch.compile the network")
    group.add_argument("--runtime", choices=("torch", "onnxruntime"), default=None,
                       help="torch (default) or onnxruntime (runs the ONNX export, made on first use)")
    on_off(group, "progressive", ("--progressive", "jobs show a draft scene first (default on for CPU devices)"),
           ("--no-progressive", "jobs compute only the requested size"))
    group.add_argument("--progressive-size", type=int, default=None, metavar="N",
                       help="input side of the draft scene (default 512)")
    group.add_argument("--dynamic-input-size", action="store_true", default=None,
                       help="choose each photo's input side from its resolution and the time budget")
    group.add_argument("--max-batch-size", type=int, default=None, metavar="B",
                       help="waiting photos of one input side a worker computes in one forward (default 1)")


FAST_PATH_KEYS = {
    "enable_quantization": "optimization.enable_quantization", "channels_last": "optimization.channels_last",
    "compile": "optimization.compile", "runtime": "model.runtime", "progressive": "optimization.progressive",
    "progressive_size": "optimization.progressive_size",
    "dynamic_input_size": "optimization.dynamic_input_size", "max_batch_size": "optimization.max_batch_size",
}


def overrides_from_args(args: argparse.Namespace) -> dict:
    """The config layer made of the flags that were given (nested like the config file)."""
    out: dict = {}

    def put(dotted: str, value: object) -> None:
        if value is None:
            return
        node = out
        *parents, leaf = dotted.split(".")
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value

    put("mode", args.mode)
    put("server.port", args.port)
    put("server.host", args.host)
    put("inference.input_size", list(args.input_size) if args.input_size else None)
    put("inference.max_gaussians", args.max_gaussians)
    put("browser.open", False if args.no_browser else None)
    put("gpu.amp", False if args.no_amp else None)
    put("gpu.cudnn_benchmark", False if args.no_cudnn_benchmark else None)
    put("cache.enabled", args.cache_enabled)
    put("cache.size", args.cache_size)
    put("auto_tune.enabled", True if args.enable_auto_tune else None)
    put("optimization.gradient_checkpointing", True if args.gradient_checkpointing else None)
    put("optimization.checkpoint_segments", args.checkpoint_segments)
    put("jobs.engine", args.jobs_engine)
    put("jobs.redis_url", args.redis_url)
    put("storage.results", args.results)
    put("logging.level", args.log_level)
    for name, key in FAST_PATH_KEYS.items():
        put(key, getattr(args, name, None))
    return out
