"""MediaPipe's BlazeFace face detector, run by Google's LiteRT runtime (``ai-edge-litert``).

Only ``faces.py`` imports this module. The model files come from the ``mediapipe`` wheel
(``layers/models.py`` extracts them and checks their sha256; ``make models`` and the model layer carry
them): the short-range model sees a 128x128 picture and is made for faces at arm's length, the
full-range model sees 192x192 and finds smaller faces. The anchors and the decoding are MediaPipe's
(``SsdAnchorsCalculator``, ``TensorsToDetectionsCalculator`` with its options from
``face_detection_short_range.pbtxt`` / ``face_detection_full_range.pbtxt``, weighted non-maximum
suppression), written with numpy.

A picture (the whole frame or a region of it) is fitted into the model's square, padded with black,
scaled to [-1, 1]; each detection comes back in frame pixels: a box and six keypoints (the person's right
eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion). The interpreter is not safe
from several threads at once (``chalice local`` answers in threads): every call holds its lock.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

RIGHT_EYE, LEFT_EYE, NOSE_TIP, MOUTH, RIGHT_EAR, LEFT_EAR = range(6)


@dataclass(frozen=True)
class Spec:
    """One BlazeFace model: its file, input side, anchor layout and score threshold (MediaPipe's options)."""
    file: str
    sha256: str
    side: int
    strides: tuple[int, ...]
    anchors_per_cell: tuple[int, ...]   # per stride: 2 = aspect ratio 1 plus the interpolated scale
    min_score: float


SHORT_RANGE = Spec("face_detection_short_range.tflite",
                   "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
                   side=128, strides=(8, 16, 16, 16), anchors_per_cell=(2, 2, 2, 2), min_score=0.5)
FULL_RANGE = Spec("face_detection_full_range_sparse.tflite",
                  "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
                  side=192, strides=(4,), anchors_per_cell=(1,), min_score=0.6)
_X_COLUMNS = np.array([0, 4, 6, 8, 10, 12, 14])   # the centre's and the keypoints' x among the 16 values
_Y_COLUMNS = _X_COLUMNS + 1
NMS_IOU = 0.3          # MediaPipe's min_suppression_threshold (weighted NMS)
SCORE_CLIP = 100.0     # MediaPipe's score_clipping_thresh


def anchors(spec: Spec) -> np.ndarray:
    """The anchor centres (N, 2) in [0, 1], in the model's output order (SsdAnchorsCalculator with
    fixed_anchor_size: every anchor is 1 x 1, so only the centres matter). Consecutive layers with the
    same stride share one feature map, their anchors interleaved per cell."""
    centres = []
    layer = 0
    while layer < len(spec.strides):
        stride = spec.strides[layer]
        per_cell = 0
        while layer < len(spec.strides) and spec.strides[layer] == stride:
            per_cell += spec.anchors_per_cell[layer]
            layer += 1
        cells = -(-spec.side // stride)
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        grid = np.stack([xs.reshape(-1), ys.reshape(-1)], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]   # x, y, w, h in frame pixels (BlazeFace's own box)
    keypoints: np.ndarray                    # (6, 2) float32, frame pixels
    score: float


class BlazeFace:
    """One loaded model: ``detect(rgb, region)`` finds the faces in a region of an RGB frame."""

    def __init__(self, path: str, spec: Spec, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter  # imported here: only a caller that detects pays
        self.spec = spec
        self.path = path
        self._interpreter = Interpreter(model_path=path, num_threads=threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        if tuple(self._interpreter.get_input_details()[0]["shape"]) != (1, spec.side, spec.side, 3):
            # the network is convolutional: a smaller picture gives a smaller grid of the same anchors
            self._interpreter.resize_tensor_input(self._input, [1, spec.side, spec.side, 3])
        self._interpreter.allocate_tensors()
        self._anchors = anchors(spec)
        # the two outputs, told apart by shape (their names differ between the models): (1, N, 16) boxes
        # and keypoints, (1, N, 1) scores
        outputs = {tuple(d["shape"]): d["index"] for d in self._interpreter.get_output_details()}
        count = len(self._anchors)
        if set(outputs) != {(1, count, 16), (1, count, 1)}:
            raise ValueError(f"{path} is not a BlazeFace model with {count} anchors")
        self._regressors, self._scores = outputs[(1, count, 16)], outputs[(1, count, 1)]
        self._canvas = np.zeros((1, spec.side, spec.side, 3), np.float32)
        self._lock = threading.Lock()

    def detect(self, rgb: np.ndarray, region: tuple[int, int, int, int] | None = None,
               min_score: float | None = None) -> list[Detection]:
        """Faces in ``region`` (x0, y0, x1, y1, clipped to the frame; default the whole frame) of the
        (H, W, 3) uint8 frame, best first."""
        height, width = rgb.shape[:2]
        x0, y0, x1, y1 = region if region is not None else (0, 0, width, height)
        x0, y0, x1, y1 = max(0, int(x0)), max(0, int(y0)), min(width, int(x1)), min(height, int(y1))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return []
        side = self.spec.side
        scale = side / max(x1 - x0, y1 - y0)           # frame pixels -> model pixels
        w, h = min(side, max(1, round((x1 - x0) * scale))), min(side, max(1, round((y1 - y0) * scale)))
        # (a contiguous copy first: Pillow reads a strided view of a region 10x slower than copying it)
        picture = Image.fromarray(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
        factor = int(1.0 / scale)
        if factor >= 2:                                  # a box filter by a whole factor first: 3x cheaper
            picture = picture.reduce(factor)
        if picture.size != (w, h):
            picture = picture.resize((w, h), Image.BILINEAR)
        raw_scores, raw_values = self._run(np.asarray(picture), w, h)
        threshold = self.spec.min_score if min_score is None else min_score
        keep = np.flatnonzero(raw_scores > np.log(threshold / (1.0 - threshold)))
        if not len(keep):
            return []
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores[keep], -SCORE_CLIP, SCORE_CLIP)))
        values = raw_values[keep] / side                 # (K, 16): cx, cy, w, h, 6 keypoints (x, y)
        centres = self._anchors[keep]
        values[:, 0:2] += centres
        values[:, 4:16] += np.tile(centres, 6)
        values *= side / scale                           # model square -> frame pixels
        values[:, _X_COLUMNS] += x0                      # region -> frame
        values[:, _Y_COLUMNS] += y0
        return merge(scores, values)

    def _run(self, picture: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            canvas = self._canvas
            canvas[0, :h, :w] = picture
            canvas[0, :h, :w] *= np.float32(2.0 / 255.0)
            canvas[0, :h, :w] -= np.float32(1.0)
            if h < self.spec.side:
                canvas[0, h:] = -1.0
            if w < self.spec.side:
                canvas[0, :, w:] = -1.0
            self._interpreter.set_tensor(self._input, canvas)
            self._interpreter.invoke()
            scores = self._interpreter.get_tensor(self._scores)[0, :, 0]
            boxes = self._interpreter.get_tensor(self._regressors)[0]
        return scores, boxes


def merge(scores: np.ndarray, values: np.ndarray) -> list[Detection]:
    """MediaPipe's weighted non-maximum suppression: the best remaining detection and every other one
    overlapping it by more than NMS_IOU become one, their boxes and keypoints averaged by score.
    ``values`` (K, 16) are centre x, y, width, height and the six keypoints, in frame pixels."""
    order = np.argsort(-scores, kind="stable")
    scores, values = scores[order], values[order]
    x0, y0 = values[:, 0] - values[:, 2] / 2, values[:, 1] - values[:, 3] / 2
    x1, y1 = values[:, 0] + values[:, 2] / 2, values[:, 1] + values[:, 3] / 2
    area = np.maximum(x1 - x0, 0) * np.maximum(y1 - y0, 0)
    remaining = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        iw = np.clip(np.minimum(x1[i], x1) - np.maximum(x0[i], x0), 0, None)
        ih = np.clip(np.minimum(y1[i], y1) - np.maximum(y0[i], y0), 0, None)
        inter = iw * ih
        group = remaining & (inter > NMS_IOU * np.maximum(area[i] + area - inter, 1e-9))
        group[i] = True
        weights = scores[group]
        v = (values[group] * weights[:, None]).sum(axis=0) / weights.sum()
        out.append(Detection(box=(float(v[0] - v[2] / 2), float(v[1] - v[3] / 2), float(v[2]), float(v[3])),
                             keypoints=v[4:16].reshape(6, 2).astype(np.float32), score=float(scores[i])))
        remaining &= ~group
    return out


def merge_detections(found: list[Detection]) -> list[Detection]:
    """Detections of overlapping regions (tiles) as one list, duplicates merged as by ``merge``."""
    if not found:
        return []
    scores = np.array([d.score for d in found], np.float32)
    values = np.array([[d.box[0] + d.box[2] / 2, d.box[1] + d.box[3] / 2, d.box[2], d.box[3],
                        *d.keypoints.reshape(-1)] for d in found], np.float32)
    return merge(scores, values)


# ----------------------------------------------------------------------------- which regions to look at
# The smallest face each model finds reliably, as a width (dlib's box) in the model's own pixels,
# measured on the shared photos' 68 faces shown at each size: the short-range model found 67/68 at
# 18 px and all at 24; the full-range model 67/68 at 18 and all at 24 (bench/detectors.py).
SHORT_REACH = 24
FULL_REACH = 20
# The full-range pyramid looks for faces down to this share of min_face (as dlib's HOG finds faces a
# little under min_face); the single short-range look is chosen on min_face itself.
MARGIN = 0.85
SLACK = 1.15


def plan(width: int, height: int, min_face: float) -> list[tuple[Spec, tuple[int, int, int, int]]]:
    """The (model, region) looks that find every face ``min_face`` px wide or more in a frame.

    One short-range look at the whole frame when it shows such faces large enough (camera frames:
    640 px wide down to 120 px faces); otherwise that look for the large faces (the short-range model
    finds large and tilted faces better) and a pyramid of full-range looks: the whole frame, then
    overlapping tiles, each level's tiles small enough to show smaller faces, down to ``min_face``.
    Tiles overlap by the largest face their level is responsible for (the smallest the level above finds),
    so every face lies whole in some tile of the level that must find it.
    """
    longest = max(width, height)
    if min_face * SHORT_RANGE.side >= SHORT_REACH * longest:
        return [(SHORT_RANGE, (0, 0, width, height))]
    looks = [(SHORT_RANGE, (0, 0, width, height)), (FULL_RANGE, (0, 0, width, height))]
    ratio = FULL_RANGE.side / FULL_REACH                # region side / smallest face found in it
    tile, smallest, target = float(longest), longest / ratio, MARGIN * min_face
    while smallest > target:
        overlap = 1.1 * smallest                          # the faces this level must hold whole
        tile = float(int(max(target * ratio, tile / 3.0, 2.0 * overlap)))
        smallest = tile / ratio
        for y0, y1 in _spans(height, tile, overlap):
            for x0, x1 in _spans(width, tile, overlap):
                looks.append((FULL_RANGE, (x0, y0, x1, y1)))
    return looks


def _spans(length: int, tile: float, overlap: float) -> list[tuple[int, int]]:
    """Evenly spaced tiles (start, end) covering ``length`` with at least ``overlap`` between neighbours;
    one tile the whole length when that is at most SLACK x the tile (its faces then show a little smaller
    than planned, which the reach's margin allows, for half the looks)."""
    if length <= SLACK * tile:
        return [(0, length)]
    size = int(tile)
    count = int(np.ceil((length - tile) / (tile - overlap))) + 1
    return [(start, start + size) for start in (round(i * (length - size) / (count - 1)) for i in range(count))]
