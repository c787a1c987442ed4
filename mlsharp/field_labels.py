"""How a person calls each request field: errors name *Focal length*, not ``f_px``.

One table for the service's range checks (:mod:`mlsharp.service`) and the HTTP layer's
validation errors (:mod:`mlsharp.http.field_errors`), so both word a field alike. The names
follow the page's labels and the API docs.
"""

from __future__ import annotations

LABELS = {
    "file": "Photo",
    "files": "Photos",
    "f_px": "Focal length",
    "input_size": "Network input size",
    "max_gaussians": "Gaussian count",
    "webhook_url": "Webhook URL",
    "fmt": "Format",
    "name": "Download name",
}


def label(field: str) -> str:
    """``"f_px"`` -> ``"Focal length"``; an unlisted field in words (``job_id`` -> ``Job id``)."""
    return LABELS.get(field, field.replace("_", " ").capitalize())
