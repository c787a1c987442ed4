"""deploy/compose.yaml: it parses, has the services the README describes, and every MLSHARP_*
variable it sets is a real config key with a valid value (Docker itself is not run here)."""

from __future__ import annotations

from pathlib import Path

import yaml

from mlsharp.config import ENV_PREFIX, load_config

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def test_the_services_are_there_and_the_worker_reserves_a_gpu():
    services = compose()["services"]
    assert {"api", "worker", "redis", "minio"} <= set(services)
    devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"] and devices[0]["count"] == 1
    assert services["worker"]["command"][:3] == ["python", "app.py", "worker"]
    assert (DEPLOY / services["api"]["build"]["dockerfile"].removeprefix("deploy/")).is_file()


def test_every_mlsharp_variable_is_a_config_key_and_the_roles_agree(monkeypatch):
    services = compose()["services"]
    for role in ("api", "worker"):
        env = services[role]["environment"]
        for key, value in env.items():
            if key.startswith(ENV_PREFIX):
                monkeypatch.setenv(key, str(value))
        config, _ = load_config(use_default_file=False)  # raises on an unknown key or bad value
        for key in env:
            if key.startswith(ENV_PREFIX):
                monkeypatch.delenv(key)
        assert config.jobs.engine == "dramatiq" and config.jobs.redis_url == "redis://redis:6379/0"
        assert config.storage.results == "s3://mlsharp/results"
        assert config.storage.s3_endpoint_url == "http://minio:9000"
