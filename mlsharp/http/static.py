"""The page and its files over the wire: compressed once, cached by kind.

Why not Starlette's ``StaticFiles``: the page loads ~5 MB of vendored JavaScript (Spark,
three.js) that it served uncompressed and without cache headers, so every visit downloaded it
again. Here:

* Each file is compressed once (gzip from the standard library; brotli too when the optional
  ``brotli`` package happens to be installed) the first time it is asked for, kept in memory
  beside its identity bytes, and rebuilt only when the file on disk changes (size or mtime), so
  a request never compresses. A client gets the smallest form its ``Accept-Encoding`` allows,
  with ``Content-Encoding``; compressible files always say ``Vary: Accept-Encoding``.
* Vendored files are served under a content-versioned path, ``static/vendor-<hash>/...``, where
  the hash covers every file of ``static/vendor/``; the page's import map is rewritten to it when
  the page is served. Relative imports inside the vendored code (three.module.js ->
  three.core.js) resolve under the same versioned folder, so all of it is
  ``Cache-Control: public, max-age=31536000, immutable``. A different hash (a page from before an
  upgrade) still gets the files, but as ``no-cache``: the bytes may not be what that URL meant.
* Our own files (the page, js/, css/) and vendored files under their plain path (the one-file
  HTML export and recorder.js fetch those) change without a new name: ``no-cache`` plus a strong
  ``ETag``, so a revisit costs a ``304 Not Modified`` per file instead of the body.

The files on disk keep their plain paths (``./static/vendor/...`` in index.html), so the tests
that read static/ and the page opened from a checkout see what they always did.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import mimetypes
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any

from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response

try:  # optional: used when present, never required
    import brotli  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
VENDOR = "vendor"
_VERSIONED = re.compile(r"vendor-([0-9a-f]{12})")
_COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml", "application/wasm")
_MIN_COMPRESS = 512  # below this the headers cost more than the saving
_STORE_LOCK = threading.Lock()
_ASSETS: dict[str, tuple[tuple[int, int], Asset]] = {}
_BUILDING: dict[str, threading.Lock] = {}  # one per file ever asked for (a bounded set: static/)
_VENDOR_HASHES: dict[Path, tuple[tuple, str]] = {}
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".map": "application/json",
          ".css": "text/css", ".html": "text/html", ".json": "application/json", ".svg": "image/svg+xml",
          ".wasm": "application/wasm"}


def media_type(path: Path) -> str:
    kind = _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") or kind == "application/json" else kind


def compressible(kind: str) -> bool:
    return kind.startswith(_COMPRESSIBLE)


def vendor_hash(vendor_dir: Path) -> str:
    """12 hex digits of SHA-256 over every vendored file's relative path and content.

    Remembered per process while no file's size or mtime changes: every app a process builds
    (tests build many) reads the ~10 MB once.
    """
    files = sorted(p for p in vendor_dir.rglob("*") if p.is_file()) if vendor_dir.is_dir() else []
    signature = tuple((p.as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    with _STORE_LOCK:
        known = _VENDOR_HASHES.get(vendor_dir)
        if known is not None and known[0] == signature:
            return known[1]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(vendor_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    with _STORE_LOCK:
        _VENDOR_HASHES[vendor_dir] = (signature, digest.hexdigest()[:12])
    return digest.hexdigest()[:12]


def cached_asset(key: str, path: Path, read: Callable[[], bytes], kind: str) -> Asset | None:
    """The :class:`Asset` for ``key``, built from ``read()`` once per change of ``path`` on disk.

    The store is per process, so the apps of one process share the compressed bytes. A per-file
    lock makes many clients asking for one file wait for one build instead of each compressing,
    while files already built are answered meanwhile.
    """
    try:
        stat = path.stat()
    except OSError:
        return None
    version = (stat.st_size, stat.st_mtime_ns)
    with _STORE_LOCK:
        known = _ASSETS.get(key)
        if known is not None and known[0] == version:
            return known[1]
        building = _BUILDING.setdefault(key, threading.Lock())
    with building:
        with _STORE_LOCK:
            known = _ASSETS.get(key)
        if known is None or known[0] != version:  # nobody built this version while we waited
            known = (version, Asset.build(read(), kind))
            with _STORE_LOCK:
                _ASSETS[key] = known
        return known[1]


def accepted_encodings(header: str) -> list[str]:
    """The encodings of ours that ``Accept-Encoding`` allows, best first (br before gzip)."""
    allowed: dict[str, float] = {}
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name.strip():
            allowed[name.strip().lower()] = quality
    star = allowed.get("*", 0.0)
    ours = ["br", "gzip"] if brotli is not None else ["gzip"]
    return [name for name in ours if allowed.get(name, star) > 0]


@dataclass(frozen=True)
class Asset:
    """One file in every form it is sent in; ``forms`` maps a Content-Encoding ("" = none) to bytes."""

    kind: str
    tag: str  # content hash: the ETag's core
    forms: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def build(cls, body: bytes, kind: str) -> Asset:
        forms = {"": body}
        if compressible(kind) and len(body) >= _MIN_COMPRESS:
            # mtime=0: the same bytes compress to the same output on every start (stable ETags).
            packed = {"gzip": gzip.compress(body, compresslevel=9, mtime=0)}
            if brotli is not None:
                packed["br"] = brotli.compress(body, quality=11)
            forms.update({name: data for name, data in packed.items() if len(data) < len(body)})
        return cls(kind=kind, tag=hashlib.sha256(body).hexdigest()[:20], forms=forms)

    def etag(self, encoding: str) -> str:
        return f'"{self.tag}-{encoding}"' if encoding else f'"{self.tag}"'

    def choose(self, accept_encoding: str) -> str:
        return next((name for name in accepted_encodings(accept_encoding) if name in self.forms), "")

    def matches(self, if_none_match: str) -> bool:
        """Whether ``If-None-Match`` names this file in any of its forms (weak comparison)."""
        for candidate in if_none_match.split(","):
            candidate = candidate.strip()
            if candidate == "*":
                return True
            core = candidate.removeprefix("W/").strip('"').split("-")[0]
            if core == self.tag:
                return True
        return False

    def headers(self, encoding: str, cache_control: str) -> list[tuple[bytes, bytes]]:
        headers = [(b"etag", self.etag(encoding).encode()), (b"cache-control", cache_control.encode())]
        if compressible(self.kind) and len(self.forms) > 1:
            headers.append((b"vary", b"Accept-Encoding"))
        return headers


class StaticAssets:
    """The ASGI app mounted at ``/static`` plus the page at ``/``, both served from memory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.version = vendor_hash(self.directory / VENDOR)
        self.vendor_path = f"{VENDOR}-{self.version}"

    # ------------------------------------------------------------------ the page

    def page_bytes(self) -> bytes | None:
        """index.html as served: its vendored URLs point at the versioned folder (None if absent)."""
        try:
            html = (self.directory / "index.html").read_bytes()
        except OSError:
            return None
        return html.replace(b"static/vendor/", f"static/{self.vendor_path}/".encode())

    def page(self) -> Asset | None:
        """The page as an :class:`Asset` (its own store key: /static/index.html is the raw file)."""
        path = self.directory / "index.html"
        return cached_asset(f"page:{path}:{self.version}", path, lambda: self.page_bytes() or b"",
                            "text/html; charset=utf-8")

    # ------------------------------------------------------------------ files

    def lookup(self, route_path: str) -> tuple[Asset, str] | None:
        """The asset at ``route_path`` (relative to /static) and its Cache-Control, or None."""
        parts = [p for p in route_path.split("/") if p]
        cache_control = REVALIDATE
        if parts and (versioned := _VERSIONED.fullmatch(parts[0])):
            parts[0] = VENDOR
            cache_control = IMMUTABLE if versioned.group(1) == self.version else REVALIDATE
        if not parts or any(p in (".", "..") or "\\" in p or "\0" in p for p in parts):
            return None
        path = self.directory.joinpath(*parts)
        try:
            resolved = path.resolve()
        except OSError:
            return None
        if not resolved.is_relative_to(self.directory) or not resolved.is_file():
            return None
        asset = cached_asset(str(resolved), resolved, resolved.read_bytes, media_type(resolved))
        return (asset, cache_control) if asset is not None else None

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        if scope["method"] not in ("GET", "HEAD"):
            await send_plain(send, 405, b"Method Not Allowed", [(b"allow", b"GET, HEAD")])
            return
        found = await asyncio.to_thread(self.lookup, get_route_path(scope))
        if found is None:
            await send_plain(send, 404, b"Not Found")
            return
        await send_asset(scope, send, *found)


