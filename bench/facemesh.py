"""MediaPipe's face mesh, run for the lip-mask comparison of ``bench/realism.py --mesh`` (the service does
not run it: see docs/benchmarks.md, "bench/realism.py", for why).

Two models from the mediapipe wheel (``layers/models.py``'s ``FACE_MESH``, fetched by ``make models``):

- ``face_landmark.tflite``: 468 points from a 192x192 picture of the face;
- ``face_landmark_with_attention.tflite``: the same mesh, plus 80 lip points that a second network places
  on a crop of the first one's features around the lips (and eyes and irises). LiteRT cannot load it: it
  uses three of MediaPipe's own ops (``Landmarks2TransformMatrix``, ``TransformTensorBilinear``,
  ``TransformLandmarks``). So it is split at them when loaded (``split_attention``): part A (picture ->
  mesh and the 48x48 feature map), the first two ops in numpy (as MediaPipe's
  ``mediapipe/util/tflite/operations/*.cc`` compute them), part B (the lips' 16x16 features -> 80 points in
  the crop's frame), the third op in numpy. Only the lips' branch is kept (the eyes' are dropped).

The picture: a square around the face (``roi``), turned so that the eyes are level, 192x192, bilinear,
edges repeated, values in [0, 1] (``face_landmark_cpu.pbtxt``'s ImageToTensorCalculator). The model's
coordinates count its pixels' centres at whole numbers: without that half pixel (a pixel in the frame
for a 250 px face) the lips sit a pixel up and left of the labelled ones (IoU 0.84 instead of 0.88).
"""
from __future__ import annotations

import copy
import math
import pathlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

from chalicelib.lipmask import LipContour

SIDE = 192
# MediaPipe's lip contours in the mesh (mediapipe/python/solutions/face_mesh_connections.py FACEMESH_LIPS),
# as LipContour's chains: the image's left corner (61, the person's right) to the right one (291)
UPPER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
LOWER = [291, 375, 321, 405, 314, 17, 84, 181, 91, 146, 61]
OPENING_TOP = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
OPENING_BOTTOM = [308, 324, 318, 402, 317, 14, 87, 178, 88, 95, 78]
# the attention model's 80 lip points, in its order (its Landmarks2TransformMatrix options, and
# tensors_to_face_landmarks_with_attention.pbtxt's refinement of the mesh)
LIP_POINTS = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
              78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415,
              76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306, 184, 74, 73, 72, 11, 302, 303, 304, 408,
              62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292, 183, 42, 41, 38, 12, 268, 271, 272, 407]
LIP_CROP = 16            # the lips' feature crop, cells (the ops' output_width / output_height)
LIP_CROP_SCALE = 1.5     # ... this much wider than the lip points' box (scale_x, scale_y)
# The first picture's square, from the 68 points: MediaPipe's own square (1.5 x the mesh's box, as its
# face_landmark_landmarks_to_roi.pbtxt makes it from the previous frame) measured against the 68 points'
# box in the eyes' frame, on the labelled faces and the clip's close-up (44 faces): 1.77 x its side
# (+-0.10), centred 0.125 of its side above its centre (+-0.02).
ROI_SIDE = 1.77
ROI_UP = 0.125
MESH_ROI = 1.5           # MediaPipe's square from a mesh: 1.5 x its points' box


@dataclass(frozen=True)
class Square:
    """A square of the frame (centre in pixel coordinates, pixel centres at whole numbers), turned by
    ``angle`` degrees (the eyes' line)."""
    centre: tuple[float, float]
    side: float
    angle: float


def _turn(angle: float) -> np.ndarray:
    """Frame -> the eyes' frame (rows: its x and y axes in the frame)."""
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return np.array([[c, s], [-s, c]])


def _square_around(points: np.ndarray, angle: float, side_factor: float, up: float = 0.0) -> Square:
    turn = _turn(angle)
    q = points.astype(np.float64) @ turn.T
    low, high = q.min(axis=0), q.max(axis=0)
    size = float(max(high - low))
    centre = ((low + high) / 2 - np.array([0.0, up * size])) @ turn
    return Square((float(centre[0]), float(centre[1])), side_factor * size, angle)


