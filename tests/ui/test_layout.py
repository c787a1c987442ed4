"""The viewer's controls stay in reach: after generating, at a desktop and a phone window size, the
toolbar and Download are inside the window without scrolling by hand; the "?" overlay lists the
keys and gestures and closes on Esc and on a click outside it; a touch device gets touch words.

Real service (preview backend) and headless Chromium; the window size is applied with CDP device
metrics (a desktop window cannot be made phone-narrow) and checked through window.innerWidth.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from test_browser import browser, downloads, generate, open_page, photo  # noqa: F401 - shared fixtures
from ui_helpers import REPO_ROOT, chromium_paths, keep_screenshot, running_service

PATHS = chromium_paths()
pytestmark = pytest.mark.skipif(isinstance(PATHS, str), reason=str(PATHS))
OUT = REPO_ROOT / "test-output" / "ui"

IN_VIEW = """
const r = arguments[0].getBoundingClientRect();
return {top: r.top, left: r.left, bottom: r.bottom, right: r.right, w: r.width, h: r.height,
        vw: window.innerWidth, vh: window.innerHeight};
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> str:
    with running_service(tmp_path_factory.mktemp("svc")) as base:
        yield base


def in_viewport(browser, element) -> dict:
    box = browser.execute_script(IN_VIEW, element)
    box["inside"] = (box["w"] > 0 and box["h"] > 0 and box["top"] >= 0 and box["left"] >= 0
                     and box["bottom"] <= box["vh"] and box["right"] <= box["vw"])
    return box


def sized(browser, width: int, height: int, mobile: bool) -> None:
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


def assert_controls_in_reach(browser, width: int, height: int) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    assert browser.execute_script("return [window.innerWidth, window.innerHeight]") == [width, height]
    toolbar = browser.find_element("css selector", "#viewer .toolbar")
    download = browser.find_element("id", "download-link")
    # scenes.js scrolls the viewer into view once the scene is ready: wait for that, never sleep.
    WebDriverWait(browser, 20).until(lambda d: in_viewport(d, toolbar)["inside"] and in_viewport(d, download)["inside"])
    for control in toolbar.find_elements("css selector", ".tool"):
        assert in_viewport(browser, control)["inside"], (control.get_attribute("id"), in_viewport(browser, control))
    assert download.is_displayed() and urlsplit(download.get_attribute("href")).path.endswith(".ply")
    # The viewer fills the height it has: most of the window, not a fixed box.
    stage = in_viewport(browser, browser.find_element("id", "viewer-stage"))
    assert stage["inside"] and stage["h"] >= 0.5 * height, stage


@pytest.mark.parametrize("width, height, mobile", [(1400, 900, False), (390, 844, True)], ids=["desktop", "phone"])
def test_toolbar_and_download_are_on_screen_after_generating(browser, service, photo, width, height, mobile) -> None:
    sized(browser, width, height, mobile)
    try:
        open_page(browser, service)
        generate(browser, photo)
        assert_controls_in_reach(browser, width, height)
        OUT.mkdir(parents=True, exist_ok=True)
        keep_screenshot(browser, OUT / f"layout-{width}x{height}.png")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_help_overlay_opens_and_closes(browser, service) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    open_page(browser, service)
    button = browser.find_element("id", "help-button")
    overlay = browser.find_element("id", "help-overlay")
    assert button.get_attribute("aria-label") == "Keys and gestures" and not overlay.is_displayed()

    button.click()
    assert overlay.is_displayed() and button.get_attribute("aria-expanded") == "true"
    text = overlay.text
    assert "Pinch" in text and "V: fly mode" in text and "R: reset view" in text
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    WebDriverWait(browser, 5).until(lambda d: not overlay.is_displayed())
    assert button.get_attribute("aria-expanded") == "false"
    assert browser.switch_to.active_element == button  # focus back where it was

    button.click()
    assert overlay.is_displayed()
    browser.find_element("id", "history-heading").click()  # anywhere outside the overlay's panel
    WebDriverWait(browser, 5).until(lambda d: not overlay.is_displayed())

    # In Chinese, too.
    open_page(browser, service, lang="zh")
    browser.find_element("id", "help-button").click()
    assert "双指捏合" in browser.find_element("id", "help-overlay").text
    browser.find_element("id", "help-close").click()
    assert not browser.find_element("id", "help-overlay").is_displayed()


def test_touch_devices_get_touch_words(browser, service) -> None:
    sized(browser, 390, 844, True)
    browser.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    try:
        open_page(browser, service)
        assert browser.execute_script("return window.matchMedia('(pointer: coarse)').matches || 'ontouchstart' in window")
        drop = browser.find_element("id", "drop-text").text
        assert drop.startswith("Tap to choose a photo") and "Drop" not in drop
        help_line = browser.find_element("id", "viewer-help").text
        assert "pinch" in help_line.lower() and "Keys:" not in help_line
    finally:
        browser.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    open_page(browser, service)  # and a mouse-and-keyboard desktop keeps the drop wording
    assert browser.find_element("id", "drop-text").text.startswith("Drop a photo here")
