"""Faces and landmarks: the only module that touches dlib.

Public functions take and return numpy arrays and plain tuples; no dlib type leaks out. Faces are found
by dlib's HOG detector; their 68 points come from dlib's trained model, run by ``shape_model`` (numpy,
the same points, loaded in a tenth of the time). Both are loaded on first use and cached. dlib is not
safe to call from several threads at once (``chalice local`` serves requests in threads), so every
dlib call holds ``_DLIB_LOCK``; the landmark model is read-only numpy and needs no lock.
"""
from __future__ import annotations

import os
import threading
import time
import zipfile
from dataclasses import dataclass

import numpy as np

from . import shape_model
from .errors import ModelUnavailable

# The 68-point (iBUG 300-W) scheme, named once.
JAW = slice(0, 17)
RIGHT_BROW = slice(17, 22)
LEFT_BROW = slice(22, 27)
NOSE = slice(27, 36)
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
OUTER_LIPS = slice(48, 60)
INNER_MOUTH = slice(60, 68)
N_POINTS = 68

MODEL_FILE = "shape_predictor_68_face_landmarks.npz"   # dlib's model converted by shape_model
# dlib's frontal face detector, saved to a file: building it with get_frontal_face_detector() takes
# 0.6-0.8 s (it is embedded compressed), loading the saved copy 3 ms; the detections are the same.
DETECTOR_FILE = "frontal_face_detector.svm"
# Where the model layer (layers/build.py) puts the files, under the layer root (/opt on Lambda).
LAYER_MODEL_DIRS = ("models", "")
# dlib's frontal HOG detector scans an 80x80 window: at scale 1 its boxes are about 80 px wide and up
# (measured: 73-80 px for the smallest faces it finds), so faces min_face wide need scale 80 / min_face.
DETECTOR_WINDOW = 80

_DLIB_LOCK = threading.Lock()
_LOAD_LOCK = threading.Lock()
_cache: dict = {}


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]   # x, y, w, h in frame pixels, clipped to the frame
    points: np.ndarray               # (68, 2) float32, x and y in frame pixels

    @property
    def outer_lips(self) -> np.ndarray:
        return self.points[OUTER_LIPS]

    @property
    def inner_mouth(self) -> np.ndarray:
        return self.points[INNER_MOUTH]


def resolve_model_path(configured: str = "", layer_root: str = "/opt") -> str:
    """The one place the model is looked for: the setting, else the Lambda layer (under ``layer_root``),
    else the face-recognition-models package's ``.dat`` (development and tests; converted once, next to
    it, by shape_model; Lambda reads the converted file from the layer)."""
    if configured:
        return configured
    for folder in LAYER_MODEL_DIRS:
        candidate = os.path.join(layer_root, folder, MODEL_FILE)
        if os.path.isfile(candidate):
            return candidate
    try:
        import face_recognition_models
    except ImportError:
        return os.path.join(layer_root, LAYER_MODEL_DIRS[0], MODEL_FILE)
    return face_recognition_models.pose_predictor_model_location()


def _dlib():
    import dlib  # imported here so that importing this module stays cheap
    return dlib


def detector_file(model_path: str) -> str:
    """The saved detector that goes with a converted model file: in the same folder."""
    return os.path.join(os.path.dirname(model_path), DETECTOR_FILE)


def _detector(model_path: str = ""):
    if "detector" not in _cache:
        with _LOAD_LOCK:
            if "detector" not in _cache:
                _cache["detector"] = _load_detector(detector_file(model_path) if model_path else "")
    return _cache["detector"]


def _load_detector(saved: str):
    dlib = _dlib()
    if saved and os.path.isfile(saved):
        try:
            detector = dlib.fhog_object_detector(saved)
        except RuntimeError:
            detector = None
        if detector is not None and detector.num_detectors == 5 and detector.detection_window_width == DETECTOR_WINDOW:
            return detector
    return dlib.get_frontal_face_detector()


def _predictor(path: str):
    entry = _cache.get("predictor")
    if entry is not None and entry[0] == path:
        return entry[1]
    with _LOAD_LOCK:
        entry = _cache.get("predictor")
        if entry is not None and entry[0] == path:
            return entry[1]
        if not os.path.isfile(path):
            raise _unavailable(path, "missing")
        started = time.perf_counter()
        try:
            predictor = shape_model.load(path)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # ModelFormatError is a ValueError
            raise _unavailable(path, "unreadable or corrupt") from None
        _cache["predictor"] = (path, predictor)
        _cache["model_load_s"] = time.perf_counter() - started
        _cache.pop("model_error", None)
        return predictor


