"""The web page's VRM viewer in headless Chromium: a VRM 1.0 model (built by the tests) dropped
on the page plays the server's VRM Animation of the analysed recording in time with the audio;
the expression weights three-vrm applies at a moment are the .vrma's at that moment.

Needs /usr/bin/chromium and skips without it. VISEMIC_WEB_SCREENSHOTS=DIR keeps the screenshot.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from test_server import transcript
from test_vrma import tracks
from test_web import CHROMIUM, _open_vowel_time, keep
from test_web import server as server  # noqa: F401 (the fixture)
from vrm_model import build_vrm

from visemic.motion import vrm

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Chromium at /usr/bin/chromium (apt install chromium)")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    # SwiftShader gives WebGL without a GPU, so the model is drawn as well as animated.
    args = ["--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
            "--autoplay-policy=no-user-gesture-required"]
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield b
        b.close()


def interpolate(times: np.ndarray, values: np.ndarray, t: float) -> np.ndarray:
    return np.array([np.interp(t, times, values[:, j]) for j in range(values.shape[1])])


def test_dropped_vrm_plays_the_recording(browser, server, spoken, spoken_wav, tmp_path):
    audio, timeline = spoken
    page = browser.new_page(viewport={"width": 1200, "height": 1300})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    model = tmp_path / "head.vrm"
    model.write_bytes(build_vrm())
    # The model first: the page waits for a recording.
    page.set_input_files("#vrm-file", str(model))
    page.wait_for_function("window.visemicState.vrmModel || window.visemicState.error",
                           timeout=60_000)
    assert page.evaluate("window.visemicState.error") is None
    assert "Animate a recording" in page.inner_text("#vrm-status")
    page.set_input_files("#audio-file", str(spoken_wav))
    page.fill("#transcript", transcript(timeline))
    page.click("#animate-btn")
    page.wait_for_function("window.visemicState.vrmAnimated || window.visemicState.error",
                           timeout=120_000)
    assert page.evaluate("window.visemicState.error") is None
    assert "Playing the VRM animation" in page.inner_text("#vrm-status")
    # Hold an open vowel and read what three-vrm applies to the model there.
    t = _open_vowel_time(timeline)
    page.evaluate(f"""() => {{ const p = document.getElementById('player'); p.pause();
                              p.currentTime = {t}; }}""")
    page.wait_for_function(f"Math.abs(window.visemicState.vrmTime - {t}) < 1e-3",
                           timeout=20_000)
    page.wait_for_timeout(200)
    shown = page.evaluate("() => ({...window.visemicState.vrmWeights})")
    # The same .vrma straight from the server (same audio, transcript, settings).
    with open(spoken_wav, "rb") as f:
        reply = httpx.post(server.url + "/v1/animate", files={"audio": f},
                           data={"text": transcript(timeline), "language": "en",
                                 "format": "vrma"}, timeout=120)
    assert reply.status_code == 200 and reply.headers["content-type"] == "model/gltf-binary"
    _, values, times = tracks(reply.content)
    want = {name: float(np.interp(t, times, values[f"expression.{name}"][:, 0]))
            for name in vrm.EXPRESSIONS}
    assert set(shown) == set(vrm.EXPRESSIONS)
    for name in vrm.EXPRESSIONS:
        assert abs(shown[name] - want[name]) < 2e-3, (name, shown[name], want[name])
    assert sum(shown[v] for v in vrm.VOWELS) > 0.3  # the mouth is open on the vowel
    # The meters show the weights; the canvas holds a drawing of the model.
    width = page.eval_on_selector("#vrm-meters b[data-name=aa]", "b => b.style.width")
    assert abs(int(width.rstrip("%")) - round(shown["aa"] * 100)) <= 1
    shot = tmp_path / "web-vrm.png"
    page.locator("#vrm-panel").screenshot(path=str(shot))
    keep(shot, "web-vrm.png")
    drawn = page.evaluate("() => !!document.getElementById('vrm-canvas').getContext")
    assert drawn
    page.close()
    assert errors == [], errors
    assert abs(len(times) - audio.duration * 60) <= 2
