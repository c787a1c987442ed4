"""The network package's ``predict`` command on a folder: every photo below it, sub-folders kept, a bad photo reported (exit 1)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from plyfile import PlyData

from sharpnet.cli import Invocation
from sharpnet.cli.predict import main


def test_a_folder_is_converted_recursively(tiny_a_dir: Path, tmp_path: Path, capsys):
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    shutil.copy(tiny_a_dir / "input.png", photos / "one.png")
    shutil.copy(tiny_a_dir / "input.png", photos / "sub" / "one.png")
    (photos / "sub" / "broken.jpg").write_bytes(b"not a photo")
    (photos / "notes.txt").write_text("ignored")
    out = tmp_path / "out"
    code = main([str(photos), "-o", str(out), "--checkpoint", str(tiny_a_dir / "state_dict.pt"),
                 "--model-config", str(tiny_a_dir / "config.json"), "--input-size", "512", "--device", "cpu"])
    assert code == 1  # the broken photo
    assert "broken.jpg" in capsys.readouterr().err
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.ply"))
    assert written == ["one.ply", "sub/one.ply"]
    for name in written:
        assert PlyData.read(str(out / name))["vertex"].count > 0


def test_an_empty_folder_is_an_error(tmp_path: Path, capsys):
    assert main([str(tmp_path), "-o", str(tmp_path / "out"), "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert "no photos found" in capsys.readouterr().err


def test_formats_density_and_depth(tiny_a_dir: Path, tmp_path: Path):
    import numpy as np
    from PIL import Image

    from sharpnet.io.registry import FORMATS

    out = tmp_path / "out"
    args = [str(tiny_a_dir / "input.png"), "-o", str(out), "--checkpoint", str(tiny_a_dir / "state_dict.pt"),
            "--model-config", str(tiny_a_dir / "config.json"), "--input-size", "512", "--device", "cpu"]
    assert main(args + [f"--format={name}" for name in FORMATS] + ["--max-gaussians", "1000", "--depth"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["input.depth.png", "input.depthcolor.png"] + [f"input{f.suffix}" for f in FORMATS.values()])
    assert PlyData.read(str(out / "input.ply"))["vertex"].count == 1000
    assert (out / "input.splat").stat().st_size == 1000 * 32
    assert np.array(Image.open(out / "input.depth.png")).dtype == np.uint16


def test_bad_format_or_density_is_a_one_line_error(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path), "-o", str(tmp_path / "o"), "--format", "obj"], Invocation("predict", tmp_path / "w.pt"))
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
    assert main([str(tmp_path), "-o", str(tmp_path / "o"), "--max-gaussians", "0"],
                Invocation("predict", tmp_path / "w.pt")) == 2
    assert capsys.readouterr().err.startswith("error: --max-gaussians must be at least 1")


def test_the_front_end_names_the_command_and_how_to_get_the_weights(tmp_path: Path, capsys):
    """The package names no program or folder: usage and the missing-checkpoint hint are the caller's."""
    photo = tmp_path / "p.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(photo)
    front_end = Invocation("studio predict", tmp_path / "weights.pt", "ask the studio for weights")
    assert main([str(photo), "-o", str(tmp_path / "o")], front_end) == 2
    assert capsys.readouterr().err.strip() == f"error: no checkpoint at {tmp_path / 'weights.pt'}: ask the studio for weights"
    with pytest.raises(SystemExit):
        main(["--help"], front_end)
    assert capsys.readouterr().out.startswith("usage: studio predict ")
    assert main([str(photo), "-o", str(tmp_path / "o"), "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert capsys.readouterr().err.strip().endswith("none.pt: pass --checkpoint PATH")
    assert not (tmp_path / "o").exists()
