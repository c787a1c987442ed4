"""The page's words: every visible string translated, and a photo over the service's pixel limit
refused before any upload, in plain words.

Real service (preview backend) and headless Chromium, as in test_browser.py.
"""

from __future__ import annotations

import re

import httpx
import pytest

from test_browser import browser, downloads, generate, open_page, photo  # noqa: F401 - shared fixtures
from ui_helpers import chromium_paths, running_service

PATHS = chromium_paths()
pytestmark = pytest.mark.skipif(isinstance(PATHS, str), reason=str(PATHS))

# Latin words a Chinese page may show untranslated: names, formats, units and key names.
ALLOWED = {
    "mlsharp", "sharp", "ply", "spz", "splat", "webgl", "jpeg", "jpg", "png", "webp", "heic", "zip", "html",
    "exif", "api", "mp", "px", "mm", "kb", "mb", "gb", "fps", "vr", "cpu", "gpu", "cuda", "wasd", "shift",
    "esc", "niantic", "playcanvas", "supersplat", "english", "ms",
}

VISIBLE_TEXT = """
const lines = document.body.innerText.split('\\n');
const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
for (const el of document.querySelectorAll('button, a, input, select, [role=button], [role=toolbar]')) {
  if (!shown(el)) continue;
  for (const attr of ['aria-label', 'title']) if (el.getAttribute(attr)) lines.push(el.getAttribute(attr));
}
return lines.map((l) => l.trim()).filter(Boolean);
"""

ENGLISH_WORDS = """
const { LOCALES } = await import(new URL('static/js/i18n.js', document.baseURI).href);
return Object.values(LOCALES.en.strings).join(' ');
"""


def untranslated(lines: list[str], english: set[str], own_names: set[str]) -> list[str]:
    """The lines holding a word of the English strings that is neither allowed nor a file's name."""
    bad = []
    for line in lines:
        text = re.sub(r"`[^`]*`", " ", line)  # commands to type stay as they are
        text = re.sub(r"\S+\.(?:ply|spz|png|jpe?g|pt|zip|html)\b", " ", text)  # file names
        text = re.sub(r"[\w.-]*[/_][\w./-]*", " ", text)  # folders and identifiers (model_assets/)
        words = {w.lower() for w in re.findall(r"[A-Za-z]{2,}", text)}
        if words & english - ALLOWED - own_names:
            bad.append(line)
    return bad


def test_every_visible_string_is_chinese_after_generating(browser, photo, tmp_path) -> None:
    with running_service(tmp_path) as service:
        open_page(browser, service, lang="zh")
        generate(browser, photo)
        english = {w.lower() for w in re.findall(r"[A-Za-z]{2,}", browser.execute_script(ENGLISH_WORDS))}
        assert {"photo", "scene", "download", "gaussians"} <= english  # the list is real
        lines = browser.execute_script(VISIBLE_TEXT)
        assert any("高斯" in line for line in lines) and any("下载" in line for line in lines)
        own_names = {"shapes"}  # the photo's own name, shown as given
        assert untranslated(lines, english, own_names) == []

        # The same check sees English: the page in English fails it.
        open_page(browser, service, lang="en")
        assert untranslated(browser.execute_script(VISIBLE_TEXT), english, own_names)


def test_a_photo_over_the_pixel_limit_is_refused_before_upload(browser, photo, tmp_path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    # 640 x 480 = 307,200 pixels against a limit of 100,000.
    with running_service(tmp_path, overrides={"limits": {"max_pixels": 100_000}}) as service:
        assert httpx.get(service + "api/health").json()["max_pixels"] == 100_000
        open_page(browser, service)
        error = browser.find_element("id", "error-box")
        browser.find_element("id", "photo-input").send_keys(str(photo))
        WebDriverWait(browser, 20).until(lambda d: error.is_displayed())
        assert browser.find_element("id", "error-text").text == (
            "Photo too large: 0.3 MP, limit 0.1 MP. Choose a smaller photo.")

        browser.find_element("id", "error-dismiss").click()
        browser.find_element("id", "generate-button").click()  # asked anyway: refused again, no upload
        WebDriverWait(browser, 20).until(lambda d: error.is_displayed())
        assert browser.find_element("id", "error-text").text.startswith("Photo too large")
        sent = browser.execute_script(
            "return performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.includes('/api/'))")
        assert sent and not [url for url in sent if "/api/jobs" in url or "/api/predict" in url], sent
        stats = httpx.get(service + "api/stats").json()
        assert stats["predictions"] == 0 and stats["predictions_failed"] == 0 and stats["active_tasks"] == 0

        open_page(browser, service, lang="zh")  # and in Chinese
        browser.find_element("id", "photo-input").send_keys(str(photo))
        WebDriverWait(browser, 20).until(lambda d: browser.find_element("id", "error-box").is_displayed())
        assert browser.find_element("id", "error-text").text.startswith("照片太大：0.3 MP，上限 0.1 MP")
