"""End to end in a real headless Chromium against the real service (``python app.py``, preview backend).

What a person does: open the page, pick a photo, generate, look at the scene, download the .ply,
reopen it; plus the error paths, the language switch, a phone-sized window and the keyboard.
Screenshots go to test-output/ui/ (scene.png is the one to look at: it must look like the photo).
Skips only when chromium / chromedriver / selenium are not installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ui_helpers import (
    REPO_ROOT,
    canvas_image,
    chromium_paths,
    keep_screenshot,
    lit_fraction,
    make_driver,
    mean_abs_diff,
    photo_area,
    running_service,
    shapes_photo,
    wait_for_file,
    wait_idle,
)

PATHS = chromium_paths()
pytestmark = pytest.mark.skipif(isinstance(PATHS, str), reason=str(PATHS))
OUT = REPO_ROOT / "test-output" / "ui"
LOAD_TIMEOUT = 180  # seconds; software WebGL on a 2-core CI machine, ~2 s typical


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> str:
    with running_service(tmp_path_factory.mktemp("svc")) as base:
        yield base


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory, downloads):
    chromium, chromedriver = PATHS
    driver = make_driver(chromium, chromedriver, tmp_path_factory.mktemp("profile"), downloads)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    return shapes_photo(tmp_path_factory.mktemp("photo") / "shapes.png")


def open_page(browser, service: str, lang: str = "en") -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(service)
    browser.execute_script("localStorage.setItem('mlsharp.lang', arguments[0]); sessionStorage.clear();", lang)
    browser.get(service)
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return window.__viewerState") == "idle")
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element("id", "service-status").get_attribute("class") != "pill")


def wait_ready(browser, previous_source: str | None = None) -> dict:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, LOAD_TIMEOUT).until(
        lambda d: d.execute_script("return window.__viewerState") in ("ready", "error")
        or d.find_element("id", "error-box").is_displayed())
    assert not browser.find_element("id", "error-box").is_displayed(), browser.find_element("id", "error-text").text
    assert browser.execute_script("return window.__viewerState") == "ready"
    wait_idle(browser)
    return browser.execute_script("return window.__viewerInfo")


def choose_size(browser, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    browser.find_element("css selector", "details.settings summary").click()
    Select(browser.find_element("id", "size-select")).select_by_value(value)


def generate(browser, photo: Path) -> dict:
    browser.find_element("id", "photo-input").send_keys(str(photo))
    choose_size(browser, "512")
    button = browser.find_element("id", "generate-button")
    assert button.is_enabled()
    button.click()
    return wait_ready(browser)


def test_photo_to_scene_to_download(browser, service, photo, downloads) -> None:
    from sharpnet.io.ply import read_ply

    open_page(browser, service)
    banner = browser.find_element("id", "preview-banner")
    assert banner.is_displayed() and "--download-model" in banner.text and "model_assets/" in banner.text

    info = generate(browser, photo)
    assert info["source"] == "result" and info["numSplats"] > 10000 and not info["blank"]

    OUT.mkdir(parents=True, exist_ok=True)
    keep_screenshot(browser, OUT / "scene.png")
    canvas = canvas_image(browser)
    canvas.save(OUT / "scene-canvas.png")
    assert lit_fraction(canvas) > 0.3, "the viewer canvas is (nearly) blank"

    # From its own viewpoint the scene is the photo: compare where the photo should appear.
    from PIL import Image
    original = Image.open(photo)
    seen = photo_area(canvas, *original.size)
    error = mean_abs_diff(seen, original)
    upside_down = mean_abs_diff(seen, original.transpose(Image.FLIP_TOP_BOTTOM))
    mirrored = mean_abs_diff(seen, original.transpose(Image.FLIP_LEFT_RIGHT))
    assert error < 25 and error * 2 < min(upside_down, mirrored), (error, upside_down, mirrored)

    # Result card and download: a valid SHARP PLY of the scene on screen.
    assert browser.find_element("id", "result-card").is_displayed()
    link = browser.find_element("id", "download-link")
    from urllib.parse import urlsplit
    assert urlsplit(link.get_attribute("href")).path.endswith(".ply")
    link.click()
    ply_path = wait_for_file(downloads, ".ply")
    assert ply_path.name == "shapes.ply", "the download is named after the photo, not the output id"
    gaussians, meta = read_ply(ply_path)
    assert len(gaussians) == info["numSplats"]
    assert (meta.image_width, meta.image_height) == original.size

    # The same scene opened from the downloaded .ply draws like the .spz the viewer got first:
    # the service's SPZ encoding (sharpnet.io.spz) agrees with Spark's decoder.
    browser.find_element("id", "scene-input").send_keys(str(ply_path))
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(browser, LOAD_TIMEOUT).until(
        lambda d: (d.execute_script("return window.__viewerInfo") or {}).get("source") == "file"
        and d.execute_script("return window.__viewerState") == "ready")
    wait_idle(browser)
    from_ply = canvas_image(browser)
    from_ply.save(OUT / "scene-from-ply.png")
    assert mean_abs_diff(from_ply, canvas) < 6.0

    # Session history: two entries; reopening the generated one shows it again.
    items = browser.find_elements("css selector", "#history-list .history-item")
    assert len(items) == 2
    items[1].click()  # newest first: [the opened file, the generated result]
    WebDriverWait(browser, LOAD_TIMEOUT).until(
        lambda d: (d.execute_script("return window.__viewerInfo") or {}).get("source") == "result"
        and d.execute_script("return window.__viewerState") == "ready")


def test_viewer_controls_keyboard_fly_and_splat_scale(browser, service, photo) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    open_page(browser, service)
    generate(browser, photo)
    position = "return window.__mlsharpViewer.camera.position.toArray()"
    canvas = browser.find_element("id", "viewer-canvas")
    before = canvas_image(browser)

    canvas.click()
    canvas.send_keys("v")  # fly mode
    fly = browser.find_element("id", "fly-button")
    assert fly.get_attribute("aria-pressed") == "true"
    start = browser.execute_script(position)
    from selenium.webdriver.common.action_chains import ActionChains
    # Hold W until the camera has moved (a slow software-rendered frame must not end the press first).
    ActionChains(browser).key_down("w", canvas).perform()
    try:
        WebDriverWait(browser, 20).until(lambda d: d.execute_script(position)[2] > start[2] + 1e-3)  # forward = +z
    finally:
        ActionChains(browser).key_up("w", canvas).perform()
    canvas.send_keys("v")
    assert fly.get_attribute("aria-pressed") == "false"
    canvas.send_keys("r")  # reset: back to the photo's viewpoint
    WebDriverWait(browser, 10).until(lambda d: np.allclose(d.execute_script(position), 0, atol=1e-6))

    scale = browser.find_element("id", "scale-input")
    scale.send_keys(Keys.HOME)  # smallest splats, by keyboard (gaps open between them)
    assert browser.execute_script("return window.__mlsharpViewer.splatScale.value") == pytest.approx(0.2)
    assert browser.find_element("id", "scale-output").text.startswith("0.20")
    wait_idle(browser)
    assert mean_abs_diff(canvas_image(browser), before) > 1.0

    # Every control in the toolbar is reachable with Tab and has a name.
    for control in browser.find_elements("css selector", ".toolbar button, .toolbar input"):
        assert control.get_attribute("tabindex") != "-1" and (control.text or control.get_attribute("aria-label")
                                                              or control.get_attribute("type") == "range")


def test_rejected_files_and_busy_service_are_explained(browser, service, tmp_path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    open_page(browser, service)
    error = browser.find_element("id", "error-box")

    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a photo")
    browser.find_element("id", "photo-input").send_keys(str(text_file))
    assert error.is_displayed() and "notes.txt" in error.text and "not a photo" in error.text

    fake = tmp_path / "broken.jpg"  # looks like a photo by name; the service rejects the bytes
    fake.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    browser.find_element("id", "photo-input").send_keys(str(fake))
    assert not error.is_displayed()
    browser.find_element("id", "generate-button").click()
    WebDriverWait(browser, 60).until(lambda d: error.is_displayed())
    assert error.text.startswith("The photo was rejected")

    # A 503 from an overloaded service: the page says so and when to retry.
    browser.execute_script("""
        const real = window.fetch;
        window.fetch = (url, opts) => String(url).endsWith('api/jobs') && opts && opts.method === 'POST'
          ? Promise.resolve(new Response(JSON.stringify({detail: 'server busy: 4 predictions in progress'}),
              {status: 503, headers: {'Retry-After': '7', 'Content-Type': 'application/json'}}))
          : real(url, opts);
    """)
    browser.find_element("id", "generate-button").click()
    WebDriverWait(browser, 30).until(lambda d: "busy" in error.text)
    assert "7 s" in error.text and "4 predictions" in error.text


def test_chinese_language_switch(browser, service) -> None:
    from selenium.webdriver.support.ui import Select

    open_page(browser, service)
    Select(browser.find_element("id", "lang-select")).select_by_value("zh")
    assert browser.find_element("id", "generate-button").text == "生成 3D 场景"
    assert browser.execute_script("return document.documentElement.lang") == "zh-CN"
    assert "python app.py --download-model" in browser.find_element("id", "preview-banner").text
    Select(browser.find_element("id", "lang-select")).select_by_value("en")
    assert browser.find_element("id", "generate-button").text == "Generate 3D scene"


def test_phone_sized_window(browser, service, photo) -> None:
    # Emulate the phone's viewport (desktop windows cannot be made narrower than ~500 px).
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    try:
        open_page(browser, service)
        assert browser.execute_script("return window.innerWidth") == 390
        generate(browser, photo)
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"page is {overflow}px wider than a phone screen"
        canvas = browser.find_element("id", "viewer-canvas")
        assert canvas.size["width"] >= 300 and canvas.size["height"] >= 300
        for control in browser.find_elements("css selector", ".toolbar .tool"):
            assert control.is_displayed()
            right = control.location["x"] + control.size["width"]
            assert right <= 390, f"{control.text!r} sticks out of the screen"
        OUT.mkdir(parents=True, exist_ok=True)
        keep_screenshot(browser, OUT / "phone.png")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def scene_on_screen(browser) -> dict:
    """What the page says about the scene on screen, and what the viewer says it shows."""
    return browser.execute_script("""
        const $ = (id) => document.getElementById(id);
        return {state: window.__viewerState, count: (window.__viewerInfo || {}).numSplats,
                source: (window.__viewerInfo || {}).source, stats: $('viewer-stats').textContent,
                card: $('result-card').hidden ? null : $('res-count').textContent,
                backend: $('res-backend').textContent, download: $('download-link').getAttribute('download'),
                history: [...document.querySelectorAll('#history-list .history-item')].map((b) => b.textContent),
                toolbar: [...document.querySelectorAll('#reset-button, #fit-button, #fly-button, #scale-input')]
                  .every((c) => !c.disabled),
                empty: !$('viewer-empty').hidden};""")


def open_broken_ply(browser, tmp_path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    broken = tmp_path / "broken.ply"
    broken.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 5000\nproperty float x\n"
                       b"property float y\nproperty float z\nend_header\n" + bytes(24))  # 5000 rows promised, 2 there
    browser.find_element("id", "scene-input").send_keys(str(broken))
    WebDriverWait(browser, LOAD_TIMEOUT).until(lambda d: d.find_element("id", "error-box").is_displayed())
    assert browser.find_element("id", "error-text").text.startswith("The scene could not be displayed")


def test_a_broken_ply_leaves_the_previous_scene_and_no_history_entry(browser, service, photo, tmp_path) -> None:
    open_page(browser, service)
    generate(browser, photo)
    before = scene_on_screen(browser)
    assert before["source"] == "result" and before["card"] and len(before["history"]) == 1 and before["toolbar"]
    pixels = canvas_image(browser)

    open_broken_ply(browser, tmp_path)
    wait_idle(browser)
    assert scene_on_screen(browser) == before  # same numbers, same history, toolbar still usable
    assert mean_abs_diff(canvas_image(browser), pixels) < 2.0  # and the same scene drawn
    browser.find_element("id", "fit-button").click()
    wait_idle(browser)
    assert mean_abs_diff(canvas_image(browser), pixels) > 1.0  # the toolbar still acts on it


def test_a_broken_ply_with_nothing_shown_clears_cleanly(browser, service, tmp_path) -> None:
    open_page(browser, service)
    open_broken_ply(browser, tmp_path)
    now = scene_on_screen(browser)
    assert now["state"] == "error" and now["empty"] and now["card"] is None
    assert now["history"] == [] and now["stats"] == "" and not now["toolbar"]


def test_a_local_file_is_what_the_result_card_describes_and_history_items_can_go(
        browser, service, photo, downloads, tmp_path) -> None:
    import httpx
    from selenium.webdriver.support.ui import WebDriverWait

    open_page(browser, service)
    generate(browser, photo)
    generated = scene_on_screen(browser)
    assert generated["backend"] == "Preview" and generated["download"] == "shapes.ply"
    local = tmp_path / "my-scene.ply"
    local.write_bytes(httpx.get(browser.find_element("id", "download-link").get_attribute("href")).content)

    browser.find_element("id", "scene-input").send_keys(str(local))
    WebDriverWait(browser, LOAD_TIMEOUT).until(
        lambda d: scene_on_screen(d)["source"] == "file" and d.execute_script("return window.__viewerState") == "ready"
        and scene_on_screen(d)["download"] == "my-scene.ply")
    shown = scene_on_screen(browser)
    assert shown["backend"] == "None: a file from this computer" and shown["card"] == f"{shown['count']:,}"
    assert "file my-scene.ply" in shown["stats"] and not browser.find_element("id", "export-card").is_displayed()
    browser.find_element("id", "download-link").click()
    assert wait_for_file(downloads, "my-scene.ply").read_bytes() == local.read_bytes()

    # Removing the generated scene from the list: gone from it, and from a reloaded page too.
    rows = browser.find_elements("css selector", "#history-list .history-row")
    assert [r.find_element("css selector", ".history-text span").text for r in rows] == ["my-scene.ply", "shapes.png"]
    remove = rows[1].find_element("css selector", ".history-remove")
    assert remove.get_attribute("aria-label") == "Remove shapes.png from this list"
    remove.click()
    names = [e.text for e in browser.find_elements("css selector", "#history-list .history-text > span")]
    assert names == ["my-scene.ply"] and scene_on_screen(browser)["source"] == "file"  # what is shown stays
    browser.refresh()
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return window.__viewerState") == "idle")
    assert browser.find_elements("css selector", "#history-list .history-item") == []  # files live in memory only