def roi_from_68(points: np.ndarray) -> Square:
    """The first picture's square from the 68 points (ROI_SIDE, ROI_UP), level with the eyes' centres."""
    across = points[42:48].mean(axis=0) - points[36:42].mean(axis=0)
    return _square_around(points, math.degrees(math.atan2(across[1], across[0])), ROI_SIDE, ROI_UP)


def roi_from_mesh(mesh: np.ndarray) -> Square:
    """MediaPipe's square from a mesh: its points' box, level with the eye corners 33 -> 263, 1.5x."""
    across = mesh[263] - mesh[33]
    return _square_around(mesh, math.degrees(math.atan2(across[1], across[0])), MESH_ROI)


def picture(rgb: np.ndarray, square: Square) -> tuple[np.ndarray, np.ndarray]:
    """The square's 192x192 picture (float32 in [0, 1], edges repeated) and the affine map (2, 3) from the
    picture's continuous coordinates to the frame's."""
    k = square.side / SIDE
    c, s = math.cos(math.radians(square.angle)), math.sin(math.radians(square.angle))
    a, b, d, e = k * c, -k * s, k * s, k * c
    # the frame's continuous coordinates (pixel centres at +0.5) of the picture's centre
    cx, cy = square.centre[0] + 0.5, square.centre[1] + 0.5
    affine = np.array([[a, b, cx - (a + b) * SIDE / 2], [d, e, cy - (d + e) * SIDE / 2]])
    corners = affine @ np.array([[0, SIDE, 0, SIDE], [0, 0, SIDE, SIDE], [1, 1, 1, 1]], np.float64)
    height, width = rgb.shape[:2]
    x0, y0 = int(math.floor(corners[0].min())) - 2, int(math.floor(corners[1].min())) - 2
    x1, y1 = int(math.ceil(corners[0].max())) + 2, int(math.ceil(corners[1].max())) + 2
    crop = rgb[max(0, y0):min(height, y1), max(0, x0):min(width, x1)]
    crop = np.pad(crop, ((max(0, y0) - y0, y1 - min(height, y1)), (max(0, x0) - x0, x1 - min(width, x1)), (0, 0)),
                  mode="edge")
    local = affine - np.array([[0, 0, x0], [0, 0, y0]])
    image = Image.fromarray(np.ascontiguousarray(crop)).transform((SIDE, SIDE), Image.AFFINE, tuple(local.ravel()),
                                                                  Image.BILINEAR)
    return np.asarray(image, np.float32)[None] * np.float32(1 / 255), affine


