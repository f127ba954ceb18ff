"""Patch answers against full answers on the same camera frames: bytes per frame up and down, server time,
and how close the patch drawn over the sent frame is to the full answer.

The frames are the clip's close-up (frames 82-210) at 640x480, as the camera page's test camera shows
them, JPEG-encoded at quality 80 as the page sends them, sent in order as a video (each chain passes its
answers' X-Track-State on) through the Chalice app in process. Each frame is sent as a full and as a
patch answer right after each other (which goes first alternates), so both see the same moment of this
noisy machine; then the pipeline is run alone for both, to time the two steps that differ (tint, which
for a patch includes keeping the decoded frame, and encode). Medians unless said otherwise.

    .venv/bin/python bench/patch.py [--passes 3]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import pathlib
import statistics
import sys

import cv2
import numpy as np
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
os.environ.setdefault("TINTCAM_DB", "/tmp/tintcam-bench/meter.sqlite3")  # meters into a throw-away store
sys.path.insert(0, str(ROOT))

from bench.frame_api import DATA, clip_frames  # noqa: E402
from chalicelib import answers, options, pipeline  # noqa: E402
from chalicelib import settings as settings_module  # noqa: E402
from tests.colour import box_slices, mean_delta_e  # noqa: E402
from tintcam_client.patch import composite  # noqa: E402

PAGE_JPEG_QUALITY = 80  # frontend/stream.js sends canvas.toBlob(..., 'image/jpeg', 0.8)


def camera_frames() -> list[np.ndarray]:
    """The close-up as the page's test camera shows it (tests/browser.py write_y4m): 480 high, centre 640."""
    out = []
    for frame in clip_frames()[82:211]:
        scaled = cv2.resize(frame, (round(frame.shape[1] * 480 / frame.shape[0]), 480), interpolation=cv2.INTER_AREA)
        x0 = (scaled.shape[1] - 640) // 2
        out.append(np.ascontiguousarray(scaled[:, x0:x0 + 640]))
    return out


def header_bytes(headers: dict) -> int:
    """What the answer's headers take on the wire (name: value CRLF), Content-Type and tintcam's own."""
    return sum(len(k) + len(v) + 4 for k, v in headers.items())


def make_calls():
    from chalice.test import Client

    import app
    from chalicelib import metering
    client = Client(app.app)
    key, _ = metering.get_meter(settings_module.get()).create_key("patch benchmark", 10_000_000)
    accept = {"full": "image/jpeg", "patch": "image/webp"}

    def call(kind: str, jpeg: bytes, state: str | None):
        headers = {"Content-Type": "image/jpeg", "Accept": accept[kind], "x-api-key": key}
        if state:
            headers["X-Track-State"] = state
        resp = client.http.post("/v1/tint" + ("?answer=patch" if kind == "patch" else ""), body=jpeg, headers=headers)
        assert resp.status_code in (200, 204), resp.body
        return resp
    return call


def exact_tint(jpeg: bytes, state: str | None, settings) -> np.ndarray:
    """The tinted frame before any encoding (the pipeline run with an answer format that keeps the pixels)."""
    kept = {}

    def keep(tinted, original, regions, opts, settings_):
        kept["rgb"] = tinted
        return answers.Encoded(b"", "none")
    pipeline.tint_frame(jpeg, "image/jpeg", options.parse({}, settings), settings, track_state=state,
                        answer=answers.AnswerFormat("exact", "none", needs_original=False, encode=keep))
    return kept["rgb"]


def decoded(data: bytes, mode: str = "RGB") -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert(mode))


