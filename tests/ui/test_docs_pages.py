"""The API docs render in a real headless Chromium with no network and under the service's CSP:
Swagger UI lists the operations and offers "Authorize" (the security schemes), ReDoc renders."""

from __future__ import annotations

import pytest

from ui_helpers import chromium_paths, make_driver, running_service

PATHS = chromium_paths()
pytestmark = pytest.mark.skipif(isinstance(PATHS, str), reason=str(PATHS))


@pytest.fixture(scope="module")
def browser_on_service(tmp_path_factory):
    chromium, chromedriver = PATHS
    with running_service(tmp_path_factory.mktemp("svc")) as base:
        driver = make_driver(chromium, chromedriver, tmp_path_factory.mktemp("profile"),
                             tmp_path_factory.mktemp("downloads"))
        try:
            yield driver, base
        finally:
            driver.quit()


def refused(driver) -> list[str]:
    """Scripts, styles, connections or workers the CSP blocked (the page would be broken). ReDoc's
    sidebar credit tries to load its logo from Redocly's CDN; the CSP blocks that image, which is
    the point (nothing leaves the machine), and the credit then shows as text."""
    return [entry["message"] for entry in driver.get_log("browser")
            if ("Content Security Policy" in entry["message"] and "Loading the image" not in entry["message"])
            or "ERR_" in entry["message"]]


def test_swagger_ui_renders_the_operations_and_the_authorize_button(browser_on_service):
    from selenium.webdriver.support.ui import WebDriverWait

    driver, base = browser_on_service
    driver.get(base.rstrip("/") + "/docs")
    WebDriverWait(driver, 60).until(lambda d: d.find_elements("css selector", ".opblock-summary-path"))
    paths = {e.text.replace("\u200b", "") for e in driver.find_elements("css selector", ".opblock-summary-path")}
    assert "/api/predict" in paths and "/api/health" in paths
    assert driver.find_elements("css selector", "button.authorize")
    assert not refused(driver)


def test_redoc_renders(browser_on_service):
    from selenium.webdriver.support.ui import WebDriverWait

    driver, base = browser_on_service
    driver.get(base.rstrip("/") + "/redoc")
    WebDriverWait(driver, 60).until(
        lambda d: "/api/predict" in d.execute_script("return document.body.innerText"))
    assert not refused(driver)
