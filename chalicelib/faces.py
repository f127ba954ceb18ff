"""Faces and landmarks: the one module callers use for them, and the only one that touches dlib.

Public functions take and return numpy arrays and plain tuples; no dlib or LiteRT type leaks out.
Faces are found by one of two detectors, chosen by the ``detector`` setting (``TINTCAM_DETECTOR``):

- ``blazeface`` (default): MediaPipe's BlazeFace, run by LiteRT in ``blazeface.py``; its six keypoints
  give the box the 68-point model expects and the head's roll, so a tilted head's landmarks are found
  on an upright crop and turned back;
- ``hog``: dlib's frontal HOG detector on the frame resized for ``min_face``.

Their 68 points come from dlib's trained model, run by ``shape_model`` (numpy, the same points, loaded
in a tenth of the time). Everything is loaded on first use and cached. dlib and the LiteRT interpreter
are not safe from several threads at once (``chalice local`` serves requests in threads), so every dlib
call holds ``_DLIB_LOCK`` and each interpreter its own lock; the landmark model is read-only numpy.
"""
from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
import zipfile
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import imaging, shape_model
from . import settings as settings_module
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
# MediaPipe's BlazeFace models (from the mediapipe wheel: layers/models.py), beside the landmark model.
BLAZEFACE_FILES = ("face_detection_short_range.tflite", "face_detection_full_range_sparse.tflite")
# Where the model layer (layers/build.py) puts the files, under the layer root (/opt on Lambda).
LAYER_MODEL_DIRS = ("models", "")
# dlib's frontal HOG detector scans an 80x80 window: at scale 1 its boxes are about 80 px wide and up
# (measured: 73-80 px for the smallest faces it finds), so faces min_face wide need scale 80 / min_face.
DETECTOR_WINDOW = 80

# BlazeFace's keypoints -> the box dlib's 68-point model was trained on (the HOG detector's box), fitted
# on the shared photos (bench/box_fit.py): a square centred BOX_DOWN x s below the eyes' midpoint, along
# the face's own down direction, BOX_SIDE x s wide, where s = eye distance + eyes-to-mouth distance.
BOX_SIDE = 1.15
BOX_DOWN = 0.25
# A head rolled less than this keeps the frame's upright box (dlib's model was trained on such faces);
# more, and the landmarks are found on an upright crop of the face and turned back.
UPRIGHT_ROLL = 10.0
# BlazeFace detections: accepted at once when sure and large in the model's picture; otherwise the
# short-range model looks again at the face alone, twice (pictures CLOSE_LOOKS x its box wide), which
# places the keypoints better, and both looks must score CONFIRM or more (on the shared photos every
# face scored 0.71 and up in both, dogs 0.55 at most in one of them: bench/detectors.py).
SURE = 0.75
# the box's width in the model's picture, px, from which a sure detection's keypoints are taken as they
# are: the short-range model's 0.85 x its reach (blazeface.SHORT_REACH); the full-range model places them
# worse on faces under 32 px (lips 6 px off on 37 px faces, bench/detectors.py)
SURE_SIZE = {"face_detection_short_range.tflite": 20, "face_detection_full_range_sparse.tflite": 32}
CLOSE_LOOKS = (2.0, 3.0)
CONFIRM = 0.65
NEAR = 0.35               # the close look's face must have its eyes within NEAR x the box of where they were
# A face being followed (tracking) is kept while the close look still scores FOLLOW (a blurred or
# half-lit face drifts down to 0.45 while still a face; dogs and things scored up to 0.59 as new faces).
FOLLOW = 0.4
FOLLOW_LOOK = 2.5         # one look at a followed face, in a picture FOLLOW_LOOK x its box wide,
FOLLOW_SIDE = 64          # of FOLLOW_SIDE px: the face fills 25 px of it, as much as the model needs, and the
                          # look costs a third of one at 128 px (faces there scored 0.87 and up; keypoints
                          # within 2% of the box of those at 128 px: bench/detectors.py)
