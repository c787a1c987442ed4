"""The Export panel in a real headless Chromium (static/js/exports.js and its helpers).

A generated scene (preview backend, ~50k Gaussians): every format shows its size before the
download; a density preset reloads a reduced scene that still draws; "Download as HTML" gives one
file that draws offline from file://; a recorded video decodes with ffprobe (frame count, size)
and its frames differ along the camera path; a screenshot is a non-blank PNG; "View in VR" stays
hidden where the browser offers no WebXR.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from test_browser import LOAD_TIMEOUT, browser, downloads, generate, open_page, photo, service  # noqa: F401
from ui_helpers import canvas_image, chromium_paths, lit_fraction, mean_abs_diff, wait_for_file, wait_idle

PATHS = chromium_paths()
pytestmark = pytest.mark.skipif(isinstance(PATHS, str), reason=str(PATHS))


def wait_until(browser, script: str, timeout: float = LOAD_TIMEOUT):
    """Poll ``script`` until it answers truthy; a poll that times out (the page's main thread
    busy with a long software-rendered frame) is retried, not a failure."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, timeout, poll_frequency=0.5, ignored_exceptions=(TimeoutException,))
    return wait.until(lambda d: d.execute_script(script))


def test_export_panel_sizes_density_html_video_screenshot(browser, service, photo, downloads, tmp_path) -> None:
    from selenium.webdriver.support.ui import Select

    open_page(browser, service)
    info = generate(browser, photo)
    full = info["numSplats"]
    assert 20_000 <= full <= 200_000
    card = browser.find_element("id", "export-card")
    assert card.is_displayed()
    sizes = wait_until(browser, """
        const s = [...document.querySelectorAll('#export-list .export-size')];
        return s.length && s.every((e) => e.dataset.bytes) ? s.map((e) => Number(e.dataset.bytes)) : null;""")
    assert len(sizes) == 6 and all(size > 0 for size in sizes)  # 4 formats + depth + depth preview
    assert not browser.find_element("id", "vr-button").is_displayed()  # no WebXR in headless Chromium

    # A density preset: the viewer reloads the reduced scene, which still draws.
    Select(browser.find_element("id", "density-select")).select_by_value("100000" if full > 100_000 else "")
    browser.execute_script("""
        const s = document.getElementById('density-select');
        s.append(new Option('10k', '10000')); s.value = '10000'; s.dispatchEvent(new Event('change'));""")
    wait_until(browser, "return window.__viewerState === 'ready' && window.__viewerInfo.numSplats === 10000")
    wait_idle(browser)
    assert lit_fraction(canvas_image(browser)) > 0.2
    browser.execute_script("""
        const s = document.getElementById('density-select'); s.value = ''; s.dispatchEvent(new Event('change'));""")
    wait_until(browser, f"return window.__viewerState === 'ready' && window.__viewerInfo.numSplats === {full}")
    wait_idle(browser)

    # Screenshot.
    browser.find_element("id", "screenshot-button").click()
    shot = Image.open(wait_for_file(downloads, ".png")).convert("RGB")
    assert lit_fraction(shot) > 0.2

    # One-file HTML, opened from file:// (the page's own server is not involved).
    browser.find_element("id", "html-button").click()
    html = wait_for_file(downloads, ".html", deadline_s=120)
    offline = tmp_path / "scene.html"
    shutil.copy(html, offline)
    assert b"http://" not in offline.read_bytes().split(b"<script type=\"text/plain\"")[0]
    main_window = browser.current_window_handle
    browser.switch_to.new_window("tab")
    try:
        browser.get(offline.as_uri())
        wait_until(browser, "return ['ready', 'error'].includes(window.__viewerState)")
        assert browser.execute_script("return window.__viewerState") == "ready", \
            browser.execute_script("return window.__viewerInfo")
        assert browser.execute_script("return window.__viewerInfo.numSplats") == full
        wait_idle(browser)
        drawn = canvas_image(browser)
        assert lit_fraction(drawn) > 0.2
        browser.find_element("id", "fly").click()
        assert browser.execute_script("return window.__mlsharpViewer.flying") is True
    finally:
        browser.close()
        browser.switch_to.window(main_window)

    # Video: 30 frames of rotate_forward at 360p, 24 fps (software WebGL on CI: kept short).
    browser.find_element("css selector", "#video-panel summary").click()
    Select(browser.find_element("id", "video-resolution")).select_by_value("360")
    Select(browser.find_element("id", "video-frames")).select_by_value("30")
    Select(browser.find_element("id", "video-fps")).select_by_value("24")
    Select(browser.find_element("id", "video-path")).select_by_value("rotate_forward")
    browser.find_element("id", "record-button").click()
    video = wait_until(browser, "return window.__lastVideo && {name: window.__lastVideo.name, "
                                "width: window.__lastVideo.width, height: window.__lastVideo.height, "
                                "container: window.__lastVideo.container, codec: window.__lastVideo.codec}", timeout=1200)
    print("recorded", video)  # which encoder this browser had (H.264/MP4 or VP9/VP8 WebM)
    path = wait_for_file(downloads, "." + video["container"], deadline_s=60)
    check_video(path, video["width"], video["height"], frames=30, folder=tmp_path)


def check_video(path: Path, width: int, height: int, frames: int, folder: Path) -> None:
    if not shutil.which("ffprobe"):
        pytest.skip("ffprobe not installed (Debian: apt-get install ffmpeg; run_tests.sh does it as root)")
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                            "stream=codec_name,width,height,nb_read_frames", "-of", "json", str(path)],
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    stream = json.loads(probe.stdout)["streams"][0]
    assert (stream["width"], stream["height"]) == (width, height)
    assert int(stream["nb_read_frames"]) == frames
    assert stream["codec_name"] in ("h264", "vp9", "vp8")
    images = []
    for index in (0, frames // 4, frames // 2):
        out = folder / f"frame{index}.png"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), "-vf", f"select=eq(n\\,{index})",
                        "-vframes", "1", str(out)], check=True, timeout=120)
        images.append(Image.open(out).convert("RGB"))
    assert lit_fraction(images[0]) > 0.2
    assert mean_abs_diff(images[0], images[1]) > 1.0 and mean_abs_diff(images[1], images[2]) > 1.0
