"""Typed configuration of the SHARP network. Every default is the released checkpoint's value.

Only what changes the network's structure or arithmetic lives here; how it is run (device,
input side, memory-saving segments) belongs to :mod:`sharpnet.predictor`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

LOGGER = logging.getLogger(__name__)

MIN_INPUT_SIZE = 512
MAX_INPUT_SIZE = 1536
MAX_REQUEST_SIDE = 16384  # larger requested sides are refused as mistakes rather than snapped down
F_PX_RANGE = (1.0, 1e6)  # focal lengths in pixels accepted from a user (outside: a typo, not a lens)
CHECKPOINT_NAME = "sharp_2572gikvuh.pt"  # the file name of Apple's released weights
INPUT_SIZE_STEP = 64  # a ViT tile is a quarter of the side and holds whole 16-pixel patches


@dataclass(frozen=True)
class ViTConfig:
    """A plain ViT (DINOv2-L/16 at 384 px by default), named like timm's so checkpoints load."""

    embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    patch_size: int = 16
    img_size: int = 384
    in_chans: int = 3
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    layer_scale_init: float = 1e-5
    # The released weights keep an (unused) ImageNet-22k classifier; it must exist to load strictly.
    num_classes: int = 21841
    norm_eps: float = 1e-6

    @property
    def grid_size(self) -> int:
        return self.img_size // self.patch_size


@dataclass(frozen=True)
class MonodepthConfig:
    """Depth-Pro-style monocular depth network: sliding-pyramid ViT encoder + DPT decoder + head."""

    patch_encoder: ViTConfig = field(default_factory=ViTConfig)
    image_encoder: ViTConfig = field(default_factory=ViTConfig)
    # Channels of the four patch-encoder feature maps (two intermediate blocks, two pyramid levels).
    encoder_dims: tuple[int, int, int, int] = (256, 512, 1024, 1024)
    # Blocks whose outputs are tapped; the first two feed the two highest-resolution maps.
    hook_ids: tuple[int, int, int, int] = (5, 11, 17, 23)
    decoder_dims: tuple[int, int, int, int, int] = (256, 256, 256, 256, 256)
    head_hidden_dim: int = 32
    num_layers: int = 2  # disparity layers predicted (the released model: front surface + one behind)

    @property
    def dims_encoder(self) -> tuple[int, ...]:
        """The five encoder outputs' channels: the finest map is projected to the decoder width."""
        return (self.decoder_dims[0],) + tuple(self.encoder_dims)


@dataclass(frozen=True)
class GaussianDecoderConfig:
    """DPT decoder over the monodepth features, fused with an RGB+disparity skip branch."""

    dims_decoder: tuple[int, int, int, int, int] = (128, 128, 128, 128, 128)
    dim_in: int = 5  # RGB + two disparity layers
    dim_out: int = 32
    stride: int = 2
    norm_num_groups: int = 8


@dataclass(frozen=True)
class AlignmentConfig:
    """UNet predicting a scale map that aligns monodepth to a given depth (training-time input)."""

    steps: int = 4
    stride: int = 1
    base_width: int = 16
    norm_num_groups: int = 4


@dataclass(frozen=True)
class InitializerConfig:
    """How base Gaussians are laid on the depth layers (no weights)."""

    num_layers: int = 2
    stride: int = 2
    scale_factor: float = 1.0
    disparity_factor: float = 1.0
    depth_min: float = 1.0
    depth_max: float = 100.0


@dataclass(frozen=True)
class ComposerConfig:
    """Activations that turn base values + predicted deltas into Gaussians (no weights)."""

    delta_xy: float = 1e-3
    delta_z: float = 1e-3
    delta_color: float = 0.1
    delta_opacity: float = 1.0
    delta_scale: float = 1.0
    delta_quaternion: float = 1.0
    min_scale: float = 0.0
    max_scale: float = 10.0