# min_face is the smallest face width looked for; like dlib's HOG (down to about 0.9 x min_face), faces a
# little smaller are kept: the box made from the keypoints is up to 20% narrower than dlib's on small faces
SMALLEST = 0.7

# dlib's 68-point model is made for faces seen from the front (up to about 45 degrees turned). A face
# seen more from the side is not followed: its eye distance under FRONTAL_EYES x the eyes-to-mouth
# distance, or its nose tip more than FRONTAL_NOSE x the eye distance beside the eyes' midpoint (every
# face dlib's HOG finds in the shared photos: 0.72 and up, 0.62 at most; the clip's profile: 0.1-0.58, 1-6).
FRONTAL_EYES = 0.6
FRONTAL_NOSE = 0.8

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


@dataclass(frozen=True)
class Region:
    """Where the 68-point model looks for one face: ``box`` (x, y, w, h) as it would be in the frame
    turned by ``roll`` degrees about the box's centre so that the head is upright (0: the frame's own)."""
    box: tuple[int, int, int, int]
    roll: float = 0.0

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + (w - 1) / 2.0, y + (h - 1) / 2.0

    def bounds(self) -> tuple[int, int, int, int]:
        """The upright (x, y, w, h) around the turned box, in frame pixels (the box itself when upright)."""
        if self.roll == 0.0:
            return self.box
        cx, cy = self.centre
        c, s = abs(math.cos(math.radians(self.roll))), abs(math.sin(math.radians(self.roll)))
        half_w = (self.box[2] * c + self.box[3] * s) / 2
        half_h = (self.box[2] * s + self.box[3] * c) / 2
        return (int(round(cx - half_w)), int(round(cy - half_h)), int(round(2 * half_w)), int(round(2 * half_h)))


def resolve_model_path(configured: str = "", layer_root: str = "/opt") -> str:
    """The one place the model is looked for: the setting, else the Lambda layer (under ``layer_root``),
    else the face-recognition-models package's ``.dat`` (development and tests; converted once, next to
    it, by shape_model; Lambda reads the converted file from the layer). The detector models are looked
    for in the same folder."""
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


def _hog_detector(model_path: str = ""):
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


def _blazeface(spec, model_path: str):
    """The BlazeFace model of ``spec`` from the landmark model's folder, loaded once."""
    key = ("blazeface", spec, model_path)
    entry = _cache.get(key)
    if entry is not None:
        return entry
    from . import blazeface
    folders = [os.path.dirname(model_path)]
    entry = _cache.get("predictor")
    if entry is not None and entry[1].path:
        folders.append(os.path.dirname(entry[1].path))   # beside the converted copy (it may be in /tmp)
    path = next((p for p in (os.path.join(f, spec.file) for f in folders) if os.path.isfile(p)),
                os.path.join(folders[0], spec.file))
    with _LOAD_LOCK:
        if key not in _cache:
            try:
                _cache[key] = blazeface.BlazeFace(path, spec)
            except (ValueError, OSError, RuntimeError):  # LiteRT says ValueError for a missing or bad file
                raise _unavailable(path, "missing or corrupt", "face detector") from None
        return _cache[key]


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


def _unavailable(path: str, why: str, what: str = "landmark model") -> ModelUnavailable:
    message = f"the {what} file is {why} ({os.path.basename(path)}); try again later"
    _cache["model_error"] = (path, message)
    return ModelUnavailable(message)


def load_model(path: str, detector: str = "") -> None:
    """Load the 68-point model and the face detector that goes with it now (raises ``ModelUnavailable``)."""
    _predictor(path)
    _detector_named(detector).load(path)


def model_status(path: str) -> dict:
    """Whether the model is loaded, from where, how long loading took, and the last load error."""
    entry = _cache.get("predictor")
    error_path, error = _cache.get("model_error", (None, None))
    return {
        "loaded": entry is not None and entry[0] == path,
        "file": os.path.basename(path),
        "load_seconds": round(_cache.get("model_load_s", 0.0), 3),
        "error": error if error_path and os.path.dirname(error_path) == os.path.dirname(path) else None,
    }


