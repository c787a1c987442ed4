"""Command-line entry points of the network package (``python app.py predict`` dispatches here)."""
