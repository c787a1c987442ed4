"""Checkpoint download: atomic on success, fast and clean on failure (a local HTTP server, no internet)."""

from __future__ import annotations

import http.server
import io
import threading

import pytest

from mlsharp.download import DownloadError, download

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == "/ok.pt":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path == "/short.pt":  # promises more than it sends, then hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD) * 2))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        else:
            self.send_error(404, "Not Found")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_writes_the_file_atomically(server, tmp_path):
    target = tmp_path / "assets" / "model.pt"
    progress = io.StringIO()
    assert download(f"{server}/ok.pt", target, stream=progress) == target
    assert target.read_bytes() == PAYLOAD
    assert [p.name for p in target.parent.iterdir()] == ["model.pt"]
    assert "100.0%" in progress.getvalue()


def test_http_error_is_one_line_and_leaves_nothing(server, tmp_path):
    target = tmp_path / "model.pt"
    with pytest.raises(DownloadError, match="404"):
        download(f"{server}/missing.pt", target, stream=io.StringIO())
    assert list(tmp_path.iterdir()) == []


def test_truncated_transfer_is_not_kept(server, tmp_path):
    target = tmp_path / "model.pt"
    with pytest.raises(DownloadError):
        download(f"{server}/short.pt", target, stream=io.StringIO(), connect_timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_fails_with_what_to_do(tmp_path):
    target = tmp_path / "model.pt"
    with pytest.raises(DownloadError) as info:
        download("http://127.0.0.1:9/sharp.pt", target, stream=io.StringIO(), connect_timeout=3)
    message = str(info.value)
    assert "cannot reach" in message and str(target) in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []
