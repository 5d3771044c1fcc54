"""The web page in a real browser (headless Chromium driven by Playwright): an uploaded WAV
animates the avatar and offers downloads; the live-microphone mode (Chromium's fake microphone
playing a generated speech WAV) streams frames over the WebSocket and moves the mouth; the emotion
control changes the face of both.

Needs /usr/bin/chromium (Debian's package; .ci/run installs it) and skips without it. Set
VISEMIC_WEB_SCREENSHOTS=DIR to keep the screenshots (docs/images/web.png is made that way).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_server import ServerProcess, transcript

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Chromium at /usr/bin/chromium (apt install chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = ServerProcess(tmp_path_factory.mktemp("web") / "data")
    yield s
    s.kill()


@pytest.fixture(scope="module")
def browser(spoken_wav):
    sync_api = pytest.importorskip("playwright.sync_api")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={spoken_wav}",
            "--autoplay-policy=no-user-gesture-required"]
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1200, "height": 760})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    yield page
    page.close()
    assert errors == [], errors


def keep(shot: Path, name: str) -> None:
    folder = os.environ.get("VISEMIC_WEB_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(folder) / name)


def state(page) -> dict:
    return page.evaluate("() => ({...window.visemicState})")


def test_upload_animates_the_avatar_and_offers_downloads(page, spoken, spoken_wav, tmp_path):
    audio, timeline = spoken
    page.set_input_files("#audio-file", str(spoken_wav))
    page.fill("#transcript", transcript(timeline))
    page.click("#animate-btn")
    page.wait_for_function("window.visemicState.analysed || window.visemicState.error",
                           timeout=60_000)
    s = state(page)
    assert s["error"] is None
    assert abs(s["frames"] - audio.duration * 60) <= 2
    assert "frames at 60 fps" in page.inner_text("#status")
    # The audio plays and the avatar follows it: the lips part during the speech.
    page.wait_for_function("window.visemicState.maxGap > 0.15", timeout=20_000)
    assert state(page)["lastTime"] > 0
    # Downloads: the JSON at once; others as server jobs.
    assert page.locator("li[data-format=json] a[download]").count() == 1
    page.click("li[data-format=csv] button")
    link = page.wait_for_selector("li[data-format=csv] a[download]", timeout=60_000)
    assert link.get_attribute("href").startswith("blob:")
    assert page.locator("#download-list li").count() >= 6
    # Show a moment of open mouth for the screenshot.
    page.evaluate("""() => { const p = document.getElementById('player'); p.pause(); }""")
    page.evaluate(f"() => {{ document.getElementById('player').currentTime = "
                  f"{_open_vowel_time(timeline)}; }}")
    page.wait_for_timeout(300)
    shot = tmp_path / "web.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000
    keep(shot, "web.png")


def _open_vowel_time(timeline) -> float:
    for p in timeline.phones:
        if p.symbol in ("ɑ", "ɑː", "a", "aɪ", "aʊ", "æ", "ɔ"):
            return round((p.start + p.end) / 2, 3)
    return round(timeline.phones[len(timeline.phones) // 2].start, 3)


def test_live_microphone_streams_frames(page, tmp_path):
    page.click("#tab-mic")
    page.click("#mic-btn")
    page.wait_for_function("window.visemicState.streamFrames > 150 || window.visemicState.error",
                           timeout=60_000)
    s = state(page)
    assert s["error"] is None and s["outOfOrder"] == 0
    page.wait_for_function("window.visemicState.maxGap > 0.15", timeout=20_000)
    assert "frames" in page.inner_text("#mic-stats")
    shot = tmp_path / "web-mic.png"
    page.screenshot(path=str(shot))
    keep(shot, "web-mic.png")
    page.click("#mic-btn")  # stop: the page sends "end" and gets {"done": true}
    page.wait_for_function("window.visemicState.done", timeout=20_000)
    assert state(page)["outOfOrder"] == 0


def avatar_pixels(page) -> np.ndarray:
    import cv2

    png = page.locator("#avatar").screenshot()
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).astype(np.float32)


def choose_emotion(page, name: str, intensity: float | None = None) -> None:
    page.wait_for_selector(f"#emotion option[value={name}]", state="attached")
    page.select_option("#emotion", name)
    if intensity is not None:
        page.eval_on_selector("#intensity", """(el, v) => {
            el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true})); }""",
                              intensity)


def animate_and_hold(page, t: float) -> None:
    """Analyse the chosen file with the page's settings; stop playback at ``t`` seconds."""
    page.click("#animate-btn")
    page.wait_for_function("window.visemicState.analysed || window.visemicState.error",
                           timeout=60_000)
    assert state(page)["error"] is None
    page.evaluate(f"""() => {{ const p = document.getElementById('player'); p.pause();
                              p.currentTime = {t}; }}""")
    page.wait_for_function(f"Math.abs(window.visemicState.lastTime - {t}) < 1e-3")
    page.wait_for_timeout(100)


def test_emotion_control_changes_the_avatar(page, spoken, spoken_wav, tmp_path):
    """The same moment of the same recording, neutral then happy: the face smiles."""
    t = _open_vowel_time(spoken[1])
    page.set_input_files("#audio-file", str(spoken_wav))
    # With the transcript, the vowel at ``t`` is the one espeak-ng said, whatever a recogniser
    # would have heard there.
    page.fill("#transcript", transcript(spoken[1]))
    animate_and_hold(page, t)
    neutral, neutral_smile = avatar_pixels(page), state(page)["smile"]
    assert page.is_disabled("#intensity")  # neutral has no intensity
    choose_emotion(page, "happy", 1.0)
    assert state(page)["emotion"] == "happy:1.00"
    assert "press Animate" in page.inner_text("#status")
    animate_and_hold(page, t)
    assert state(page)["analysedEmotion"] == "happy:1.00"
    happy = avatar_pixels(page)
    assert state(page)["smile"] > neutral_smile + 0.4
    diff = np.abs(happy - neutral).mean(axis=2)
    h, w = diff.shape
    # The mouth and cheeks change; the background in the corners does not.
    assert diff[int(0.55 * h): int(0.8 * h), w // 3: 2 * w // 3].mean() > 5.0
    assert diff[: h // 8, : w // 8].mean() < 0.5
    shot = tmp_path / "web-emotion.png"
    page.screenshot(path=str(shot))
    keep(shot, "web-emotion.png")


def test_emotion_changes_the_live_face(page, tmp_path):
    """Live: the stream starts neutral; choosing happy sends a control message and the face
    eases into a smile while the speech goes on."""
    page.click("#tab-mic")
    page.click("#mic-btn")
    page.wait_for_function("window.visemicState.streamFrames > 60 || window.visemicState.error",
                           timeout=60_000)
    assert state(page)["smile"] < 0.3
    choose_emotion(page, "happy", 0.9)
    page.wait_for_function("window.visemicState.smile > 0.6 || window.visemicState.error",
                           timeout=20_000)
    s = state(page)
    assert s["error"] is None and s["emotionMessages"] >= 1 and s["outOfOrder"] == 0
    shot = tmp_path / "web-mic-happy.png"
    page.screenshot(path=str(shot))
    keep(shot, "web-mic-happy.png")
    choose_emotion(page, "neutral")
    page.wait_for_function("window.visemicState.smile < 0.3", timeout=20_000)
    page.click("#mic-btn")
    page.wait_for_function("window.visemicState.done", timeout=20_000)
