"""Client-controlled text is bounded and credentials in query strings are replaced."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app import MLSharpApp
from mlsharp.redact import clip, redact_target
from svc_helpers import service_config


def test_clip_keeps_short_text_and_says_how_much_it_cut():
    assert clip("short") == "short"
    assert clip("x" * 1000, 10) == "x" * 10 + "... (990 more characters)"


def test_credential_parameters_are_replaced_and_others_kept():
    assert redact_target("/a?token=t&access_token=u&X-Api-Key=k&sig=s&page=2") == \
        "/a?token=REDACTED&access_token=REDACTED&X-Api-Key=REDACTED&sig=REDACTED&page=2"
    assert redact_target("/plain/path") == "/plain/path"


def test_an_unknown_job_id_is_not_echoed_unbounded(tmp_path):
    with TestClient(MLSharpApp(service_config(tmp_path)).app) as client:
        response = client.get("/api/jobs/" + "z" * 50_000)
    assert response.status_code == 404
    assert len(response.json()["detail"]) < 300
