"""How many frames per second the camera page sustains against the local API, and the round trip at
that rate: the README's local stack (`make start`), Debian's Chromium with the clip as a 640x480 camera,
the frame-rate cap at its maximum, figures read from the page itself.

    .venv/bin/python bench/camera_page.py [--seconds 20] [--fps 15]
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser import launch, local_stack, write_y4m  # noqa: E402


def read(page, element_id: str) -> str:
    return page.locator(f"#{element_id}").inner_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to stream after warm-up")
    parser.add_argument("--fps", type=int, default=15, help="the page's frame-rate cap (1-15)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, local_stack() as (site_url, _api, _), sync_playwright() as p:
        camera = write_y4m(pathlib.Path(tmp) / "closeup.y4m")
        browser = launch(p, camera)
        page = browser.new_page()
        page.goto(site_url)
        page.wait_for_selector("body[data-ready='true']")
        page.get_by_label("Frame rate cap (fps)").fill(str(args.fps))
        page.get_by_role("button", name="Start").click()
        page.wait_for_function("Number(document.getElementById('frames-shown').textContent) >= 10", timeout=60000)
        shown0, t0 = int(read(page, "frames-shown")), time.monotonic()
        samples = []
        while time.monotonic() - t0 < args.seconds:
            time.sleep(1.0)
            samples.append({k: read(page, k) for k in ("sent-fps", "shown-fps", "rtt-median", "rtt-p95", "server-ms")})
        shown1, t1 = int(read(page, "frames-shown")), time.monotonic()
        figures = {k: read(page, k) for k in ("frames-sent", "frames-shown", "frames-skipped", "frames-failed",
                                              "peak-in-flight", "bytes-up", "bytes-down", "faces")}
        browser.close()
    last = samples[-1]
    print(f"camera page against the local API, 640x480 camera, cap {args.fps} fps, {args.seconds:.0f} s:")
    print(f"  sustained shown rate: {(shown1 - shown0) / (t1 - t0):.1f} fps  (page: sent {last['sent-fps']} fps,"
          f" shown {last['shown-fps']} fps)")
    print(f"  round trip: median {last['rtt-median']} ms, p95 {last['rtt-p95']} ms; server {last['server-ms']} ms/frame")
    print("  " + ", ".join(f"{k} {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