def detection_scale(min_face: int) -> float:
    """How much dlib's HOG detector's image is resized so that faces ``min_face`` px wide fill its window."""
    return DETECTOR_WINDOW / float(min_face)


# ----------------------------------------------------------------------------- dlib's HOG detector
def detect(grey_scaled: np.ndarray, scale: float) -> list[tuple[int, int, int, int]]:
    """dlib's HOG boxes (x, y, w, h) in frame pixels, from a grey image that is the frame resized by
    ``scale``. Boxes are not clipped here: the landmark model works best on the detector's own box."""
    detector = _hog_detector()
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
    detector = _hog_detector()
    with _DLIB_LOCK:
        rects, scores, _ = detector.run(grey, 0, adjust_threshold)
    return [((r.left(), r.top(), r.right() - r.left() + 1, r.bottom() - r.top() + 1), float(score))
            for r, score in zip(rects, scores)]


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class HogDetector:
    """dlib's frontal HOG detector: the frame resized so that ``min_face`` fills its 80 px window."""
    name = "hog"
    confirm_every = 4        # tracking: frames between looks at a followed face (a look costs a few ms)
    max_misses = 4           # tracking: failed looks in a row before a face still in view is dropped
    WEAK_THRESHOLD = -0.6    # near a followed face: turned or partly covered faces
    SEARCH_MARGIN = 0.5      # the region looked at around a followed face, in box widths

    def load(self, model_path: str) -> None:
        _hog_detector(model_path)

    def find(self, rgb: np.ndarray, min_face: int, model_path: str) -> list[Region]:
        scale = detection_scale(min_face)
        return [Region(box) for box in detect(imaging.grey_scaled(rgb, scale), scale)]

    def near(self, rgb: np.ndarray, region: Region, min_face: int, model_path: str) -> Region | None:
        """A face near ``region`` in a small search, accepting weaker detections than a full search."""
        x, y, w, h = region.box
        margin = self.SEARCH_MARGIN * w
        x0, y0 = max(0, int(x - margin)), max(0, int(y - margin))
        x1, y1 = min(rgb.shape[1], int(x + w + margin)), min(rgb.shape[0], int(y + h + margin))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        # Scale so that a face 80% of the followed size fills the detector's window.
        scale = min(DETECTOR_WINDOW / max(0.8 * w, 1.0), detection_scale(min_face) * 1.5)
        grey = Image.fromarray(rgb[y0:y1, x0:x1]).convert("L")
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        found = detect_scored(np.asarray(grey.resize(size, Image.BILINEAR)), self.WEAK_THRESHOLD)
        if not found:
            return None
        centre = np.array([x + w / 2, y + h / 2])
        boxes = [(round(x0 + bx / scale), round(y0 + by / scale), round(bw / scale), round(bh / scale))
                 for (bx, by, bw, bh), _ in found]
        best = min(boxes, key=lambda b: np.hypot(*(np.array([b[0] + b[2] / 2, b[1] + b[3] / 2]) - centre)))
        return Region(best) if iou(best, region.box) > 0.1 or abs(best[2] - w) < 0.5 * w else None


# ----------------------------------------------------------------------------- BlazeFace
def frontal(keypoints: np.ndarray) -> bool:
    """Whether BlazeFace's keypoints show a face turned little enough for the 68-point model."""
    from .blazeface import LEFT_EYE, MOUTH, NOSE_TIP, RIGHT_EYE
    right, left, nose, mouth = (keypoints[i].astype(np.float64) for i in (RIGHT_EYE, LEFT_EYE, NOSE_TIP, MOUTH))
    eyes = (right + left) / 2
    distance = float(np.hypot(*(left - right)))
    aside = abs(float((nose - eyes) @ (left - right))) / max(distance * distance, 1e-6)
    return distance >= FRONTAL_EYES * float(np.hypot(*(mouth - eyes))) and aside <= FRONTAL_NOSE


