"""One real app (real worker process, preview backend) shared by every route test in this folder."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app import MLSharpApp
from svc_helpers import service_config


@pytest.fixture(scope="session")
def owner(tmp_path_factory):
    root = tmp_path_factory.mktemp("routes")
    config = service_config(root, limits={"max_upload_mb": 1.0}, performance={"predict_timeout": 3.0})
    return MLSharpApp(config)


@pytest.fixture(scope="session")
def client(owner):
    with TestClient(owner.app) as client:
        yield client
