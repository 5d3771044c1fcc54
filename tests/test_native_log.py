"""MediaPipe's native log lines are kept off stderr; everything else written there gets through."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from visemic.video import native_log

NATIVE_LINE = (b"W0000 00:00:1796282306.089428    5254 inference_feedback_manager.cc:114] "
               b"Feedback manager requires a model with a single signature inference.\n")


def test_native_lines_dropped_the_rest_kept_in_order(capfd) -> None:
    capfd.readouterr()
    with native_log.filtered():
        os.write(2, b"first\n")
        os.write(2, NATIVE_LINE)
        os.write(2, b"I0000 00:00:1.0 1 gl_context.cc:357] GL version: 3.2\n")
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"error: as Python writes it\n")
        os.write(2, b"\rdub  40%")  # a progress bar's update has no newline: passed on
        os.write(2, b"\rdub 100%\n")
        os.write(2, b"Warning text that merely starts like one\n")
    err = capfd.readouterr().err
    assert err == ("first\nerror: as Python writes it\n\rdub  40%\rdub 100%\n"
                   "Warning text that merely starts like one\n")


def test_holds_nest_across_threads_and_restore_stderr(capfd) -> None:
    before = os.fstat(2)
    start = threading.Barrier(4)

    def worker(k: int) -> None:
        start.wait()
        for _ in range(20):
            native_log.hold()
            os.write(2, f"line {k}\n".encode())
            os.write(2, NATIVE_LINE)
            native_log.release()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    err = capfd.readouterr().err
    assert sorted(err.splitlines()) == sorted(f"line {k}" for k in range(4) for _ in range(20))


def test_a_face_mesh_graph_prints_nothing_of_its_own(tmp_path: Path) -> None:
    # In a process of its own: MediaPipe logs its start-up once per process.
    script = tmp_path / "mesh.py"
    script.write_text(
        "import sys\nimport numpy as np\nfrom visemic.video.facemesh import FaceMesh\n"
        "picture = np.full((240, 320, 3), 128, np.uint8)\n"
        "for tracking in (True, False):\n"
        "    with FaceMesh(tracking=tracking) as mesh:\n"
        "        for _ in range(3):\n"
        "            mesh(picture)\n"
        "        print('between frames', file=sys.stderr, flush=True)\n"
        "print('done', file=sys.stderr)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run([sys.executable, str(script)], capture_output=True, env=env,
                         timeout=120, check=True)
    assert run.stderr.decode().splitlines() == ["between frames", "between frames", "done"]


def test_stderr_taken_over_meanwhile_is_filtered_again_and_left_to_its_owner(tmp_path) -> None:
    # As pytest's fd capture does between tests while a long-lived graph holds the filter.
    original = os.dup(2)
    try:
        native_log.hold()
        taken = tmp_path / "taken.txt"
        fd = os.open(taken, os.O_WRONLY | os.O_CREAT)
        os.dup2(fd, 2)
        os.close(fd)
        native_log.hold()  # a new graph: the filter goes in front of the new stderr
        os.write(2, NATIVE_LINE)
        os.write(2, b"kept\n")
        native_log.release()
        native_log.release()
        os.write(2, b"after\n")  # stderr is still the file its owner put there
        assert taken.read_bytes() == b"kept\nafter\n"
    finally:
        os.dup2(original, 2)
        os.close(original)
