"""The slow-rendering notice and "Lighter view" (static/js/perf.js, static/js/lighter.js) in headless Chromium.

Headless Chromium draws WebGL with SwiftShader, a software rasteriser: exactly the slow browser the
notice is for. It must say so, "Lighter view" must show fewer Gaussians in the viewer while every
download still points at the full scene, and turning it off must bring the full scene back.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from test_browser import LOAD_TIMEOUT, browser, downloads, generate, open_page, photo, service  # noqa: F401
from ui_helpers import canvas_image, chromium_paths, lit_fraction, wait_idle

PATHS = chromium_paths()
pytestmark = pytest.mark.skipif(isinstance(PATHS, str), reason=str(PATHS))


def reload_with(browser, button) -> dict:
    """Click `button`, which reloads the scene, and answer the viewer's info once it is drawn."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.__viewerState = 'reloading'")  # the load sets it to 'ready' again
    button.click()
    WebDriverWait(browser, LOAD_TIMEOUT).until(lambda d: d.execute_script("return window.__viewerState") == "ready")
    wait_idle(browser)
    return browser.execute_script("return window.__viewerInfo")


def test_software_rendering_notice_and_lighter_view(browser, service, photo) -> None:
    open_page(browser, service)
    info = generate(browser, photo)
    full = info["numSplats"]
    assert info["software"] is True and "swiftshader" in info["renderer"].lower(), info
    assert browser.execute_script("return window.__mlsharpViewer.speed.frameMs") > 0  # frames were timed

    notice = browser.find_element("id", "slow-notice")
    assert notice.is_displayed() and "without a graphics card" in notice.text
    lighter = browser.find_element("id", "lighter-button")
    assert lighter.text == "Lighter view" and lighter.get_attribute("aria-pressed") == "false"
    link = browser.find_element("id", "download-link")
    download_url = link.get_attribute("href")
    export_urls = browser.execute_script(
        "return [...document.querySelectorAll('#export-list button[data-url]')].map((b) => b.dataset.url)")
    assert urlsplit(download_url).path.endswith(".ply") and export_urls  # ?name=<photo stem> follows

    reduced = reload_with(browser, lighter)
    assert lighter.get_attribute("aria-pressed") == "true"
    assert reduced["numSplats"] == max(5000, round(full / 4)) < full, (reduced["numSplats"], full)
    assert lit_fraction(canvas_image(browser)) > 0.3  # the lighter scene still draws
    assert "Lighter view is on" in notice.text
    # Only the viewer's copy is reduced: the downloads are the full scene, as before.
    assert link.get_attribute("href") == download_url and "max_gaussians" not in download_url
    assert browser.execute_script(
        "return [...document.querySelectorAll('#export-list button[data-url]')].map((b) => b.dataset.url)") == export_urls
    assert not any("max_gaussians" in url for url in export_urls)
    assert f"{reduced['numSplats']:,}" in browser.find_element("id", "viewer-stats").text

    restored = reload_with(browser, lighter)
    assert lighter.get_attribute("aria-pressed") == "false" and restored["numSplats"] == full
