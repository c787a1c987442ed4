""""View in VR" is offered exactly where the browser says it can start an immersive session.

Headless Chromium has no WebXR, so this module's browser gets a stand-in ``navigator.xr`` before
any page script runs: it answers "immersive-vr is supported" and refuses to start a session (there
is no headset here). The button must then show, and pressing it must end in a worded error in the
export panel rather than an unhandled rejection. The hidden case is covered in test_exports.py.
"""

from __future__ import annotations

import pytest

from test_browser import browser, downloads, generate, open_page, photo, service  # noqa: F401
from ui_helpers import chromium_paths

PATHS = chromium_paths()
pytestmark = pytest.mark.skipif(isinstance(PATHS, str), reason=str(PATHS))

FAKE_XR = """
Object.defineProperty(navigator, 'xr', { configurable: true, value: {
  isSessionSupported: async (mode) => mode === 'immersive-vr',
  requestSession: async () => { throw new Error('no headset attached'); },
}});
"""


def test_vr_button_shown_when_webxr_is_offered(browser, service, photo) -> None:  # noqa: F811
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": FAKE_XR})
    open_page(browser, service)
    generate(browser, photo)
    button = browser.find_element("id", "vr-button")
    WebDriverWait(browser, 30).until(lambda d: button.is_displayed())
    button.click()
    status = browser.find_element("id", "export-status")
    WebDriverWait(browser, 30).until(lambda d: "no headset attached" in status.text)
    assert browser.execute_script("return window.__viewerState") == "ready"  # the scene stays on screen
