"""chalicelib/lipstick.py: the mask keeps to the lips, the tint moves hue and keeps the lips' own light."""
from __future__ import annotations

import colorsys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from chalicelib import faces, imaging, lipstick
from tests.conftest import read


@pytest.fixture(scope="module")
def tom(settings):
    data = read("Tom_Cruise_avp_2014_4.jpg")  # a wide smile: the teeth show
    found = imaging.probe(data, settings)
    rgb = imaging.decode(data, found)
    face, = faces.find_faces(rgb, 100, faces.resolve_model_path(""))
    return rgb, face


def polygon_mask(points: np.ndarray, shape) -> np.ndarray:
    img = Image.new("L", (shape[1], shape[0]), 0)
    ImageDraw.Draw(img).polygon([tuple(map(float, p)) for p in points], fill=1)
    return np.asarray(img).astype(bool)


def test_lab_round_trip_is_exact_enough():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(1000, 3), dtype=np.uint8)
    back = lipstick.lab_to_rgb(lipstick.rgb_to_lab(rgb))
    assert np.abs(back.astype(int) - rgb).max() <= 1
    white = lipstick.rgb_to_lab(np.array([255, 255, 255], np.uint8))
    assert abs(white[0] - 100) < 0.05 and abs(white[1]) < 0.05 and abs(white[2]) < 0.05


def test_mask_covers_lips_not_mouth_nor_outside(tom):
    rgb, face = tom
    mask, (ys, xs) = lipstick.lip_mask(face.points, rgb.shape)
    full = np.zeros(rgb.shape[:2], np.float32)
    full[ys, xs] = mask
    inner = polygon_mask(face.inner_mouth, rgb.shape)
    outer = polygon_mask(face.outer_lips, rgb.shape)
    assert inner.sum() > 500  # the mouth is open: teeth show
    assert full[inner].max() == 0  # never the teeth or the open mouth
    assert full[~outer].max() == 0  # never outside the outer contour
    ring = outer & ~inner
    assert (full[ring] > 0.5).mean() > 0.6  # most of the lips are strongly covered
    assert ((full[ring] > 0) & (full[ring] < 0.9)).any()  # the edge is soft


def test_tint_changes_only_lips_and_moves_hue_toward_shade(tom):
    rgb, face = tom
    out = rgb.copy()
    color = (40, 70, 200)  # a blue no real lip has: the hue shift is unmistakable
    assert len(lipstick.apply(out, [face.points], color, 0.9)) == 1
    outer = polygon_mask(face.outer_lips, rgb.shape)
    inner = polygon_mask(face.inner_mouth, rgb.shape)
    changed = np.any(out != rgb, axis=2)
    assert not changed[~outer].any(), "pixels outside the lips changed"
    assert not changed[inner].any(), "teeth changed"
    ring = outer & ~inner
    before = rgb[ring].mean(axis=0) / 255
    after = out[ring].mean(axis=0) / 255
    target_hue = colorsys.rgb_to_hsv(*(np.array(color) / 255))[0]
    hue_before = colorsys.rgb_to_hsv(*before)[0]
    hue_after = colorsys.rgb_to_hsv(*after)[0]

    def hue_dist(a, b):
        d = abs(a - b) % 1.0
        return min(d, 1 - d)
    assert hue_dist(hue_after, target_hue) < hue_dist(hue_before, target_hue) - 0.2
    # the lips keep their own light: lightness pattern correlates with the original
    l_before = lipstick.rgb_to_lab(rgb[ring])[:, 0]
    l_after = lipstick.rgb_to_lab(out[ring])[:, 0]
    assert np.corrcoef(l_before, l_after)[0, 1] > 0.9


def test_intensity_zero_leaves_frame_unchanged(tom):
    rgb, face = tom
    out = rgb.copy()
    assert lipstick.apply(out, [face.points], (200, 0, 0), 0.0) == []
    assert np.array_equal(out, rgb)


def test_more_intensity_moves_further(tom):
    rgb, face = tom
    target = lipstick.rgb_to_lab(np.array((150, 20, 90), np.uint8))
    ring = polygon_mask(face.outer_lips, rgb.shape) & ~polygon_mask(face.inner_mouth, rgb.shape)
    dists = []
    for intensity in (0.2, 0.5, 1.0):
        out = rgb.copy()
        lipstick.apply(out, [face.points], (150, 20, 90), intensity)
        ab = lipstick.rgb_to_lab(out[ring])[:, 1:].mean(axis=0)
        dists.append(float(np.linalg.norm(ab - target[1:])))
    assert dists[0] > dists[1] > dists[2]


def test_lips_outside_the_frame_are_skipped():
    points = np.full((68, 2), -50, np.float32)
    assert lipstick.lip_mask(points, (100, 100, 3)) is None
    frame = np.zeros((100, 100, 3), np.uint8)
    assert lipstick.apply(frame, [points], (255, 0, 0), 1.0) == []


def test_apply_reports_where_the_tint_went(tom):
    rgb, face = tom
    out = rgb.copy()
    (region,) = lipstick.apply(out, [face.points], (40, 70, 200), 1.0)
    changed = np.any(out != rgb, axis=2)
    inside = np.zeros(changed.shape, bool)
    inside[region.rows, region.cols] = region.mask > 0
    assert changed.any() and not (changed & ~inside).any()  # nothing changed outside the reported mask
    assert region.mask.shape == (region.rows.stop - region.rows.start, region.cols.stop - region.cols.start)
