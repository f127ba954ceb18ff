"""Following faces across the clip: per shot, the share of frames with a face tinted, the lip jitter with
and without smoothing, and the server time with a state against without one and against the floor.

The clip in ../shared/data/video is sent frame by frame through the Chalice app in process, as a client
would: each answer's X-Track-State goes with the next request.

    .venv/bin/python bench/tracking.py [--min-face 40] [--video PATH]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

import cv2
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["TINTCAM_DB"] = os.path.join(tempfile.mkdtemp(prefix="tintcam-track-"), "meter.sqlite3")

from bench.frame_api import DATA, floor, post_quietly, read_video, to_jpeg  # noqa: E402

SHOTS = [("wide stage shot", 0, 20), ("profile (no frontal face)", 20, 82), ("close-up", 82, 211),
         ("audience", 211, 275)]
PASSES = 3   # passes through the shot for the server-time figures


def run_clip(client, headers, jpegs, min_face, with_state):
    out, state = [], None
    for jpeg in jpegs:
        h = dict(headers)
        if with_state and state:
            h["X-Track-State"] = state
        resp = post_quietly(client, f"/v1/tint?min_face={min_face}", body=jpeg, headers=h)
        assert resp.status_code == 200, resp.body
        state = resp.headers.get("X-Track-State")
        out.append({"faces": int(resp.headers["X-Faces"]), "ms": float(resp.headers["X-Processing-Ms"]),
                    "boxes": resp.headers["X-Face-Boxes"], "state_len": len(state or "")})
    return out


def jitter(frames_rgb, min_face, smoothing):
    """Mean frame-to-frame lip movement / face width over the steadiest stretch of the close-up."""
    from chalicelib import faces, tracking
    model = faces.resolve_model_path("")
    state, lips, widths = None, [], []
    for rgb in frames_rgb:
        found, state, _ = tracking.follow(rgb, state, min_face, model, smoothing=smoothing)
        if len(found) != 1:
            lips.append(None)
            widths.append(None)
            continue
        lips.append(found[0].points[48:68].copy())
        widths.append(found[0].box[2])
    moves = []
    for i in range(1, len(lips)):
        if lips[i] is not None and lips[i - 1] is not None:
            moves.append(float(np.linalg.norm(lips[i] - lips[i - 1], axis=1).mean()) / widths[i])
        else:
            moves.append(None)
    return moves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--min-face", type=int, default=40)
    parser.add_argument("--video", default=str(DATA / "video" / "short_hamilton_clip.mp4"))
    args = parser.parse_args()
    from chalice.test import Client

    import app
    from chalicelib import metering, settings
    s = settings.get()
    key, _ = metering.get_meter(s).create_key("tracking benchmark", 10_000_000)
    headers = {"Content-Type": "image/jpeg", "Accept": "image/jpeg", "x-api-key": key}
    frames = read_video(pathlib.Path(args.video))
    jpegs = [to_jpeg(f) for f in frames]
    shots = SHOTS if len(frames) == 275 else [("whole video", 0, len(frames))]
    with Client(app.app) as client:
        run_clip(client, headers, jpegs[:5], args.min_face, True)  # warm up
        tracked = run_clip(client, headers, jpegs, args.min_face, True)
        stateless = run_clip(client, headers, jpegs, args.min_face, False)
    print(f"{pathlib.Path(args.video).name}: {len(frames)} frames {frames[0].shape[1]}x{frames[0].shape[0]}, "
          f"min_face={args.min_face}, each answer's state sent with the next frame\n")
    print(f"{'shot':28} {'frames':>6} {'tinted, with state':>19} {'tinted, no state':>17}")
    for name, a, b in shots:
        n = b - a
        with_state = sum(r["faces"] > 0 for r in tracked[a:b])
        without = sum(r["faces"] > 0 for r in stateless[a:b])
        print(f"{name:28} {n:6d} {with_state:6d} ({100 * with_state / n:5.1f}%) {without:6d} ({100 * without / n:5.1f}%)")
    if len(frames) == 275:
        from chalicelib.tracking import iou

        def boxes(i):
            return [tuple(map(int, x.split(","))) for x in tracked[i]["boxes"].split(";") if x]
        carried = [a for _, a, _ in shots[1:] if boxes(a) != [tuple(map(int, x.split(","))) for x in
                                                               stateless[a]["boxes"].split(";") if x]]
        overlapping = [(a, b1) for _, a, _ in shots[1:] for b1 in boxes(a) if any(iou(b0, b1) > 0.2 for b0 in boxes(a - 1))]
        print(f"faces carried across a cut (the first frame of a shot answered otherwise than without a state): "
              f"{'none' if not carried else carried}; boxes overlapping one of the frame before the cut: "
              f"{'none' if not overlapping else overlapping} (a new face found there is not carried)")
        print(f"faces tinted in the profile shot: {sum(r['faces'] for r in tracked[20:82])}")

    rgb = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames]
    a, b = (82, 211) if len(frames) == 275 else (0, len(frames))
    raw, smoothed = jitter(rgb[a:b], args.min_face, False), jitter(rgb[a:b], args.min_face, True)
    pairs = [(r, m) for r, m in zip(raw, smoothed) if r is not None and m is not None]
    steady = [(r, m) for r, m in pairs if r < 0.01]  # frames where the raw lips barely move: a steady stretch
    print(f"\nlip jitter (mean frame-to-frame lip movement / face width), {'close-up' if b == 211 else 'video'}:")
    print(f"  steady frames ({len(steady)}): raw {100 * np.mean([p[0] for p in steady]):.3f}%, "
          f"smoothed {100 * np.mean([p[1] for p in steady]):.3f}%")
    print(f"  all frames ({len(pairs)}): raw {100 * np.mean([p[0] for p in pairs]):.3f}%, "
          f"smoothed {100 * np.mean([p[1] for p in pairs]):.3f}% (smoothing must not lag behind real moves)")

    # server time: with state, without, and the floor (decode + landmarks per face + encode). The floor of
    # each frame is timed right after that frame's tracked request, over PASSES passes through the shot,
    # so both see the same machine (timed minutes apart, this noisy machine moved the ratio up to 2x).
    faced = [i for i in range(a, b) if tracked[i]["faces"] > 0]
    per_frame = {i: ([], []) for i in faced}
    with Client(app.app) as client:
        for _ in range(PASSES):
            state = None
            for i in range(a, b):
                h = dict(headers, **({"X-Track-State": state} if state else {}))
                resp = post_quietly(client, f"/v1/tint?min_face={args.min_face}", body=jpegs[i], headers=h)
                state = resp.headers.get("X-Track-State")
                if i in per_frame:
                    boxes = [tuple(map(int, x.split(","))) for x in resp.headers["X-Face-Boxes"].split(";") if x]
                    started = time.perf_counter()
                    floor(jpegs[i], boxes, s)
                    per_frame[i][0].append(float(resp.headers["X-Processing-Ms"]))
                    per_frame[i][1].append((time.perf_counter() - started) * 1000)
    with_ms = [statistics.median(per_frame[i][0]) for i in faced]
    floor_ms = [statistics.median(per_frame[i][1]) for i in faced]
    without_ms = [stateless[i]["ms"] for i in faced]
    fl = statistics.median(floor_ms)
    print(f"\nserver time on frames with a face ({len(faced)} frames), ms:")
    print(f"  with state:    median {statistics.median(with_ms):6.1f}  mean {statistics.mean(with_ms):6.1f}")
    print(f"  without state: median {statistics.median(without_ms):6.1f}  mean {statistics.mean(without_ms):6.1f}")
    print(f"  floor (decode + landmarks + tint + encode, timed after each frame): median {fl:6.1f}  "
          f"mean {statistics.mean(floor_ms):6.1f}")
    print(f"  with state / floor: {statistics.median(with_ms) / fl:.2f}x (median), {statistics.mean(with_ms) / fl:.2f}x"
          f" (mean); without / with: {statistics.median(without_ms) / statistics.median(with_ms):.2f}x (median), "
          f"{statistics.mean(without_ms) / statistics.mean(with_ms):.2f}x (mean)")
    print(f"  state size: up to {max(r['state_len'] for r in tracked)} characters")


if __name__ == "__main__":
    main()
