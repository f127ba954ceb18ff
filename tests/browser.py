"""Helpers for the real-browser tests: a Y4M camera made from the clip, the local stack started with
`make start` (as the README says), and Debian's Chromium driven by Playwright."""
from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import signal
import subprocess
import threading
import time

import cv2
import numpy as np

from tests.conftest import ROOT, VIDEO
from tests.servers import free_port

CHROMIUM = os.environ.get("TINTCAM_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def write_y4m(path: pathlib.Path, first: int = 82, last: int = 210, size=(640, 480)) -> pathlib.Path:
    """The clip's close-up shot as a 640x480 Y4M file (what Chromium's fake camera plays, looping)."""
    cap = cv2.VideoCapture(str(VIDEO))
    width, height = size
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30000:1001 Ip A1:1 C420jpeg\n".encode())
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok or index > last:
                break
            if index >= first:
                scaled = cv2.resize(frame, (round(frame.shape[1] * height / frame.shape[0]), height),
                                    interpolation=cv2.INTER_AREA)
                x0 = (scaled.shape[1] - width) // 2
                crop = np.ascontiguousarray(scaled[:, x0:x0 + width])
                out.write(b"FRAME\n" + cv2.cvtColor(crop, cv2.COLOR_BGR2YUV_I420).tobytes())
            index += 1
    cap.release()
    return path


@contextlib.contextmanager
def local_stack(env: dict | None = None):
    """`make start` on free ports; yields (site_url, api_url) once it prints the page's URL."""
    api_port, site_port = free_port(), free_port()
    proc = subprocess.Popen(["make", "--no-print-directory", "start", f"API_PORT={api_port}",
                             f"SITE_PORT={site_port}"], cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("make start ended early:\n" + "".join(lines))
            lines.append(line)
            if "tintcam is running" in line:
                break
        else:
            raise TimeoutError("make start did not print the page URL:\n" + "".join(lines))
        assert f"http://localhost:{site_port}/" in lines[-1]
        # keep reading what the stack prints (the API's log), or the pipe fills and stalls the server
        threading.Thread(target=lambda: [lines.append(line) for line in proc.stdout], daemon=True).start()
        yield f"http://localhost:{site_port}/", f"http://localhost:{api_port}", lines
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def launch(playwright, y4m: pathlib.Path | None, grant_camera: bool = True, extra_args: tuple[str, ...] = ()):
    args = list(CHROMIUM_ARGS) + list(extra_args)
    if y4m is not None:
        args += ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={y4m}"]
        if grant_camera:
            args.append("--use-fake-ui-for-media-stream")
        else:
            args.append("--deny-permission-prompts")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