@dataclass(frozen=True)
class SharpConfig:
    monodepth: MonodepthConfig = field(default_factory=MonodepthConfig)
    gaussian_decoder: GaussianDecoderConfig = field(default_factory=GaussianDecoderConfig)
    alignment: AlignmentConfig = field(default_factory=AlignmentConfig)
    initializer: InitializerConfig = field(default_factory=InitializerConfig)
    composer: ComposerConfig = field(default_factory=ComposerConfig)

    @property
    def tile_size(self) -> int:
        """The ViT's native tile side; the reference input is four tiles wide."""
        return self.monodepth.patch_encoder.img_size


class ModelConfigError(ValueError):
    """A model-config file that cannot describe this architecture."""


def _int_tuple(data: dict, key: str, length: int) -> tuple[int, ...]:
    value = data[key]
    if not isinstance(value, list) or len(value) != length or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        raise ModelConfigError(f"{key}: expected a list of {length} non-negative integers")
    return tuple(value)


def _positive_int(data: dict, key: str) -> int:
    value = data[key]
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ModelConfigError(f"{key}: expected a positive integer, got {value!r}")
    return value


def model_config_from_dict(data: dict) -> SharpConfig:
    """Build a configuration from the compact JSON format (unknown keys are ignored).

    Keys: vit_embed_dim, vit_depth, vit_num_heads (both ViTs), monodepth_encoder_dims (4),
    monodepth_hook_ids (4), monodepth_dims_decoder (5), gaussian_dims_decoder (5). A missing key
    keeps the released model's value.
    """
    base = SharpConfig()
    vit = base.monodepth.patch_encoder
    if "vit_embed_dim" in data:
        vit = replace(vit, embed_dim=_positive_int(data, "vit_embed_dim"))
    if "vit_depth" in data:
        vit = replace(vit, depth=_positive_int(data, "vit_depth"))
    if "vit_num_heads" in data:
        vit = replace(vit, num_heads=_positive_int(data, "vit_num_heads"))
    if vit.embed_dim % vit.num_heads:
        raise ModelConfigError("vit_embed_dim must be divisible by vit_num_heads")
    mono = replace(base.monodepth, patch_encoder=vit, image_encoder=vit)
    if "monodepth_encoder_dims" in data:
        mono = replace(mono, encoder_dims=_int_tuple(data, "monodepth_encoder_dims", 4))
    if "monodepth_hook_ids" in data:
        mono = replace(mono, hook_ids=_int_tuple(data, "monodepth_hook_ids", 4))
    if "monodepth_dims_decoder" in data:
        mono = replace(mono, decoder_dims=_int_tuple(data, "monodepth_dims_decoder", 5))
    if max(mono.hook_ids) >= vit.depth:
        raise ModelConfigError(
            f"monodepth_hook_ids {list(mono.hook_ids)} must be below vit_depth {vit.depth}"
        )
    gdec = base.gaussian_decoder
    if "gaussian_dims_decoder" in data:
        gdec = replace(gdec, dims_decoder=_int_tuple(data, "gaussian_dims_decoder", 5))
    if any(d % gdec.norm_num_groups for d in (gdec.dims_decoder[0], gdec.dims_decoder[0] // 2)):
        raise ModelConfigError(
            f"gaussian_dims_decoder[0] must be a multiple of {2 * gdec.norm_num_groups}"
        )
    return replace(base, monodepth=mono, gaussian_decoder=gdec)


def load_model_config(path: str | Path) -> SharpConfig:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelConfigError(f"{path}: no such file") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelConfigError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelConfigError(f"{path}: expected a JSON object")
    return model_config_from_dict(data)


def snap_input_size(size: int) -> int:
    """The nearest supported input side: a multiple of 64 within [512, 1536]."""
    snapped = int(round(size / INPUT_SIZE_STEP)) * INPUT_SIZE_STEP
    return max(MIN_INPUT_SIZE, min(MAX_INPUT_SIZE, snapped))


def checked_input_size(size: int) -> int:
    """:func:`snap_input_size`, logging a warning that says what changed."""
    snapped = snap_input_size(size)
    if snapped != size:
        LOGGER.warning(
            "input size %d is not a multiple of %d in [%d, %d]; using %d",
            size, INPUT_SIZE_STEP, MIN_INPUT_SIZE, MAX_INPUT_SIZE, snapped,
        )
    return snapped
