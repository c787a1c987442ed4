"""Scene files: the PLY reader and writer, and the export registry (:mod:`sharpnet.io.registry`)."""