def _unavailable(path: str, why: str) -> ModelUnavailable:
    message = f"the landmark model file is {why} ({os.path.basename(path)}); try again later"
    _cache["model_error"] = (path, message)
    return ModelUnavailable(message)


def load_model(path: str) -> None:
    """Load the 68-point model and the detector saved beside it now (raises ``ModelUnavailable``)."""
    _detector(_predictor(path).path)


def model_status(path: str) -> dict:
    """Whether the model is loaded, from where, how long loading took, and the last load error."""
    entry = _cache.get("predictor")
    error_path, error = _cache.get("model_error", (None, None))
    return {
        "loaded": entry is not None and entry[0] == path,
        "file": os.path.basename(path),
        "load_seconds": round(_cache.get("model_load_s", 0.0), 3),
        "error": error if error_path == path else None,
    }


def detection_scale(min_face: int) -> float:
    """How much the detector's image is resized so that faces ``min_face`` px wide fill its window."""
    return DETECTOR_WINDOW / float(min_face)


def detect(grey_scaled: np.ndarray, scale: float) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, w, h) in frame pixels, from a grey image that is the frame resized by ``scale``.

    Boxes are not clipped here: the landmark model works best on the detector's own box.
    """
    detector = _detector()
    with _DLIB_LOCK:
        rects = detector(grey_scaled, 0)
    boxes = []
    for r in rects:
        x, y = r.left() / scale, r.top() / scale
        w, h = (r.right() - r.left() + 1) / scale, (r.bottom() - r.top() + 1) / scale
        boxes.append((int(round(x)), int(round(y)), int(round(w)), int(round(h))))
    boxes.sort(key=lambda b: (b[0], b[1]))
    return boxes


def detect_scored(grey: np.ndarray, adjust_threshold: float = 0.0) -> list[tuple[tuple[int, int, int, int], float]]:
    """Boxes (x, y, w, h in ``grey``'s own pixels) with the detector's scores; a negative
    ``adjust_threshold`` also returns weaker detections (used only near a face that is being followed)."""
    detector = _detector()
    with _DLIB_LOCK:
        rects, scores, _ = detector.run(grey, 0, adjust_threshold)
    return [((r.left(), r.top(), r.right() - r.left() + 1, r.bottom() - r.top() + 1), float(score))
            for r, score in zip(rects, scores)]


def landmarks(rgb: np.ndarray, box: tuple[int, int, int, int], model_path: str) -> np.ndarray:
    """The 68 points (float32, frame pixels) for the face in ``box`` of the RGB frame."""
    return landmarks_of(rgb, [box], model_path)[0]


def landmarks_of(rgb: np.ndarray, boxes: list[tuple[int, int, int, int]], model_path: str) -> np.ndarray:
    """The 68 points of every face in ``boxes`` (F, 68, 2), computed as one batch."""
    return _predictor(model_path).predict(rgb, boxes)


def clip_box(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    x, y, w, h = box
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def find_faces(rgb: np.ndarray, grey_scaled: np.ndarray, scale: float, model_path: str) -> list[Face]:
    """Every face in the frame with its 68 landmarks (the model is loaded first, so a missing model
    fails the request before any detection work)."""
    _predictor(model_path)
    height, width = rgb.shape[:2]
    boxes = detect(grey_scaled, scale)
    points = landmarks_of(rgb, boxes, model_path)
    return [Face(box=clip_box(box, width, height), points=p) for box, p in zip(boxes, points)]


def prepare(source: str) -> tuple[str, str]:
    """Write the model files the service loads fast, next to dlib's ``source`` .dat (or in /tmp if that
    folder is read-only): the converted landmark model and the saved detector. Returns both paths."""
    converted = shape_model.ensure_converted(source)
    saved = detector_file(converted)
    if not os.path.isfile(saved):
        tmp = f"{saved}.{os.getpid()}.tmp"
        _dlib().get_frontal_face_detector().save(tmp)
        os.replace(tmp, saved)
    return converted, saved


if __name__ == "__main__":  # python -m chalicelib.faces [model.dat]: what `make models` runs
    import sys
    started = time.perf_counter()
    source = sys.argv[1] if len(sys.argv) > 1 else resolve_model_path("", layer_root="/nonexistent")
    for prepared in prepare(source):
        print(f"{prepared} ({os.path.getsize(prepared) / 1e6:.1f} MB)")
    print(f"ready in {time.perf_counter() - started:.1f} s")
