"""bench/facemesh.py: MediaPipe's face mesh for the lip-mask comparison of bench/realism.py --mesh. The
attention model split at MediaPipe's own ops, those ops in numpy, and its lips on the labelled faces."""
from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest
from PIL import Image

from bench import facemesh
from chalicelib import faces, lipmask
from layers import models
from tests.conftest import DATA

FOLDER = pathlib.Path(faces.resolve_model_path("")).parent


def need_models() -> pathlib.Path:
    if not models.current(FOLDER, models.FACE_MESH):
        pytest.skip(f"the face mesh models are not in {FOLDER} (make models fetches them)")
    return FOLDER


def test_litert_needs_the_attention_model_split_at_mediapipes_ops():
    from ai_edge_litert.interpreter import Interpreter
    folder = need_models()
    with pytest.raises(RuntimeError, match="Landmarks2TransformMatrix"):
        Interpreter(model_path=str(folder / "face_landmark_with_attention.tflite")).allocate_tensors()
    part_a, part_b = facemesh.split_attention(folder / "face_landmark_with_attention.tflite")
    a, b = Interpreter(model_content=part_a), Interpreter(model_content=part_b)
    a.allocate_tensors()
    b.allocate_tensors()
    assert [tuple(d["shape"]) for d in a.get_input_details()] == [(1, 192, 192, 3)]
    assert {d["name"]: tuple(d["shape"]) for d in a.get_output_details()} == {
        "multiply_by_constant": (1, 468, 3), "p_re_lu_3": (1, 48, 48, 32),
        "output_mesh_identity": (1, 1, 1, 1404), "conv_faceflag": (1, 1, 1, 1)}
    assert {d["name"]: tuple(d["shape"]) for d in b.get_input_details()} == {
        "landmarks_to_transform_matrix_v2": (1, 4, 4), "transform_tensor_bilinear_v2": (1, 16, 16, 32)}
    assert {d["name"]: tuple(d["shape"]) for d in b.get_output_details()} == {
        "reshape_1": (1, 80, 2), "multiply_by_constant_1": (1, 4, 4)}
    assert len(part_a) + len(part_b) < 0.7 * (folder / "face_landmark_with_attention.tflite").stat().st_size


def test_the_bilinear_crop_reads_where_its_matrix_points():
    features = np.random.default_rng(0).normal(size=(48, 48, 32)).astype(np.float32)
    shift = np.eye(4, dtype=np.float32)
    shift[0, 3], shift[1, 3] = 5.0, 7.0                # crop (x, y) -> features (x + 5, y + 7)
    crop = facemesh.transform_tensor_bilinear(features, shift)
    assert np.allclose(crop, features[7:23, 5:21])
    half = shift.copy()
    half[0, 3] += 0.5                                  # half a cell along x: the mean of two neighbours
    assert np.allclose(facemesh.transform_tensor_bilinear(features, half),
                       (features[7:23, 5:21] + features[7:23, 6:22]) / 2, atol=1e-5)
    shift[0, 3] = 40.0                                 # reaching past the features: zeros there
    crop = facemesh.transform_tensor_bilinear(features, shift)
    assert np.allclose(crop[:, :7], features[7:23, 40:47]) and not crop[:, 8:].any()


def test_the_lips_crop_holds_the_lips_turned_level():
    angle = math.radians(20)
    mesh = np.zeros((468, 3), np.float32)
    t = np.linspace(0, 2 * math.pi, len(facemesh.LIP_POINTS), endpoint=False)
    ring = np.stack([10 * np.cos(t), 4 * np.sin(t)], axis=1)           # lips 20 wide, 8 tall, turned 20 deg
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    mesh[facemesh.LIP_POINTS, :2] = ring @ turn.T + [24, 30]
    mesh[61, :2], mesh[291, :2] = turn @ [-10, 0] + [24, 30], turn @ [10, 0] + [24, 30]
    matrix = facemesh.landmarks_to_transform_matrix(mesh)
    back = np.linalg.solve(matrix[:2, :2].astype(np.float64), (mesh[facemesh.LIP_POINTS, :2] - matrix[:2, 3]).T).T
    margin = facemesh.LIP_CROP * (1 - 1 / facemesh.LIP_CROP_SCALE) / 2   # the box is 1.5x the lips
    assert back.min(axis=0) == pytest.approx([margin, margin], abs=0.05)
    assert back.max(axis=0) == pytest.approx([16 - margin, 16 - margin], abs=0.05)
    corners = np.linalg.solve(matrix[:2, :2].astype(np.float64), (mesh[[61, 291], :2] - matrix[:2, 3]).T).T
    assert corners[0, 1] == pytest.approx(corners[1, 1], abs=1e-4)       # the corners' line is the crop's x
    assert np.allclose(facemesh.transform_landmarks(back, matrix), mesh[facemesh.LIP_POINTS, :2], atol=1e-4)


def test_the_attention_models_lips_follow_the_labelled_lips():
    """Guards the split, the ops and the half pixel: the lips as placed (lipmask's curves and soft edge, not
    snapped) against ../shared/data/lips; bench/realism.py --mesh prints the figures (0.886 / 0.782)."""
    folder = need_models()
    labelled = DATA / "lips"
    if not labelled.is_dir():
        pytest.skip(f"labelled lips not found at {labelled} (see ../shared/data/README.md)")
    attention, plain = facemesh.FaceMesh(folder), facemesh.FaceMesh(folder, attention=False)
    scores = {"attention": [], "plain": []}
    for jpg in sorted(labelled.glob("*.jpg")):
        rgb = np.asarray(Image.open(jpg).convert("RGB")).copy()
        lips = np.isin(np.asarray(Image.open(jpg.with_name(jpg.stem + ".labels.png"))), (1, 2))
        (face,) = faces.find_faces(rgb, 120, faces.resolve_model_path(""))
        for name, model in (("attention", attention), ("plain", plain)):
            contour, mesh = model.lips(rgb, face.points, 2)
            found = lipmask.find(rgb, face.points, contour, snap_edges=False)
            weight = np.zeros(lips.shape, np.float32)
            weight[found.rows, found.cols] = found.weight
            scores[name].append(float(((weight >= 0.5) & lips).sum() / ((weight >= 0.5) | lips).sum()))
            assert model.mesh(rgb, facemesh.roi_from_mesh(mesh))[1] > 0.9      # the face flag: a face
    assert len(scores["attention"]) == 11
    assert np.mean(scores["attention"]) > 0.87 and min(scores["attention"]) > 0.76
    assert np.mean(scores["plain"]) < np.mean(scores["attention"]) - 0.05   # its lips are coarse