def region_from_keypoints(keypoints: np.ndarray) -> Region:
    """The 68-point model's box from BlazeFace's keypoints (see BOX_SIDE), with the head's roll."""
    from .blazeface import LEFT_EYE, MOUTH, RIGHT_EYE
    right, left, mouth = (keypoints[i].astype(np.float64) for i in (RIGHT_EYE, LEFT_EYE, MOUTH))
    eyes = (right + left) / 2
    across = left - right                                   # the person's right eye is on the image's left
    roll = math.degrees(math.atan2(across[1], across[0]))
    down = np.array([-across[1], across[0]]) / max(np.hypot(*across), 1e-6)
    size = np.hypot(*across) + np.hypot(*(mouth - eyes))
    cx, cy = eyes + down * (BOX_DOWN * size)
    side = max(1, int(round(BOX_SIDE * size)))
    box = (int(round(cx - (side - 1) / 2)), int(round(cy - (side - 1) / 2)), side, side)
    return Region(box, roll if abs(roll) >= UPRIGHT_ROLL else 0.0)


def roll_of(points: np.ndarray) -> float:
    """The head's roll from its 68 points (the eyes' centres), 0 when under UPRIGHT_ROLL: see Region."""
    across = points[LEFT_EYE].mean(axis=0) - points[RIGHT_EYE].mean(axis=0)
    roll = math.degrees(math.atan2(float(across[1]), float(across[0])))
    return roll if abs(roll) >= UPRIGHT_ROLL else 0.0


class BlazeFaceDetector:
    """MediaPipe's BlazeFace (blazeface.py): the short-range model on the whole frame for camera-sized
    faces, a pyramid of full-range looks for smaller ones, and a close look with the short-range model
    at every face that is small in its picture or not sure (keypoints placed better, non-faces dropped)."""
    name = "blazeface"
    confirm_every = 2        # tracking: a look costs about a millisecond
    max_misses = 0           # tracking: a followed face the detector no longer sees is dropped at once

    def load(self, model_path: str) -> None:
        from .blazeface import SHORT_RANGE
        _blazeface(SHORT_RANGE, model_path)

    def find(self, rgb: np.ndarray, min_face: int, model_path: str) -> list[Region]:
        from . import blazeface
        height, width = rgb.shape[:2]
        found = []
        looks = blazeface.plan(width, height, min_face)
        for spec, area in looks:
            picture_scale = spec.side / max(area[2] - area[0], area[3] - area[1])   # frame px -> picture px
            sure_size = SURE_SIZE[spec.file]
            found += [(d, picture_scale / sure_size) for d in _blazeface(spec, model_path).detect(rgb, area)]
        if len(looks) > 1:   # overlapping looks: one detection per face, sized as in its best look
            merged = blazeface.merge_detections([d for d, _ in found])
            found = [(m, max(s for d, s in found if d.score == m.score)) for m in merged]
        regions = []
        for detection, sure_scale in found:
            region = region_from_keypoints(detection.keypoints)
            sure = detection.score >= SURE and region.box[2] * sure_scale >= 1.0 and frontal(detection.keypoints)
            if not sure:
                region = self._close_look(rgb, region, model_path, CONFIRM, CLOSE_LOOKS)
            if region is not None and region.box[2] >= SMALLEST * min_face:
                regions.append(region)
        return _distinct(regions)

    def near(self, rgb: np.ndarray, region: Region, min_face: int, model_path: str) -> Region | None:
        from .blazeface import SHORT_RANGE
        return self._close_look(rgb, region, model_path, FOLLOW, (FOLLOW_LOOK,),
                                dataclasses.replace(SHORT_RANGE, side=FOLLOW_SIDE))

    @staticmethod
    def _close_look(rgb: np.ndarray, region: Region, model_path: str, threshold: float,
                    sizes: tuple[float, ...], spec=None) -> Region | None:
        """The short-range model on the face alone, in pictures ``sizes`` x its box wide: the face's region
        from the keypoints of every look (averaged), or None unless every look sees it frontal, scoring
        ``threshold`` or more, with its eyes near where they were (not another face in the picture) and
        its mouth in the frame."""
        from .blazeface import SHORT_RANGE
        model = _blazeface(spec or SHORT_RANGE, model_path)
        cx, cy = region.centre
        eyes_x, eyes_y = _eyes(region)
        keypoints = []
        for size in sizes:
            half = size * max(region.box[2], region.box[3]) / 2
            area = (int(round(cx - half)), int(round(cy - half)), int(round(cx + half)), int(round(cy + half)))
            near = [d for d in model.detect(rgb, area, min_score=threshold)
                    if np.hypot(d.keypoints[:2, 0].mean() - eyes_x, d.keypoints[:2, 1].mean() - eyes_y)
                    < NEAR * region.box[2]]
            if not near:
                return None
            keypoints.append(max(near, key=lambda d: d.score).keypoints)
        mean = np.mean(keypoints, axis=0)
        from .blazeface import MOUTH
        height, width = rgb.shape[:2]
        if not (0 <= mean[MOUTH, 0] < width and 0 <= mean[MOUTH, 1] < height):
            return None                      # its mouth is out of the frame: nothing to tint there
        return region_from_keypoints(mean) if frontal(mean) else None


