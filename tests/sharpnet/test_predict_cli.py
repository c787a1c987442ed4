"""``app.py predict`` on a folder: every photo below it, sub-folders kept, a bad photo reported (exit 1)."""

from __future__ import annotations

import shutil
from pathlib import Path

from plyfile import PlyData

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
