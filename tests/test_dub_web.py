"""The web page's "Dub a video" panel in a real browser (headless Chromium driven by Playwright):
a generated talking-avatar video and new speech are uploaded, the job's progress is shown and the
dubbed video comes back playable. Skips without /usr/bin/chromium."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from test_server import ServerProcess

import visemic

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Chromium at /usr/bin/chromium (apt install chromium)")


def test_dub_panel_uploads_follows_the_job_and_shows_the_video(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    video = visemic.say("Good morning to you all.", still=True).save(tmp_path / "v.mp4",
                                                                    size=(192, 192), fps=25)
    from visemic.audio import save_wav

    wav = save_wav(visemic.say("See you soon.").audio, tmp_path / "speech.wav")
    server = ServerProcess(tmp_path / "data")
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url + "/")
            page.wait_for_function("document.querySelectorAll('#emotion option').length > 1")
            page.click("#tab-dub")
            assert page.is_visible("#pane-dub") and not page.is_visible("#pane-file")
            page.select_option("#emotion", "happy")  # the emotion control applies to the dub
            page.set_input_files("#dub-video", str(video))
            page.set_input_files("#dub-audio", str(wav))
            page.select_option("#dub-format", "webm")
            page.click("#dub-btn")
            page.wait_for_selector("#dub-download a[download]", timeout=300_000)
            assert page.get_attribute("#dub-download a", "href").startswith("blob:")
            assert page.get_attribute("#dub-download a", "download") == "v.dubbed.webm"
            # The request: no language (the server detects it, as visemic dub does), the
            # format and the emotion chosen above.
            asked = httpx.get(server.url + "/v1/jobs").json()["jobs"][0]["request"]
            assert asked["kind"] == "dub" and asked["language"] is None
            assert (asked["format"], asked["emotion"], asked["face"]) == ("webm", "happy:0.7", 0)
            # Progress was followed and shown (as a percentage, in the status line).
            progress = page.evaluate("window.visemicState.dubProgress")
            assert len(progress) >= 2 and progress == sorted(progress) and progress[-1] == 1
            duration = page.evaluate("""() => new Promise((done) => {
                const v = document.getElementById('dub-result');
                if (v.readyState >= 1) done(v.duration);
                else v.addEventListener('loadedmetadata', () => done(v.duration));
            })""")
            assert duration > 0.5
            assert "dubbed" in page.inner_text("#status")
            assert errors == [], errors
            browser.close()
    finally:
        server.kill()