def run(passes: int) -> dict:
    settings = settings_module.get()
    call = make_calls()
    jpegs = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, PAGE_JPEG_QUALITY])[1].tobytes()
             for f in camera_frames()]
    rows = []
    for p in range(passes):
        state = {"full": None, "patch": None}
        for i, jpeg in enumerate(jpegs):
            order = ("full", "patch") if (i + p) % 2 == 0 else ("patch", "full")
            resp = {}
            for kind in order:
                resp[kind] = call(kind, jpeg, state[kind])
            row = {"up": len(jpeg), "faces": int(resp["patch"].headers["X-Faces"])}
            for kind in ("full", "patch"):
                row[kind] = {"down": len(resp[kind].body), "headers": header_bytes(resp[kind].headers),
                             "ms": float(resp[kind].headers["X-Processing-Ms"]), "status": resp[kind].status_code}
            for kind, fmt in (("full", answers.FULL), ("patch", answers.PATCH)):  # the steps that differ
                timings = pipeline.tint_frame(jpeg, "image/jpeg", options.parse({}, settings), settings,
                                              track_state=state[kind], answer=fmt).timings_ms
                row[kind]["steps"] = timings["tint"] + timings["encode"]
            if p == 0 and resp["patch"].status_code == 200:  # picture quality: once per frame
                box = tuple(int(v) for v in resp["patch"].headers["X-Patch-Box"].split(","))
                sent = decoded(jpeg)
                drawn = composite(sent, decoded(resp["patch"].body, "RGBA"), box)[box_slices(box)]
                full = decoded(resp["full"].body)[box_slices(box)]
                exact = exact_tint(jpeg, state["full"], settings)[box_slices(box)]
                row["de_full"] = mean_delta_e(drawn, full)
                row["de_exact"] = mean_delta_e(drawn, exact)
                row["full_noise"] = mean_delta_e(full, exact)
            for kind in ("full", "patch"):
                state[kind] = resp[kind].headers["X-Track-State"]
            rows.append(row)
    return {"rows": rows, "frames": len(jpegs)}


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n:.0f} B"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=3, help="passes over the frames (each a fresh video)")
    args = parser.parse_args()
    if not (DATA / "video").is_dir():
        sys.exit(f"the clip is not at {DATA / 'video'}")
    with contextlib.redirect_stdout(io.StringIO()):   # the meter's one log line per frame
        result = run(args.passes)
    rows = result["rows"]
    med = statistics.median

    def col(kind: str, key: str) -> list[float]:
        return [r[kind][key] for r in rows]
    up = med(r["up"] for r in rows)
    down = {k: med(col(k, "down")) for k in ("full", "patch")}
    wire = {k: med([r[k]["down"] + r[k]["headers"] for r in rows]) for k in ("full", "patch")}
    ms = {k: med(col(k, "ms")) for k in ("full", "patch")}
    paired = med(r["patch"]["ms"] / r["full"]["ms"] for r in rows)
    with_face = [r for r in rows if r["patch"]["status"] == 200]
    down_face = {k: med([r[k]["down"] for r in with_face]) for k in ("full", "patch")}
    judged = [r for r in rows if "de_full" in r]
    de_full = [r["de_full"][0] for r in judged]
    print(f"patch answers vs full answers: {result['frames']} camera frames (the clip's close-up at 640x480, JPEG q"
          f"{PAGE_JPEG_QUALITY} up as the page sends), sent as a video, {args.passes} passes, medians\n")
    print(f"{'':34} {'full':>10} {'patch':>10} {'full / patch':>13}")
    print(f"{'bytes up per frame':34} {kb(up):>10} {kb(up):>10}")
    print(f"{'bytes down per frame (body)':34} {kb(down['full']):>10} {kb(down['patch']):>10} "
          f"{down['full'] / max(down['patch'], 1):12.1f}x")
    print(f"{'  frames with a face only':34} {kb(down_face['full']):>10} {kb(down_face['patch']):>10} "
          f"{down_face['full'] / down_face['patch']:12.1f}x")
    print(f"{'  body + answer headers':34} {kb(wire['full']):>10} {kb(wire['patch']):>10} "
          f"{wire['full'] / wire['patch']:12.1f}x")
    print(f"{'server ms per frame':34} {ms['full']:10.1f} {ms['patch']:10.1f} {ms['full'] / ms['patch']:12.2f}x"
          f"   (frame by frame: patch = {paired:.2f} x full, median)")
    steps = {k: med(col(k, "steps")) for k in ("full", "patch")}
    print(f"{'  of which tint + encode steps ms':34} {steps['full']:10.2f} {steps['patch']:10.2f} "
          f"{steps['full'] / steps['patch']:12.2f}x   (the pipeline run alone; all other steps are the same)")
    statuses = sorted({r["patch"]["status"] for r in rows})
    print(f"\npatch answers: {sum(r['patch']['status'] == 200 for r in rows)} x 200, "
          f"{sum(r['patch']['status'] == 204 for r in rows)} x 204 (no face) of {len(rows)}; statuses {statuses}")
    print(f"patch drawn over the sent frame vs the full answer, mean CIEDE2000 in the patch box over "
          f"{len(judged)} frames: mean {statistics.mean(de_full):.2f}, median {med(de_full):.2f}, "
          f"p95 {np.percentile(de_full, 95):.2f}, max {max(de_full):.2f}  (CIE76: mean "
          f"{statistics.mean(r['de_full'][1] for r in judged):.2f})")
    for key, label in (("full_noise", "the full answer's own JPEG noise (full answer vs the exact tinted pixels)"),
                       ("de_exact", "the patch drawn over the sent frame vs the exact tinted pixels")):
        print(f"  {label}: mean {statistics.mean(r[key][0] for r in judged):.2f} "
              f"(CIE76 {statistics.mean(r[key][1] for r in judged):.2f})")
    print("\ntargets:")
    print(f"  patch answers >= 10x smaller than full answers (median bytes down): "
          f"{down['full'] / max(down['patch'], 1):.0f}x -> {'met' if down['full'] >= 10 * down['patch'] else 'NOT met'}")
    print(f"  server time lower than full answers (median): {ms['patch']:.1f} vs {ms['full']:.1f} ms -> "
          f"{'met' if ms['patch'] < ms['full'] else 'NOT met'}")
    print(f"  composite within mean dE 2.5 of the full answer (CIEDE2000, mean over frames): "
          f"{statistics.mean(de_full):.2f} -> {'met' if statistics.mean(de_full) <= 2.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
