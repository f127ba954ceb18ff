"""How many frames per second the camera page sustains against the local API, the round trip at that rate,
and the bytes each frame costs up and down, with patch answers (the page's default) and with whole tinted
frames (`?answer=full`, as before patch answers) in the same run: the README's local stack (`make start`),
Debian's Chromium with the clip as a 640x480 camera, figures read from the page itself and the answers'
body sizes counted from the network.

    .venv/bin/python bench/camera_page.py [--seconds 20] [--fps 15] [--rounds 1]
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser import launch, local_stack, write_y4m  # noqa: E402

FIGURES = ("frames-sent", "frames-shown", "frames-skipped", "frames-failed", "peak-in-flight", "bytes-up",
           "bytes-down", "rate-up", "rate-down", "faces")


def read(page, element_id: str) -> str:
    return page.locator(f"#{element_id}").inner_text()


def stream(browser, site_url: str, answer: str, fps: int, seconds: float) -> dict:
    """One session of the page: warm up, stream ``seconds``, read its figures; every answer's body size."""
    page = browser.new_page()
    finished = []   # the tint requests answered, in order (their sizes are read from the network afterwards)
    page.on("requestfinished", lambda req: finished.append(req)
            if req.method == "POST" and "/v1/tint" in req.url else None)
    page.goto(site_url + ("?answer=full" if answer == "full" else ""))
    page.wait_for_selector("body[data-ready='true']")
    page.get_by_label("Frame rate cap (fps)").fill(str(fps))
    page.get_by_role("button", name="Start").click()
    page.wait_for_function("Number(document.getElementById('frames-shown').textContent) >= 10", timeout=60000)
    shown0, t0, first = int(read(page, "frames-shown")), time.monotonic(), len(finished)
    samples = []
    while time.monotonic() - t0 < seconds:
        time.sleep(1.0)
        samples.append({k: read(page, k) for k in ("sent-fps", "shown-fps", "rtt-median", "rtt-p95", "server-ms")})
    shown1, t1 = int(read(page, "frames-shown")), time.monotonic()
    figures = {k: read(page, k) for k in FIGURES}
    last = len(finished)
    page.get_by_role("button", name="Stop").click()
    sizes = [req.sizes() for req in finished[first:last]]
    page.close()
    return {"fps": (shown1 - shown0) / (t1 - t0), "last": samples[-1], "figures": figures, "answers": len(sizes),
            "down": statistics.median(s["responseBodySize"] for s in sizes),
            "down_headers": statistics.median(s["responseHeadersSize"] for s in sizes)}


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n:.0f} B"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each session streams after warm-up")
    parser.add_argument("--fps", type=int, default=15, help="the page's frame-rate cap (1-15)")
    parser.add_argument("--rounds", type=int, default=1, help="full then patch sessions, this many times")
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"full": [], "patch": []}
    with tempfile.TemporaryDirectory() as tmp, local_stack() as (site_url, _api, _), sync_playwright() as p:
        camera = write_y4m(pathlib.Path(tmp) / "closeup.y4m")
        browser = launch(p, camera)
        for _ in range(args.rounds):
            for answer in ("full", "patch"):
                runs[answer].append(stream(browser, site_url, answer, args.fps, args.seconds))
        browser.close()
    print(f"camera page against the local API, 640x480 camera, cap {args.fps} fps, {args.seconds:.0f} s a session:")
    for answer, label in (("full", "whole frames (?answer=full)"), ("patch", "patch answers (default)")):
        for run in runs[answer]:
            last, fig = run["last"], run["figures"]
            print(f"  {label}: {run['fps']:.1f} fps shown (page: sent {last['sent-fps']}, shown {last['shown-fps']});"
                  f" round trip median {last['rtt-median']} ms, p95 {last['rtt-p95']} ms; server {last['server-ms']} ms")
            print(f"    bytes down per frame (answer bodies from the network, median of {run['answers']}): "
                  f"{kb(run['down'])} (+ {kb(run['down_headers'])} of answer headers); the page shows "
                  f"{fig['bytes-up']} up, {fig['bytes-down']} down, {fig['rate-up']} / {fig['rate-down']} kbit/s")
            print("    " + ", ".join(f"{k} {fig[k]}" for k in FIGURES[:5]))
    full_down = statistics.median(r["down"] for r in runs["full"])
    patch_down = statistics.median(r["down"] for r in runs["patch"])
    met = patch_down > 0 and full_down >= 10 * patch_down
    print(f"bytes down per frame: whole frames {kb(full_down)}, patches {kb(patch_down)}: "
          f"{full_down / max(patch_down, 1):.0f}x fewer (target 10x: {'met' if met else 'NOT met'})")


if __name__ == "__main__":
    main()