def to_frame(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """The model's points (its pixel centres at whole numbers) in frame pixel coordinates."""
    return (points[:, :2] + 0.5) @ affine[:, :2].T + affine[:, 2] - 0.5


# ----------------------------------------------------------------------------- MediaPipe's ops, in numpy
def landmarks_to_transform_matrix(mesh: np.ndarray) -> np.ndarray:
    """Landmarks2TransformMatrix (v2) for the lips: the 4x4 map from the 16x16 crop to the feature map,
    a box around the lip points (in the frame of the corners' line) 1.5x wide."""
    left, right = mesh[61, :2], mesh[291, :2]
    rotation = -math.atan2(right[1] - left[1], right[0] - left[0])
    c, s = math.cos(rotation), math.sin(rotation)
    turn = np.array([[c, -s], [s, c]])
    q = mesh[LIP_POINTS, :2].astype(np.float64) @ turn.T
    low, high = q.min(axis=0), q.max(axis=0)
    centre = turn.T @ ((low + high) / 2)
    matrix = np.eye(4)
    matrix[:2, :2] = turn.T * ((high - low) * LIP_CROP_SCALE / LIP_CROP)[None, :]
    matrix[:2, 3] = centre - matrix[:2, :2] @ np.array([LIP_CROP / 2, LIP_CROP / 2])
    return matrix.astype(np.float32)


def transform_tensor_bilinear(features: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """TransformTensorBilinear (v2): the 16x16 crop of ``features`` (H, W, C) that ``matrix`` maps, bilinear,
    zero outside (with its align-corners correction)."""
    height, width = features.shape[:2]
    m = matrix[:2].astype(np.float64)
    shift = m[:, 0] * 0.5 + m[:, 1] * 0.5 - 0.5
    oy, ox = np.mgrid[0:LIP_CROP, 0:LIP_CROP].astype(np.float64)
    tx = m[0, 0] * ox + m[0, 1] * oy + m[0, 3] + shift[0]
    ty = m[1, 0] * ox + m[1, 1] * oy + m[1, 3] + shift[1]
    inside = (tx >= 0) & (tx <= width - 1) & (ty >= 0) & (ty <= height - 1)
    x0, y0 = np.floor(tx).astype(np.intp), np.floor(ty).astype(np.intp)
    fx, fy = (tx - x0)[..., None], (ty - y0)[..., None]

    def at(y, x):
        ok = (y >= 0) & (x >= 0) & (y < height) & (x < width)
        return features[np.clip(y, 0, height - 1), np.clip(x, 0, width - 1)] * ok[..., None]
    top = (1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)
    bottom = (1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)
    return np.where(inside[..., None], fy * bottom + (1 - fy) * top, 0.0).astype(np.float32)


def transform_landmarks(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """TransformLandmarks (v2, two dimensions): points through the matrix's first two rows."""
    return points @ matrix[:2, :2].T + matrix[:2, 3]


# ----------------------------------------------------------------------------- splitting the model
def split_attention(path: str | pathlib.Path) -> tuple[bytes, bytes]:
    """The attention model as two LiteRT models without MediaPipe's ops: A (input_1 -> the mesh scaled
    to the feature map, the feature map, the mesh, the face flag) and B (the lips' crop and its matrix ->
    80 lip points in the crop's frame and the matrix that maps them back). Only the lips' branch is kept."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(pathlib.Path(path).read_bytes(), 0))
    graph = model.subgraphs[0]
    named = {graph.tensors[t].name.decode(): t for t in range(len(graph.tensors))}
    producer = {t: k for k, op in enumerate(graph.operators) for t in op.outputs}

    def custom(op) -> bool:
        return bool(model.operatorCodes[op.opcodeIndex].customCode)

    def needed(targets) -> list[int]:
        ops, stack, seen = set(), list(targets), set()
        while stack:
            t = stack.pop()
            if t in seen or t not in producer:
                continue
            seen.add(t)
            ops.add(producer[t])
            stack += [i for i in graph.operators[producer[t]].inputs if i >= 0]
        return sorted(ops)

    def build(ops: list[int], inputs: list[int], outputs: list[int]) -> bytes:
        part = copy.copy(model)
        used = sorted(set(inputs) | set(outputs) | {t for k in ops for t in graph.operators[k].outputs}
                      | {t for k in ops for t in graph.operators[k].inputs if t >= 0})
        index = {t: n for n, t in enumerate(used)}
        buffers = {0: 0}                       # buffer 0 is the empty one
        tensors = []
        for t in used:
            tensor = copy.copy(graph.tensors[t])
            tensor.buffer = buffers.setdefault(tensor.buffer, len(buffers))
            tensors.append(tensor)
        operators = []
        for k in ops:
            op = copy.copy(graph.operators[k])
            op.inputs = [index[i] if i >= 0 else -1 for i in op.inputs]
            op.outputs = [index[i] for i in op.outputs]
            operators.append(op)
        sub = copy.copy(graph)
        sub.tensors, sub.operators = tensors, operators
        sub.inputs, sub.outputs = [index[t] for t in inputs], [index[t] for t in outputs]
        part.subgraphs = [sub]
        part.buffers = [model.buffers[b] for b, _ in sorted(buffers.items(), key=lambda kv: kv[1])]
        part.metadata = part.signatureDefs = part.metadataBuffer = None
        builder = flatbuffers.Builder(1 << 20)
        builder.Finish(part.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

    a_out = [named[n] for n in ("multiply_by_constant", "p_re_lu_3", "output_mesh_identity", "conv_faceflag")]
    a_ops = needed(a_out)
    b_out = [named["reshape_1"], named["multiply_by_constant_1"]]
    b_ops = [k for k in needed(b_out) if k not in a_ops and not custom(graph.operators[k])]
    if any(custom(graph.operators[k]) for k in a_ops):
        raise ValueError(f"{path}: part A would need MediaPipe's ops")
    b_in = [named["landmarks_to_transform_matrix_v2"], named["transform_tensor_bilinear_v2"]]
    return build(a_ops, [named["input_1"]], a_out), build(b_ops, b_in, b_out)


# ----------------------------------------------------------------------------- running them
class FaceMesh:
    """The face mesh on one face: ``mesh(rgb, square)`` gives the 468 points (frame pixels) and the face
    flag; with ``attention``, the lips' 80 points are the attention model's refined ones."""

    def __init__(self, folder: str | pathlib.Path, attention: bool = True) -> None:
        from ai_edge_litert.interpreter import Interpreter
        folder = pathlib.Path(folder)
        self.attention = attention
        if attention:
            self._parts = split_attention(folder / "face_landmark_with_attention.tflite")   # kept alive
            self._a = Interpreter(model_content=self._parts[0], num_threads=1)
            self._b = Interpreter(model_content=self._parts[1], num_threads=1)
            self._b.allocate_tensors()
            self._b_in = {d["name"]: d["index"] for d in self._b.get_input_details()}
            self._b_out = {d["name"]: d["index"] for d in self._b.get_output_details()}
        else:
            self._a = Interpreter(model_path=str(folder / "face_landmark.tflite"), num_threads=1)
        self._a.allocate_tensors()
        self._input = self._a.get_input_details()[0]["index"]
        self._a_out = {tuple(d["shape"]): d["index"] for d in self._a.get_output_details()}
        self._a_named = {d["name"]: d["index"] for d in self._a.get_output_details()}

    def mesh(self, rgb: np.ndarray, square: Square) -> tuple[np.ndarray, float]:
        tensor, affine = picture(rgb, square)
        self._a.set_tensor(self._input, tensor)
        self._a.invoke()
        points = self._a.get_tensor(self._a_out[(1, 1, 1, 1404)]).reshape(468, 3)[:, :2].copy()
        flag = float(self._a.get_tensor(self._a_out[(1, 1, 1, 1)]).ravel()[0])
        if self.attention:
            scaled = self._a.get_tensor(self._a_named["multiply_by_constant"])[0]
            features = self._a.get_tensor(self._a_named["p_re_lu_3"])[0]
            matrix = landmarks_to_transform_matrix(scaled)
            self._b.set_tensor(self._b_in["transform_tensor_bilinear_v2"],
                               transform_tensor_bilinear(features, matrix)[None])
            self._b.set_tensor(self._b_in["landmarks_to_transform_matrix_v2"], matrix[None])
            self._b.invoke()
            lips = self._b.get_tensor(self._b_out["reshape_1"])[0]
            back = self._b.get_tensor(self._b_out["multiply_by_constant_1"])[0]
            points[LIP_POINTS] = transform_landmarks(lips, back)
        return to_frame(points, affine), 1.0 / (1.0 + math.exp(-flag))

    def lips(self, rgb: np.ndarray, points68: np.ndarray, passes: int = 2,
             first: Square | None = None) -> tuple[LipContour, np.ndarray]:
        """The lips of the face with these 68 points, as a LipContour, and the mesh: the first picture's
        square from the 68 points (or ``first``), each further pass's from the mesh before (as MediaPipe
        follows a face from frame to frame)."""
        mesh, _ = self.mesh(rgb, first or roi_from_68(points68))
        for _ in range(passes - 1):
            mesh, _ = self.mesh(rgb, roi_from_mesh(mesh))
        return contour(mesh), mesh


def contour(mesh: np.ndarray) -> LipContour:
    m = mesh.astype(np.float64)
    return LipContour(m[UPPER], m[LOWER], m[OPENING_TOP], m[OPENING_BOTTOM])
