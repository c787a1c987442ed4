"""MLSharp service layer: configuration, backends, worker pool, result cache and the HTTP API.

Nothing here runs at import time; :func:`app.MLSharpApp` assembles the pieces.
"""

__version__ = "1.0.0"
