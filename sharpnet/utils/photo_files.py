"""Which files are photos, and output names that never collide.

Shared by ``app.py predict`` (folders walked recursively, as Apple's CLI does) and the batch API's
zip download (photos named after their uploads), so both pick photos and de-duplicate names the
same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

PHOTO_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".avif", ".tif", ".tiff", ".bmp",
})


def is_photo_name(name: str) -> bool:
    """True for a visible file whose suffix is a photo format (hidden and macOS ``._`` files are not)."""
    base = PurePosixPath(name.replace("\\", "/")).name
    return bool(base) and not base.startswith(".") and PurePosixPath(base).suffix.lower() in PHOTO_SUFFIXES


def expand_photos(paths: Iterable[Path]) -> list[tuple[Path, Path]]:
    """``(photo, relative output stem)`` for each file argument and each photo below a folder argument.

    A file named on the command line is taken whatever its suffix (the decoder says if it is not
    a photo); below a folder only photo suffixes count, walked recursively in sorted order. A
    folder's photos keep their sub-folders in the output name, so ``a/x.jpg`` and ``b/x.jpg`` do not
    overwrite each other. Raises ``FileNotFoundError`` naming the first argument that does not exist.
    """
    found: list[tuple[Path, Path]] = []
    for path in paths:
        if path.is_dir():
            for photo in sorted(p for p in path.rglob("*") if p.is_file() and is_photo_name(p.name)):
                found.append((photo, photo.relative_to(path).with_suffix("")))
        elif path.is_file():
            found.append((path, Path(path.stem)))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return found


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``stem-2.ext``, ``stem-3.ext``... the first not in ``taken`` (compared case-blind,
    since Windows and macOS file systems are); the chosen name is added to ``taken``."""
    path = PurePosixPath(name)
    candidate, number = name, 1
    while candidate.lower() in taken:
        number += 1
        candidate = str(path.with_name(f"{path.stem}-{number}{path.suffix}"))
    taken.add(candidate.lower())
    return candidate
