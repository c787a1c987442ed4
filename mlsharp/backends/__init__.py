"""Prediction backends: photo pixels + focal length in, :class:`sharpnet.gaussians.Gaussians` out.

``preview`` is embedded and needs no weights; ``sharp`` wraps the real network. Both are built
inside worker processes from a picklable :class:`~mlsharp.backends.base.BackendSpec`.
"""

from mlsharp.backends.base import Backend, BackendSpec, BackendUnavailable, load_backend

__all__ = ["Backend", "BackendSpec", "BackendUnavailable", "load_backend"]
