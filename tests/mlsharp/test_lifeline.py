"""Workers die with their server: a SIGKILLed server leaves no worker or resource tracker behind,
and a worker whose server is gone publishes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from svc_helpers import launch_app

REPO = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            out.extend(children)
            todo.extend(children)
    return out


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for init to reap it; it holds nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_for(condition, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to find the workers")
def test_sigkilled_server_leaves_no_worker_alive(tmp_path):
    server, _ = launch_app(tmp_path, {
        "cache": {"dir": str(tmp_path / "cache")},
        "model": {"temp_dir": str(tmp_path / "tmp"), "checkpoint": str(tmp_path / "absent.pt")},
        "inference": {"input_size": [512, 512]}, "performance": {"max_workers": 2},
    })
    try:
        children = descendants(server.pid)
        assert len(children) >= 3  # two workers + the resource tracker
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        assert wait_for(lambda: not any(running(pid) for pid in children), 10.0), \
            [pid for pid in children if running(pid)]
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)


@pytest.mark.parametrize("parent, code, published", [
    ("-1", 1, False),  # a parent pid that is not ours stands for "the server died" (re-parented)
    ("os.getppid()", 0, True),
])
def test_a_worker_publishes_only_while_its_server_lives(tmp_path, parent, code, published):
    staged, final = tmp_path / ".x.ply.part", tmp_path / "x.ply"
    staged.write_bytes(b"ply")
    script = ("import os, sys; from pathlib import Path; import mlsharp.lifeline as l; "
              f"l._parent_pid = {parent}; l.publish(Path(sys.argv[1]), Path(sys.argv[2]))")
    result = subprocess.run([sys.executable, "-c", script, str(staged), str(final)], cwd=REPO, timeout=60)
    assert result.returncode == code
    assert final.exists() is published and not staged.exists()


@pytest.mark.parametrize("parent, code, uploaded", [("-1", 1, False), ("os.getppid()", 0, True)])
def test_an_upload_is_made_only_while_its_server_lives(tmp_path, parent, code, uploaded):
    """The remote-store form: an orphaned worker exits instead of reporting a scene it never stored."""
    staged, bucket = tmp_path / "x.ply.part", tmp_path / "bucket"
    staged.write_bytes(b"ply")
    script = ("import os, shutil, sys; from pathlib import Path; import mlsharp.lifeline as l; "
              f"l._parent_pid = {parent}; "
              "l.publish_with(Path(sys.argv[1]), lambda p: shutil.move(p, sys.argv[2])); print('stored')")
    result = subprocess.run([sys.executable, "-c", script, str(staged), str(bucket)], cwd=REPO, timeout=60,
                            capture_output=True, text=True)
    assert result.returncode == code
    assert bucket.exists() is uploaded and not staged.exists()
    assert ("stored" in result.stdout) is uploaded
