"""The default configuration is the released network: same keys, shapes and dtypes as the checkpoint."""

import json
from pathlib import Path

import torch

from sharpnet.models import build_model

MANIFEST = Path(__file__).parent / "data" / "manifest_full.json"


def test_default_model_matches_released_checkpoint_manifest():
    model = build_model(device="meta")
    ours = {k: (list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()}
    theirs = {e["key"]: (e["shape"], e["dtype"]) for e in json.loads(MANIFEST.read_text())}
    assert sorted(set(theirs) - set(ours)) == []
    assert sorted(set(ours) - set(theirs)) == []
    assert {k: v for k, v in ours.items() if theirs[k] != v} == {}
    assert len(ours) == 1038
    assert sum(v.numel() for v in model.state_dict().values()) == 702_305_169


def test_meta_model_loads_a_manifest_shaped_state_dict_strictly():
    """What ``load_state_dict(torch.load(real_checkpoint), strict=True)`` needs, without 2.8 GB."""
    entries = json.loads(MANIFEST.read_text())
    fake = {e["key"]: torch.empty(e["shape"], dtype=getattr(torch, e["dtype"]), device="meta") for e in entries}
    model = build_model(device="meta")
    result = model.load_state_dict(fake, strict=True, assign=True)
    assert not result.missing_keys and not result.unexpected_keys
