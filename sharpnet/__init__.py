"""SHARP (single-image 3D Gaussian splatting) as a self-contained PyTorch package.

The package knows nothing of HTTP: it turns a photo into Gaussians and Gaussians into a `.ply`.
Public entry points:

- :class:`sharpnet.config.SharpConfig` — the network's typed configuration (defaults = released model).
- :func:`sharpnet.models.build_model` — the network for a configuration.
- :class:`sharpnet.predictor.Predictor` — photo in, metric-space Gaussians out.
- :func:`sharpnet.io.ply.save_ply` / :func:`sharpnet.utils.photo.load_photo`.
"""

__version__ = "0.1.0"