def _eyes(region: Region) -> tuple[float, float]:
    """Where the eyes' midpoint of the face in ``region`` is (region_from_keypoints, backwards)."""
    cx, cy = region.centre
    back = BOX_DOWN / BOX_SIDE * region.box[2]
    angle = math.radians(region.roll)
    return cx + back * math.sin(angle), cy - back * math.cos(angle)


def _distinct(regions: list[Region]) -> list[Region]:
    """One region per face (two looks at one face can both report it, one box inside the other), in
    reading order."""
    kept: list[Region] = []
    for region in sorted(regions, key=lambda r: -r.box[2]):
        cx, cy = region.centre
        if all(iou(region.box, other.box) < 0.4 and not (abs(cx - other.centre[0]) < other.box[2] / 2 and
                                                         abs(cy - other.centre[1]) < other.box[3] / 2)
               for other in kept):
            kept.append(region)
    return sorted(kept, key=lambda r: (r.box[0], r.box[1]))


DETECTORS = {"blazeface": BlazeFaceDetector(), "hog": HogDetector()}


def _detector_named(name: str = ""):
    return DETECTORS[name or settings_module.get().detector]


def detector(name: str = ""):
    """The detector in use (the ``detector`` setting unless ``name`` says): ``find``, ``near`` and the
    tracking pace (``confirm_every``, ``max_misses``) of one of DETECTORS."""
    return _detector_named(name)


# ----------------------------------------------------------------------------- landmarks
def landmarks(rgb: np.ndarray, region, model_path: str) -> np.ndarray:
    """The 68 points (float32, frame pixels) for the face in ``region`` (a Region or an upright box)."""
    return landmarks_of(rgb, [region], model_path)[0]


def landmarks_of(rgb: np.ndarray, regions, model_path: str) -> np.ndarray:
    """The 68 points of every face in ``regions`` (F, 68, 2), as one batch. A rolled head's landmarks are
    found upright: the model reads the face's pixels in the head's own frame (the frame turned upright
    about the face, the turn folded into its few hundred pixel look-ups per cascade rather than resampling
    a crop) and its points are turned back into the frame."""
    regions = [r if isinstance(r, Region) else Region(tuple(r)) for r in regions]
    return _predictor(model_path).predict(rgb, [r.box for r in regions], [r.roll for r in regions])


def clip_box(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    x, y, w, h = box
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def find_faces(rgb: np.ndarray, min_face: int, model_path: str, detector: str = "") -> list[Face]:
    """Every face at least ``min_face`` px wide in the frame, with its 68 landmarks (the model is loaded
    first, so a missing model fails the request before any detection work)."""
    _predictor(model_path)
    height, width = rgb.shape[:2]
    regions = _detector_named(detector).find(rgb, min_face, model_path)
    points = landmarks_of(rgb, regions, model_path)
    return [Face(box=clip_box(r.bounds(), width, height), points=p) for r, p in zip(regions, points)]


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
