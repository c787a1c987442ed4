"""A job's life as the page shows it, against the real service with its forwards held at a gate
(ui_gate.py), so the test -- not a race -- decides when each scene is ready.

* Progressive (optimization.progressive on, preview backend): the draft is shown at once,
  labelled; the user moves the camera; the final scene replaces the draft where the camera was
  left, and the Result card then describes the final scene.
* Cancel: pressing it while the job runs cancels the job on the service (DELETE api/jobs/{id}),
  not only the page's polling.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ui_helpers import chromium_paths, make_driver, running_service, shapes_photo, wait_idle

PATHS = chromium_paths()
pytestmark = pytest.mark.skipif(isinstance(PATHS, str), reason=str(PATHS))
LOAD_TIMEOUT = 180  # seconds; software WebGL on a loaded 2-core machine
DRAFT_SIDE, FINAL_SIDE = 512, 1024
POSE = """const v = window.__mlsharpViewer;
  return {position: v.camera.position.toArray(), quaternion: v.camera.quaternion.toArray(),
          target: v.orbit.target.toArray(), fov: v.camera.fov};"""


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    root = tmp_path_factory.mktemp("job-flow")
    gate = root / "gate"
    gate.mkdir()
    chromium, chromedriver = PATHS
    overrides = {"optimization": {"progressive": True, "progressive_size": DRAFT_SIDE}}
    with running_service(root, overrides=overrides, gate=gate) as base:
        driver = make_driver(chromium, chromedriver, root / "profile", root / "downloads")
        try:
            yield base, driver, gate
        finally:
            driver.quit()


def open_page(browser, base: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(base)
    browser.execute_script("localStorage.setItem('mlsharp.lang', 'en'); sessionStorage.clear();")
    browser.get(base)
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return window.__viewerState") == "idle")


def start_job(browser, photo: Path, side: int) -> None:
    from selenium.webdriver.support.ui import Select

    browser.find_element("id", "photo-input").send_keys(str(photo))
    browser.find_element("css selector", "details.settings summary").click()
    Select(browser.find_element("id", "size-select")).select_by_value(str(side))
    browser.find_element("id", "generate-button").click()


def shown(browser, draft: bool) -> bool:
    """The viewer has drawn a service scene and the draft label says whether it is the draft."""
    return browser.execute_script("""
        const info = window.__viewerInfo || {};
        return window.__viewerState === 'ready' && info.source === 'result'
          && !document.getElementById('viewer-loading').offsetParent
          && Boolean(document.getElementById('viewer-draft').offsetParent) === arguments[0];""", draft)


def test_draft_then_final_keeps_the_camera(gated, tmp_path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    base, browser, gate = gated
    (gate / f"open-{DRAFT_SIDE}").touch()  # the draft's forward runs; the final's waits
    open_page(browser, base)
    start_job(browser, shapes_photo(tmp_path / "progressive.png"), FINAL_SIDE)

    WebDriverWait(browser, LOAD_TIMEOUT).until(lambda d: shown(d, draft=True))
    assert browser.find_element("id", "viewer-draft").text == "Draft · the full scene is on its way"
    assert browser.find_element("id", "res-draft-note").is_displayed()
    draft_count = browser.execute_script("return window.__viewerInfo.numSplats")
    draft_url = browser.find_element("id", "download-link").get_attribute("href")
    assert not (gate / f"open-{FINAL_SIDE}").exists() and (gate / f"waiting-{FINAL_SIDE}").exists()

    # The user moves the camera on the draft: closer, and sideways (target and camera together).
    # Set through the viewer, not keys: orbit damping would take ~100 software-rendered frames.
    browser.execute_script("""const v = window.__mlsharpViewer;
      v.zoom(0.6);
      v.camera.position.x += 0.25; v.orbit.target.x += 0.25;
      v.orbit.update(); v.requestRender();""")
    wait_idle(browser)
    moved = browser.execute_script(POSE)

    (gate / f"open-{FINAL_SIDE}").touch()  # now the final scene may come
    WebDriverWait(browser, LOAD_TIMEOUT).until(lambda d: shown(d, draft=False))
    wait_idle(browser)
    final_count = browser.execute_script("return window.__viewerInfo.numSplats")
    assert final_count > draft_count  # 1024 input: a finer grid than the 512 draft

    after = browser.execute_script(POSE)
    for key in ("position", "quaternion", "target"):
        assert np.allclose(after[key], moved[key], atol=1e-4), (key, moved[key], after[key])
    assert after["fov"] == pytest.approx(moved["fov"])
    assert np.linalg.norm(after["position"]) > 1e-3  # not reset to the photo's viewpoint

    # The Result card and Download now describe the final scene.
    assert not browser.find_element("id", "res-draft-note").is_displayed()
    count = browser.find_element("id", "res-count").text
    assert int(count.replace(",", "")) == final_count
    final_url = browser.find_element("id", "download-link").get_attribute("href")
    assert final_url != draft_url and not browser.find_element("id", "download-link").get_attribute(
        "download").endswith("-draft.ply")
    assert browser.find_element("id", "export-card").is_displayed()


def test_cancel_cancels_the_job_on_the_service(gated, tmp_path) -> None:
    import httpx
    from selenium.webdriver.support.ui import WebDriverWait

    base, browser, gate = gated
    open_page(browser, base)
    start_job(browser, shapes_photo(tmp_path / "to-cancel.png", 600, 400), 1536)  # its 1536 forward never opens

    job_id = WebDriverWait(browser, 60).until(
        lambda d: d.execute_script("return document.getElementById('progress').dataset.job"))
    status = lambda: httpx.get(f"{base}api/jobs/{job_id}", timeout=10).json()  # noqa: E731
    WebDriverWait(browser, 60, poll_frequency=0.2).until(lambda d: status()["state"] == "running")
    browser.find_element("id", "cancel-button").click()

    WebDriverWait(browser, 60, poll_frequency=0.2).until(lambda d: status()["state"] == "cancelled")
    final = status()
    assert final["result"] is None and final["error"] is None
    WebDriverWait(browser, 30).until(lambda d: not d.find_element("id", "progress").is_displayed())
    assert browser.find_element("id", "generate-button").is_enabled()
    assert not browser.find_element("id", "error-box").is_displayed()
