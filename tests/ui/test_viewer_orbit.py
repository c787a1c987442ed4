"""The bounded front-view orbit (static/js/orbit.js) in a real headless Chromium.

A scene from one photo only holds up near the photo's viewpoint. By default a long drag, a big
zoom in and a big zoom out must leave the scene filling most of the canvas, and the view must
settle (the viewer goes idle) afterwards; with "Free orbit" on, the same drag turns the view much
further, and the choice survives loading another scene.
"""

from __future__ import annotations

import pytest

from test_browser import LOAD_TIMEOUT, browser, downloads, generate, open_page, photo, service  # noqa: F401
from ui_helpers import canvas_image, chromium_paths, lit_fraction, wait_idle

PATHS = chromium_paths()
pytestmark = pytest.mark.skipif(isinstance(PATHS, str), reason=str(PATHS))

# Camera azimuth / elevation about the orbit pivot, 0 at the photo's pose (camera at the origin,
# looking at +z with the pivot straight ahead), in degrees.
ANGLES = """
const v = window.__mlsharpViewer;
const o = v.camera.position.clone().sub(v.orbit.target);
return [Math.atan2(o.x, -o.z) * 180 / Math.PI, Math.atan2(o.y, Math.hypot(o.x, o.z)) * 180 / Math.PI,
        o.length(), v.orbit.target.z];
"""
FILLED = 0.5  # share of the canvas the scene must still cover after rough handling


def drag(browser, canvas, dx: int, dy: int, steps: int = 6) -> None:
    """A left-button drag starting near the canvas edge it moves away from (the whole path stays in the window)."""
    from selenium.webdriver.common.action_chains import ActionChains

    width, height = canvas.size["width"], canvas.size["height"]
    start_x = -width // 2 + 10 if dx > 0 else width // 2 - 10 if dx < 0 else 0
    start_y = -height // 2 + 10 if dy > 0 else height // 2 - 10 if dy < 0 else 0
    chain = ActionChains(browser, duration=50).move_to_element_with_offset(canvas, start_x, start_y).click_and_hold()
    for _ in range(steps):
        chain.move_by_offset(dx // steps, dy // steps)
    chain.release().perform()


def wheel(browser, canvas, delta_y: int, times: int = 5) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin

    chain = ActionChains(browser)
    for _ in range(times):
        chain.scroll_from_origin(ScrollOrigin.from_element(canvas), 0, delta_y)
    chain.perform()


def test_front_view_orbit_keeps_the_scene_in_view(browser, service, photo) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    open_page(browser, service)
    generate(browser, photo)
    canvas = browser.find_element("id", "viewer-canvas")
    print("canvas", canvas.size, "window", browser.execute_script("return [innerWidth, innerHeight]"))
    free = browser.find_element("id", "free-orbit-button")
    assert free.get_attribute("aria-pressed") == "false" and free.text == "Free orbit"
    start = lit_fraction(canvas_image(browser))
    azimuth0, elevation0, distance0, _ = browser.execute_script(ANGLES)
    assert abs(azimuth0) < 1e-3 and abs(elevation0) < 1e-3

    frames = "return window.__mlsharpViewer.framesDrawn"
    before = browser.execute_script(frames)
    drag(browser, canvas, 700, 0)  # further than the canvas is wide
    released = browser.execute_script(frames)
    wait_idle(browser)
    settling = browser.execute_script(frames) - released
    print(f"frames: {released - before} during the drag, {settling} after it")
    azimuth, elevation, distance, _ = browser.execute_script(ANGLES)
    across = lit_fraction(canvas_image(browser))
    drag(browser, canvas, 0, min(600, canvas.size["height"] - 20))
    wait_idle(browser)
    _, elevation, _, _ = browser.execute_script(ANGLES)
    down = lit_fraction(canvas_image(browser))
    wheel(browser, canvas, -2000)  # zoom in hard
    wait_idle(browser)
    near = browser.execute_script(ANGLES)[2]
    zoomed_in = lit_fraction(canvas_image(browser))
    wheel(browser, canvas, 2000, times=10)  # and out
    wait_idle(browser)
    far = browser.execute_script(ANGLES)[2]
    zoomed_out = lit_fraction(canvas_image(browser))
    print(f"pivot {browser.execute_script(ANGLES)[3]:.2f} lit: start {start:.3f} across {across:.3f} down {down:.3f} in {zoomed_in:.3f} out {zoomed_out:.3f}; "
          f"azimuth {azimuth:.1f} elevation {elevation:.1f} distance {distance0:.2f} -> {near:.2f} .. {far:.2f}")
    assert 15 < abs(azimuth) <= 25.5, azimuth  # the drag turned the view, up to the bound
    assert 10 < abs(elevation) <= 25.5, elevation  # the camera rose (a downward drag), up to the bound
    assert near < distance0 * 0.8 and far > distance0 * 1.2  # zooming works, within bounds
    assert min(across, down, zoomed_in, zoomed_out) > FILLED

    # Reset: back to the photo's pose.
    canvas.send_keys("r")
    WebDriverWait(browser, 10).until(lambda d: max(map(abs, d.execute_script(
        "return window.__mlsharpViewer.camera.position.toArray()"))) < 1e-6)
    wait_idle(browser)

    # Free orbit: the same drag turns the view much further, and the choice outlives a reload.
    free.click()
    assert free.get_attribute("aria-pressed") == "true"
    drag(browser, canvas, 700, 0)
    released = browser.execute_script(frames)
    wait_idle(browser)
    free_settling = browser.execute_script(frames) - released
    free_azimuth = browser.execute_script(ANGLES)[0]
    print(f"free orbit: azimuth {free_azimuth:.1f}, lit {lit_fraction(canvas_image(browser)):.3f}, "
          f"{free_settling} frames after the drag")
    assert abs(free_azimuth) > 60, free_azimuth
    # Damping follows real time: with slow frames (software WebGL: 0.1 s and more) the tail after
    # a drag is a few frames, not the ~35 a per-frame decay takes (what a 60 fps GPU still gets).
    frame_ms = browser.execute_script("return window.__mlsharpViewer.speed.frameMs")
    assert max(settling, free_settling) <= (12 if frame_ms >= 100 else 45), (settling, free_settling, frame_ms)

    browser.execute_script("window.__viewerState = 'reloading'")  # the load sets it to 'ready' again
    browser.find_elements("css selector", "#history-list .history-item")[0].click()
    WebDriverWait(browser, LOAD_TIMEOUT).until(lambda d: d.execute_script("return window.__viewerState") == "ready")
    wait_idle(browser)
    assert browser.execute_script("return window.__mlsharpViewer.freeOrbit") is True
    assert free.get_attribute("aria-pressed") == "true"
    free.click()  # back to the front view: the photo's pose again
    assert browser.execute_script("return window.__mlsharpViewer.freeOrbit") is False
    wait_idle(browser)
    assert max(map(abs, browser.execute_script(ANGLES)[:2])) < 1e-3
