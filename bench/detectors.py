"""What each face detector finds and what it costs, on the shared photos and camera frames; and the fit of
the box that dlib's 68-point model gets from BlazeFace's keypoints.

Detectors compared (all behind chalicelib/faces.py):
  hog                dlib's frontal HOG detector on the frame resized for min_face
  blazeface          the default: the short-range model on the whole frame when it shows min_face large
                     enough (camera frames), else that look plus a pyramid of full-range tiles; faces that
                     are small in the model's picture or not sure get two close looks
  blazeface, short-range tiles   the same, but the pyramid made of short-range tiles (the alternative
                     for small faces)

    .venv/bin/python bench/detectors.py [--repeat N] [--fit]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time
from contextlib import contextmanager

import cv2
import numpy as np
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.frame_api import DATA, camera_like, clip_frames  # noqa: E402
from chalicelib import blazeface, faces, imaging  # noqa: E402
from tests.conftest import reference_landmarks  # noqa: E402

MODEL = faces.resolve_model_path("")


def load(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def short_range_tiles(width: int, height: int, min_face: float):
    """The alternative plan: a pyramid of short-range tiles (no full-range model)."""
    longest = max(width, height)
    looks = [(blazeface.SHORT_RANGE, (0, 0, width, height))]
    ratio = blazeface.SHORT_RANGE.side / blazeface.SHORT_REACH
    tile, smallest, target = float(longest), longest / ratio, blazeface.MARGIN * min_face
    while smallest > target:
        overlap = 1.1 * smallest
        tile = float(int(max(target * ratio, tile / 3.0, 2.0 * overlap)))
        smallest = tile / ratio
        for y0, y1 in blazeface._spans(height, tile, overlap):
            for x0, x1 in blazeface._spans(width, tile, overlap):
                looks.append((blazeface.SHORT_RANGE, (x0, y0, x1, y1)))
    return looks


@contextmanager
def variant(name: str):
    """(detector name, plan) for a row of the table."""
    original = blazeface.plan
    if name == "blazeface, short-range tiles":
        blazeface.plan = lambda w, h, m: (original(w, h, m) if m * blazeface.SHORT_RANGE.side
                                          >= blazeface.SHORT_REACH * max(w, h) else short_range_tiles(w, h, m))
    try:
        yield "hog" if name == "hog" else "blazeface"
    finally:
        blazeface.plan = original


VARIANTS = ("hog", "blazeface", "blazeface, short-range tiles")


def timed_find(rgb, min_face, detector, repeat):
    found = faces.find_faces(rgb, min_face, MODEL, detector)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        faces.find_faces(rgb, min_face, MODEL, detector)
        times.append((time.perf_counter() - started) * 1000)
    return found, statistics.median(times) if times else float("nan")


def turned(rgb: np.ndarray, degrees: float) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).rotate(degrees, resample=Image.BICUBIC, expand=True, fillcolor=(0, 0, 0)))


def finds(repeat: int) -> None:
    photos = DATA / "faces"
    refs = reference_landmarks()
    pascal = {name: load(photos / name) for name in refs}
    bald, dogs = load(photos / "bald_guys.jpg"), load(photos / "dogs.jpg")
    portraits = [load(p) for p in sorted((DATA / "lips").glob("*.jpg"))] + [load(photos / "Tom_Cruise_avp_2014_4.jpg")]
    clip = clip_frames()
    camera = [np.ascontiguousarray(f[:, :, ::-1]) for f in camera_like(clip)]
    wide = [np.ascontiguousarray(f[:, :, ::-1]) for f in clip[:20] + clip[211:275:4]]  # small faces, 640x360
    print("faces found (of the reference count) and detection time per image (faces.find_faces: detection,"
          " close looks and landmarks), median ms:\n")
    header = f"{'case':52} " + " ".join(f"{v:>28}" for v in VARIANTS)
    print(header)
    print("-" * len(header))
    rows = [
        ("9 PASCAL photos 500x375, min_face=40 (43 faces)", [(img, 40) for img in pascal.values()], 43),
        ("bald_guys.jpg 1986x1545, min_face=40 (24)", [(bald, 40)], 24),
        ("bald_guys.jpg 1986x1545, min_face=120 (24)", [(bald, 120)], 24),
        ("dogs.jpg, min_face=40/100/120 (0)", [(dogs, 40), (dogs, 100), (dogs, 120)], 0),
        ("camera 640x480 close-up, min_face=120 (22 frames)", [(f, 120) for f in camera], len(camera)),
        ("clip 640x360 wide shot + audience, min_face=40 (frames)", [(f, 40) for f in wide], None),
    ]
    for degrees in (0, 15, 30, 45):
        rows.append((f"12 portraits turned {'+-' if degrees else ''}{degrees} deg, min_face=80 (12 each way)",
                     [(turned(p, d), 80) for p in portraits for d in {degrees, -degrees}],
                     len(portraits) * (2 if degrees else 1)))
    for label, cases, expected in rows:
        cells = []
        for name in VARIANTS:
            with variant(name) as detector:
                count, times = 0, []
                for rgb, min_face in cases:
                    found, ms = timed_find(rgb, min_face, detector, repeat)
                    count += (len(found) > 0) if expected is None or "frames" in label or "turned" in label \
                        else len(found)
                    times.append(ms)
            cells.append(f"{count:4d} found {statistics.median(times):8.1f} ms")
        print(f"{label:52} " + " ".join(f"{c:>28}" for c in cells))
    print("\n('frames' and 'turned' rows count images with a face found; the others count faces.)")


def camera_cost(repeat: int) -> None:
    """Detection alone on the camera frames at min_face=120: what the single-frame pipeline pays."""
    frames = [np.ascontiguousarray(f[:, :, ::-1]) for f in camera_like(clip_frames())]
    scale = faces.detection_scale(120)
    hog = faces.detector("hog")
    bf = faces.detector("blazeface")
    short = faces._blazeface(blazeface.SHORT_RANGE, MODEL)
    rows = {"dlib HOG (grey + resize to 427x320 + detector)": lambda rgb: hog.find(rgb, 120, MODEL),
            "  of which the grey/resize step": lambda rgb: imaging.grey_scaled(rgb, scale),
            "BlazeFace (resize to 128x96 + model + decoding)": lambda rgb: bf.find(rgb, 120, MODEL),
            "  of which the model alone": lambda rgb: short._run(np.zeros((96, 128, 3), np.uint8), 128, 96)}
    print(f"\ndetection alone on {len(frames)} camera frames 640x480, min_face=120 (median ms per frame):")
    for label, fn in rows.items():
        times = []
        for rgb in frames:
            fn(rgb)
            for _ in range(repeat):
                started = time.perf_counter()
                fn(rgb)
                times.append((time.perf_counter() - started) * 1000)
        print(f"  {label:50} {statistics.median(times):6.2f}")


def fit() -> None:
    """The box from keypoints, fitted: BOX_SIDE and BOX_DOWN that put the lip points nearest to those dlib's
    model gives on dlib's own box, over the 43 reference faces (their reference landmarks) and the 12
    portraits (dlib's points on its HOG box)."""
    samples = []   # (rgb, keypoints, reference points)
    for name, refs in reference_landmarks().items():
        rgb = load(DATA / "faces" / name)
        for face in faces.find_faces(rgb, 40, MODEL, "blazeface"):
            ref = min(refs, key=lambda r: np.abs(r[48:68] - face.points[48:68]).mean())
            samples.append((rgb, ref))
    portraits = [load(p) for p in sorted((DATA / "lips").glob("*.jpg"))] + [load(DATA / "faces" / "Tom_Cruise_avp_2014_4.jpg")]
    for rgb in portraits:
        samples.append((rgb, faces.find_faces(rgb, 80, MODEL, "hog")[0].points))
    short = faces._blazeface(blazeface.SHORT_RANGE, MODEL)
    looks = []
    for rgb, ref in samples:   # the keypoints of a close look at each face, as the detector takes them
        centre = ref[27:48].mean(axis=0)
        half = 1.5 * (ref[16, 0] - ref[0, 0])
        found = short.detect(rgb, (centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half), 0.3)
        best = min(found, key=lambda d: np.hypot(*(d.keypoints[3] - ref[48:68].mean(axis=0))))
        looks.append((rgb, best.keypoints, ref))
    original = faces.BOX_SIDE, faces.BOX_DOWN
    results = []
    for side in np.arange(1.0, 1.31, 0.05):
        for down in np.arange(0.16, 0.34, 0.03):
            faces.BOX_SIDE, faces.BOX_DOWN = side, down
            errors = [float(np.linalg.norm(faces.landmarks(rgb, faces.region_from_keypoints(k), MODEL)[48:68]
                                           - ref[48:68], axis=1).mean()) for rgb, k, ref in looks]
            results.append((float(np.mean(errors)), side, down, max(errors)))
    faces.BOX_SIDE, faces.BOX_DOWN = original
    results.sort()
    print(f"\nbox fit over {len(looks)} faces (mean lip-point distance to dlib's own-box points, px):")
    for mean, side, down, worst in results[:5]:
        print(f"  BOX_SIDE={side:.2f} BOX_DOWN={down:.2f}: mean {mean:.2f}, worst {worst:.2f}")
    chosen = next(r for r in results if abs(r[1] - original[0]) < 1e-6 and abs(r[2] - original[1]) < 1e-6)
    print(f"  in use: BOX_SIDE={original[0]} BOX_DOWN={original[1]}: mean {chosen[0]:.2f}, worst {chosen[3]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fit", action="store_true", help="also fit the box from keypoints (slow)")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"test data not found at {DATA}")
    cv2.setNumThreads(1)
    finds(args.repeat)
    camera_cost(max(5, args.repeat))
    if args.fit:
        fit()


if __name__ == "__main__":
    os.environ.setdefault("TINTCAM_DB", "/tmp/tintcam-bench/meter.sqlite3")
    main()
