"""How one request wants its result handed back: the file name of its downloads, the density of its scene.

Both are per *request*, never per cache entry. Two uploads of the same photo share one cached
output (one id), so a name stored with the entry would give the second person the first one's
file name (and tell them what the other called their photo). Instead the request's
:class:`Delivery` rides in the query of the URLs its answer carries
(``/api/outputs/<id>.ply?name=beach``, ``...&max_gaussians=200000``); the download route names
the file from that query, and a URL without one is named after the output id as before.
A name in a URL can only rename the caller's own download: it is reduced to a plain stem here
and the extension always comes from the format.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, urlencode

MAX_STEM = 120  # characters; file systems allow 255 bytes, and the suffix and a density tag follow
_UNSAFE = re.compile(r'["\'`<>:|?*;,\\/]')  # quotes, path separators and what Windows refuses
_SPACES = re.compile(r"\s+")
_FORM_ESCAPES = re.compile(r"%(?:22|0d|0a)", re.IGNORECASE)


def clean_name(text: str | None) -> str | None:
    """``text`` as a safe file-name stem: control characters, quotes, path separators and what file
    systems refuse removed, spaces collapsed, leading dots dropped (no hidden files, no ``..``);
    None when nothing is left. Applied to the upload's name and again to a URL's ``?name=``."""
    if not text:
        return None
    name = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
    name = _SPACES.sub(" ", _UNSAFE.sub("", name)).strip().lstrip(".").strip()
    return name[:MAX_STEM].rstrip() or None


def download_stem(filename: str | None) -> str | None:
    """The upload's file name reduced to a safe stem (``"../x/中文.jpg"`` -> ``"中文"``), or None.

    Path parts are dropped first (both separators: browsers on Windows may send ``C:\\...``),
    then the extension, then :func:`clean_name`. Browsers send a quote or line break in a
    multipart file name as ``%22``/``%0D``/``%0A`` (HTML's form encoding): those go as well.
    """
    if not filename:
        return None
    name = _FORM_ESCAPES.sub("", re.split(r"[\\/]", filename)[-1])
    stem, dot, _ = name.rpartition(".")
    return clean_name(stem if dot and stem.strip(". ") else name)


def _ascii(text: str) -> str:
    """``text`` folded to printable ASCII (accents dropped: ``café`` -> ``cafe``)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded if 32 <= ord(ch) < 127).strip()


@dataclass(frozen=True)
class Delivery:
    """``name``: the stem downloads are named after (None: the output id); ``max_gaussians``: the
    density the answer's URLs serve (None: every Gaussian). The full scene is what is cached."""

    name: str | None = None
    max_gaussians: int | None = None

    def query(self, density: bool = True) -> str:
        """The URL query that carries this delivery (``""`` when there is nothing to carry)."""
        params: dict[str, str | int] = {}
        if self.name:
            params["name"] = self.name
        if density and self.max_gaussians is not None:
            params["max_gaussians"] = self.max_gaussians
        return "?" + urlencode(params, quote_via=quote) if params else ""

    def filename(self, output_id: str, tail: str) -> str:
        """``<name or output id><tail>``: the name a download is saved under."""
        return f"{self.name or output_id}{tail}"

    def disposition(self, output_id: str, tail: str) -> str:
        """The ``Content-Disposition`` of a download: ``attachment; filename="..."``, plus RFC 5987
        ``filename*=UTF-8''...`` when the name is not plain ASCII. The ASCII ``filename=`` (for old
        clients) is the name with accents folded, or the output id when little of it is ASCII
        (``中文``)."""
        wanted = self.filename(output_id, tail)
        plain = _ascii(self.name or "")
        if self.name and plain == self.name:
            return f'attachment; filename="{wanted}"'
        fallback = plain if any(ch.isalnum() for ch in plain) else output_id
        header = f'attachment; filename="{fallback}{tail}"'
        if self.name:
            header += f"; filename*=UTF-8''{quote(wanted, safe='')}"
        return header
