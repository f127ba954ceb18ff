"""The cost of 1,000 frames at 640x480 under the default configuration.

Sends 1,000 camera-like 640x480 frames (the clip's close-up shot) through the Chalice app in process
with a real key on a throw-away meter store, then reads the admin report for that key: frames charged,
server time, the customer's charge, and the estimated AWS cost (each frame's server time rounded up to
the millisecond x the configured Lambda memory x the GB-second price, plus Lambda's and API Gateway
REST's per-request fees). Compared with Amazon Rekognition's published $1.00 per 1,000 images for face
detection alone.

    .venv/bin/python bench/cost.py [--frames 1000]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["TINTCAM_DB"] = os.path.join(tempfile.mkdtemp(prefix="tintcam-cost-"), "meter.sqlite3")

from bench.frame_api import camera_like, clip_frames, to_jpeg  # noqa: E402

REKOGNITION_PER_1000 = 1.00


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=1000)
    args = parser.parse_args()
    from chalice.test import Client

    import app
    from chalicelib import metering, settings
    s = settings.get()
    meter = metering.get_meter(s)
    key, record = meter.create_key("cost benchmark", 10_000_000)
    frames = [to_jpeg(f) for f in camera_like(clip_frames())]
    headers = {"Content-Type": "image/jpeg", "Accept": "image/jpeg", "x-api-key": key}
    started = time.perf_counter()
    with Client(app.app) as client:
        for i in range(args.frames):
            resp = client.http.post("/v1/tint", body=frames[i % len(frames)], headers=headers)
            assert resp.status_code == 200, resp.body
    wall = time.perf_counter() - started
    row = next(r for r in meter.report(metering.utcnow().strftime("%Y-%m")) if r["key_id"] == record.key_id)
    per_1000 = 1000 / max(1, row["requests"])
    aws = row["aws_cost_usd"] * per_1000
    print(f"{row['requests']} frames of 640x480 through the app in process ({wall:.1f} s wall)")
    print(f"  frames charged: {row['frames_charged']}, not charged: {row['frames_not_charged']}")
    print(f"  server time: {row['server_seconds']:.2f} s in all, {row['server_seconds'] / row['requests'] * 1000:.1f} ms"
          " per frame")
    print(f"  configured Lambda memory: {meter.prices.memory_mb} MB")
    print(f"  estimated AWS cost per 1,000 frames: ${aws:.4f}  (Lambda GB-s "
          f"${aws - 1000 * (meter.prices.lambda_request + meter.prices.apigw_request):.4f} + requests "
          f"${1000 * (meter.prices.lambda_request + meter.prices.apigw_request):.4f})")
    print(f"  customer price per 1,000 charged frames: ${s.price_per_1000_frames:.2f}")
    print(f"  Amazon Rekognition DetectFaces, face detection alone: ${REKOGNITION_PER_1000:.2f} per 1,000 images"
          f" ({REKOGNITION_PER_1000 / aws:.1f}x tintcam's AWS cost)")


if __name__ == "__main__":
    main()