def request_header(scope: dict, name: bytes) -> str:
    return next((v.decode("latin-1") for n, v in scope.get("headers", []) if n == name), "")


async def send_plain(send: Any, status: int, body: bytes, extra: list | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


def answer(asset: Asset, cache_control: str, accept_encoding: str,
           if_none_match: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body: the best form the client accepts, or 304 while its copy holds."""
    encoding = asset.choose(accept_encoding)
    headers = asset.headers(encoding, cache_control)
    if asset.matches(if_none_match):
        return 304, headers, b""
    body = asset.forms[encoding]
    headers += [(b"content-type", asset.kind.encode()), (b"content-length", str(len(body)).encode())]
    if encoding:
        headers.append((b"content-encoding", encoding.encode()))
    return 200, headers, body


async def send_asset(scope: dict, send: Any, asset: Asset, cache_control: str) -> None:
    status, headers, body = answer(asset, cache_control, request_header(scope, b"accept-encoding"),
                                   request_header(scope, b"if-none-match"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def page_response(asset: Asset, request: Request) -> Response:
    """The page (``/``) as a Response, with the same compression and revalidation as its files."""
    status, headers, body = answer(asset, REVALIDATE, request.headers.get("accept-encoding", ""),
                                   request.headers.get("if-none-match", ""))
    response = Response(content=body, status_code=status)
    response.raw_headers = headers
    return response
