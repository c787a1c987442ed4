"""/api/predict and the job routes: results, cache hits, bad requests, overload, crashes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from plyfile import PlyData

from mlsharp.limits import RateLimiter
from route_helpers import assert_error, crash_task, hang_task, poll_job, unique_png, upload
from svc_helpers import block_photo, png_bytes


def test_predict_then_download_a_valid_ply(client, photo_png):
    response = upload(client, photo_png)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success" and body["backend"] == "preview" and body["preview"] is True
    assert body["cache_hit"] is False
    assert (body["image_width"], body["image_height"]) == (96, 64)
    assert body["input_size"] == 512 and body["focal_source"] == "default"
    assert set(body["timings"]) == {"image_load", "inference", "ply_save", "total", "forward"}
    assert body["timings"]["forward"] is None  # the preview has no network forward
    assert body["processing_time"] == body["timings"]["total"] > 0
    assert body["url"] == f"/api/outputs/{body['id']}.ply?name=photo"  # named after the upload
    assert body["viewer_url"] == f"/api/outputs/{body['id']}.spz?name=photo"
    assert body["download_name"] == "photo" and body["max_gaussians"] is None
    assert "--download-model" in body["message"]

    download = client.get(body["url"])
    assert download.status_code == 200
    ply = PlyData.read(io.BytesIO(download.content))
    assert ply["vertex"].count == body["num_gaussians"]
    assert list(ply["image_size"]["image_size"]) == [96, 64]
    assert ply["intrinsic"]["intrinsic"][0] == pytest.approx(body["f_px"], rel=1e-6)


def test_same_photo_again_is_a_cache_hit(client):
    data = unique_png(1)
    first = upload(client, data).json()
    before = client.get("/api/cache").json()
    second = upload(client, data).json()
    after = client.get("/api/cache").json()
    assert second["cache_hit"] is True and second["id"] == first["id"]
    assert second["timings"]["inference"] == 0.0
    assert after["hits"] == before["hits"] + 1
    assert set(after) == {"enabled", "size", "max_size", "hits", "misses", "hit_rate"}
    assert 0.0 < after["hit_rate"] <= 100.0


def test_same_pixels_in_another_file_are_a_cache_hit(client):
    rgb = np.random.default_rng(2).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    first = upload(client, png_bytes(rgb)).json()
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", compress_level=1)  # different bytes, same pixels
    second = upload(client, buffer.getvalue(), name="other.png").json()
    assert second["cache_hit"] is True and second["id"] == first["id"]


def test_other_settings_are_not_a_cache_hit(client):
    data = unique_png(3)
    base = upload(client, data).json()
    other_focal = upload(client, data, f_px=123.5).json()
    other_size = upload(client, data, input_size=1024).json()
    assert other_focal["cache_hit"] is False and other_focal["focal_source"] == "user"
    assert other_focal["f_px"] == 123.5
    assert other_size["cache_hit"] is False and other_size["input_size"] == 1024
    assert len({base["id"], other_focal["id"], other_size["id"]}) == 3


def test_input_size_is_snapped(client):
    body = upload(client, unique_png(4), input_size=700).json()
    assert body["input_size"] == 704


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"%PDF-1.4 definitely not a photo", "not an image in a supported format"),
        (png_bytes(block_photo())[:200], "cannot use the upload as a photo"),  # truncated PNG
    ],
)
def test_unusable_uploads_are_400_with_a_detail(client, data, fragment):
    assert_error(upload(client, data), 400, fragment)


def test_wrong_extension_is_judged_by_content(client):
    response = upload(client, png_bytes(block_photo()), name="holiday.jpg")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"f_px": -3}, "Focal length must be between 1 and 1,000,000 pixels, got -3"),
        ({"f_px": "abc"}, "Focal length must be a number, got “abc”"),
        ({"f_px": "nan"}, "Focal length must be between"),
        ({"input_size": 0}, "Network input size must be between"),
        ({"input_size": 10**6}, "Network input size must be between"),
        ({"input_size": "big"}, "Network input size must be a whole number, got “big”"),
    ],
)
def test_bad_form_fields_are_422_with_a_one_line_detail(client, photo_png, fields, fragment):
    assert_error(upload(client, photo_png, **fields), 422, fragment)


def test_missing_file_field(client):
    assert_error(client.post("/api/predict", data={"f_px": "100"}), 422, "No photo was sent")


def test_body_over_the_limit_is_413(client):
    big = b"\0" * 1_200_000
    assert_error(upload(client, big), 413, "Upload too large: over the 1 MB limit")


def test_streamed_body_is_cut_off_at_the_limit(client):
    """No Content-Length (chunked): the limit is enforced on the bytes counted as they arrive."""
    boundary = "mlsharpboundary"

    def body():
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n"
               "Content-Type: image/png\r\n\r\n").encode()
        for _ in range(100):  # 100 x 64 KB = 6.4 MB if it were all read
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post("/api/predict", content=body(),
                           headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert_error(response, 413, "Upload too large: over the 1 MB limit")


def test_job_api_reports_progress_and_the_same_result(client):
    data = unique_png(7)
    accepted = client.post("/api/jobs", files={"file": ("p.png", data, "image/png")})
    assert accepted.status_code == 202
    job_id = accepted.json()["job_id"]
    assert accepted.json()["status_url"] == f"/api/jobs/{job_id}"
    status = poll_job(client, job_id)
    assert status["state"] == "done" and status["stage"] == "done" and status["error"] is None
    assert status["elapsed_s"] >= 0
    result = status["result"]
    assert result["backend"] == "preview" and result["num_gaussians"] > 0
    assert client.get(result["url"]).status_code == 200
    assert upload(client, data).json()["id"] == result["id"]  # and it landed in the cache


def test_an_upload_that_is_not_an_image_is_refused_before_a_job_exists(client, owner):
    before = owner.engine.queue_depth()
    assert_error(client.post("/api/jobs", files={"file": ("p.png", b"garbage", "image/png")}), 400, "not an image")
    assert owner.engine.queue_depth() == before and not list(owner.engine.photos.directory.iterdir())


def test_errors_found_by_the_worker_decode_are_reported_in_the_job(client, owner):
    truncated = png_bytes(block_photo())[:200]  # a valid header: only the full decode (worker) fails
    job_id = client.post("/api/jobs", files={"file": ("p.png", truncated, "image/png")}).json()["job_id"]
    status = poll_job(client, job_id)
    assert status["state"] == "error" and status["result"] is None
    assert status["error"]["status_code"] == 400
    assert "cannot use the upload as a photo" in status["error"]["detail"]
    assert not list(owner.engine.photos.directory.iterdir())  # the photo in flight is gone


def test_unknown_job_is_404(client):
    assert_error(client.get("/api/jobs/" + "f" * 32), 404, "no job")
    assert_error(client.get("/api/jobs/../../etc"), 404, "")


def test_beyond_max_concurrency_is_503_with_retry_after(client, owner, photo_png):
    service = owner.service
    held = 0
    try:
        while service.inflight < owner.config.performance.max_concurrency:
            service.admit()
            held += 1
        response = upload(client, photo_png)
        assert_error(response, 503, "Server busy")
        assert int(response.headers["Retry-After"]) >= 1
        job = client.post("/api/jobs", files={"file": ("p.png", photo_png, "image/png")})
        assert_error(job, 503, "Server busy")
    finally:
        for _ in range(held):
            service.release()
    assert upload(client, photo_png).status_code == 200


def test_rate_limit_is_429_with_retry_after(client, owner, photo_png):
    original = owner.rate_limiter
    owner.rate_limiter = RateLimiter(per_minute=2)
    try:
        assert upload(client, photo_png).status_code == 200
        assert upload(client, photo_png).status_code == 200
        response = upload(client, photo_png)
        assert_error(response, 429, "rate limit")
        assert int(response.headers["Retry-After"]) >= 1
        assert client.get("/api/health").status_code == 200  # only prediction routes are limited
    finally:
        owner.rate_limiter = original


def test_worker_crash_fails_that_request_and_the_next_succeeds(client, owner, monkeypatch):
    restarts = owner.models.pool.restarts
    monkeypatch.setattr("mlsharp.engines.batching.execute", crash_task)
    assert_error(upload(client, unique_png(8)), 500, "worker process died")
    monkeypatch.undo()
    assert owner.models.pool.restarts == restarts + 1
    body = upload(client, unique_png(8)).json()
    assert body["status"] == "success" and body["cache_hit"] is False
    leftovers = [p for p in owner.cache.directory.iterdir() if p.name.endswith(".part")]
    assert leftovers == []


def test_a_prediction_past_the_timeout_is_504(client, monkeypatch):
    monkeypatch.setattr("mlsharp.engines.batching.execute", hang_task)
    assert_error(upload(client, unique_png(9)), 504, "longer than 3 s")
    monkeypatch.undo()
    assert upload(client, unique_png(9)).status_code == 200
