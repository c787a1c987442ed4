"""The page's batch queue in real headless Chromium: two photos dropped at once, both scenes shown,
"Download all (.zip)" saves a zip holding both scenes and the manifest.

The drop is a real ``drop`` event carrying a ``DataTransfer`` with two ``File`` objects (what the
browser hands the page when a person drops files), not a call into the page's code.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest

from ui_helpers import chromium_paths, make_driver, running_service, shapes_photo, wait_for_file, wait_idle

PATHS = chromium_paths()
pytestmark = pytest.mark.skipif(isinstance(PATHS, str), reason=str(PATHS))
LOAD_TIMEOUT = 180

DROP = """
const dt = new DataTransfer();
for (const [name, b64] of arguments[0]) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  dt.items.add(new File([bytes], name, { type: "image/png" }));
}
for (const type of ["dragenter", "dragover", "drop"]) {
  window.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
}
"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch-ui")
    downloads = root / "downloads"
    downloads.mkdir()
    chromium, chromedriver = PATHS
    with running_service(root) as base:
        driver = make_driver(chromium, chromedriver, root / "profile", downloads)
        try:
            yield base, driver, downloads
        finally:
            driver.quit()


def photo_b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_two_photos_dropped_at_once_are_queued_shown_and_zipped(page, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    base, browser, downloads = page
    browser.get(base)
    browser.execute_script("localStorage.setItem('mlsharp.lang', 'en'); sessionStorage.clear();")
    browser.get(base)
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return window.__viewerState") == "idle")
    photos = [shapes_photo(tmp_path / "left.png"), shapes_photo(tmp_path / "right.png", 480, 640)]
    browser.execute_script(DROP, [[p.name, photo_b64(p)] for p in photos])

    WebDriverWait(browser, LOAD_TIMEOUT).until(
        lambda d: d.execute_script("return document.getElementById('batch-card')?.dataset.state") == "done")
    lines = browser.find_elements("css selector", "#batch-list .batch-item")
    assert [line.find_element("css selector", ".batch-name").text for line in lines] == ["left.png", "right.png"]
    assert [line.get_attribute("data-state") for line in lines] == ["done", "done"]
    assert "2 of 2 done" in browser.find_element("id", "batch-summary").text

    for index, name in enumerate(("left.png", "right.png")):
        line = browser.find_elements("css selector", "#batch-list .batch-item")[index]
        line.find_element("css selector", ".batch-view").click()
        WebDriverWait(browser, LOAD_TIMEOUT).until(
            lambda d, name=name: d.execute_script("return window.__viewerState") == "ready"
            and name in d.find_element("id", "viewer-stats").text)
        assert not browser.find_element("id", "error-box").is_displayed()
        assert browser.execute_script("return window.__viewerInfo.numSplats") > 1000
        wait_idle(browser)
    history = [e.text for e in browser.find_elements("css selector", "#history-list .history-item")]
    assert any("left.png" in h for h in history) and any("right.png" in h for h in history)

    browser.find_element("id", "batch-download").click()
    archive = zipfile.ZipFile(io.BytesIO(wait_for_file(downloads, ".zip", deadline_s=60).read_bytes()))
    assert sorted(archive.namelist()) == ["left.ply", "manifest.json", "right.ply"]
    manifest = json.loads(archive.read("manifest.json"))
    assert [(p["photo"], p["state"]) for p in manifest["photos"]] == [("left.png", "done"), ("right.png", "done")]
    assert archive.read("left.ply").startswith(b"ply\n")
