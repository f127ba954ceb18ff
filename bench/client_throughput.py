"""Frames per second the `tintcam` client sustains on a video with 1, 2 and 4 requests in flight,
against a real `chalice local` (the README's local API) on this machine.

    .venv/bin/python bench/client_throughput.py [--frames 120]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["TINTCAM_DB"] = os.path.join(tempfile.mkdtemp(prefix="tintcam-client-"), "meter.sqlite3")

import cv2  # noqa: E402

from bench.frame_api import DATA  # noqa: E402
from tests.servers import chalice_local  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=120)
    args = parser.parse_args()
    from chalicelib import metering, settings
    from tintcam_client import Client
    from tintcam_client.cli import FrameStream

    key, _ = metering.get_meter(settings.get()).create_key("client throughput", 10_000_000)
    cap = cv2.VideoCapture(str(DATA / "video" / "short_hamilton_clip.mp4"))
    frames = []
    while len(frames) < 82 + args.frames:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    frames = frames[82:]  # the close-up shot: one face to follow
    print(f"{len(frames)} frames 640x360 of the clip's close-up, min_face=60, tracking state passed on")
    with chalice_local() as (base, _):
        with Client(base, key) as client:
            client.tint(frames[0])  # warm up
            for in_flight in (1, 2, 4):
                stream = FrameStream(client, {"min_face": 60}, in_flight)
                results = []
                started = time.perf_counter()
                for frame in frames:
                    results += stream.push(frame)
                results += stream.drain()
                elapsed = time.perf_counter() - started
                print(f"  {in_flight} in flight: {len(results) / elapsed:5.1f} fps, latency median "
                      f"{statistics.median(r.latency_ms for r in results):5.1f} ms, frames with a face "
                      f"{sum(r.faces > 0 for r in results)}/{len(results)}")


if __name__ == "__main__":
    main()
