"""chalicelib/colour.py: sRGB <-> L*a*b* and CIEDE2000."""
from __future__ import annotations

import numpy as np
import pytest

from chalicelib import colour

# Sharma, Wu and Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes", table 1
SHARMA = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize("lab1,lab2,expected", SHARMA)
def test_ciede2000_matches_the_published_pairs(lab1, lab2, expected):
    assert float(colour.ciede2000(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=1e-4)
    assert float(colour.ciede2000(np.array(lab2), np.array(lab1))) == pytest.approx(expected, abs=1e-4)


def test_lab_round_trip_is_exact_enough():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(1000, 3), dtype=np.uint8)
    back = colour.lab_to_rgb(colour.rgb_to_lab(rgb))
    assert np.abs(back.astype(int) - rgb).max() <= 1
    white = colour.rgb_to_lab(np.array([255, 255, 255], np.uint8))
    assert abs(white[0] - 100) < 0.05 and abs(white[1]) < 0.05 and abs(white[2]) < 0.05
    assert float(colour.ciede2000(colour.rgb_to_lab(rgb), colour.rgb_to_lab(back)).max()) < 0.6


def test_colours_outside_srgb_keep_their_lightness_and_hue():
    """A dark, strong colour outside sRGB loses chroma, not lightness (clipping each channel would also
    lighten or darken it, flattening the shading of a dark lipstick)."""
    lab = np.array([[22.0, 55.0, -45.0], [12.0, 40.0, 10.0], [75.0, 55.0, 60.0], [25.0, 30.0, -12.0]], np.float32)
    back = colour.rgb_to_lab(colour.lab_to_rgb(lab))
    assert np.abs(back[:, 0] - lab[:, 0]).max() < 1.0
    hue = np.degrees(np.arctan2(lab[:, 2], lab[:, 1]))
    hue_back = np.degrees(np.arctan2(back[:, 2], back[:, 1]))
    assert np.abs((hue_back - hue + 180) % 360 - 180).max() < 15
    assert (np.hypot(back[:, 1], back[:, 2]) <= np.hypot(lab[:, 1], lab[:, 2]) + 1).all()


def _reference_lab_to_rgb(lab):
    """lab_to_rgb as first written (np.where over both branches, the out-of-gamut room by .min), which
    the faster one must match value for value."""
    f = lab @ colour._LAB_TO_F + np.float32(16 / 116)
    xyz = np.where(f > 6 / 29, f * f * f, (116 * f - 16) / colour._KAPPA) * colour._WHITE
    linear = xyz @ colour._XYZ_TO_RGB.T
    outside = ((linear < 0.0) | (linear > 1.0)).any(axis=-1)
    if outside.any():
        grey = np.clip(xyz[outside][:, 1:2], 0.0, 1.0)
        diff = linear[outside] - grey
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(diff < 0, -grey / diff, np.where(diff > 0, (1 - grey) / diff, np.inf))
        linear[outside] = grey + np.minimum(room.min(axis=-1, keepdims=True), 1.0) * diff
    linear = np.clip(linear, 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)
    return np.clip(np.rint(srgb * 255), 0, 255).astype(np.uint8)


def test_lab_to_rgb_gives_the_reference_numbers_in_and_out_of_gamut():
    rng = np.random.default_rng(7)
    lab = np.stack([rng.uniform(-5, 105, 50000), rng.uniform(-128, 128, 50000), rng.uniform(-128, 128, 50000)],
                   axis=-1).astype(np.float32)
    lab[:500, 1:] = 0                     # greys, black and white among them
    lab[500:510] = [[0, 0, 0], [100, 0, 0], [50, 0, 0], [1, 0, 0], [99.9, 0, 0], [0, 80, 0], [100, 0, 90],
                    [30, 80, 60], [50, 100, -100], [8, 0, 0]]
    assert np.array_equal(colour.lab_to_rgb(lab), _reference_lab_to_rgb(lab.copy()))
    image = lab[:4800].reshape(40, 40, 3, 3)[..., 0, :]      # any leading shape, one colour
    assert np.array_equal(colour.lab_to_rgb(image), _reference_lab_to_rgb(image.copy()))
    assert np.array_equal(colour.lab_to_rgb(lab[508]), _reference_lab_to_rgb(lab[508].copy()))


def test_rgb_to_lab_gives_the_reference_numbers():
    """(An image's pixels: numpy's product of one pixel with a matrix may round its last bit otherwise.)"""
    every = np.arange(0, 2 ** 24, 7, dtype=np.uint32)        # a seventh of all sRGB colours, all 256 of each channel
    rgb = np.stack([every >> 16, (every >> 8) & 255, every & 255], axis=-1).astype(np.uint8)[:1096 * 2186]
    rgb = rgb.reshape(1096, 2186, 3)
    lab = colour.rgb_to_lab(rgb)
    assert lab.dtype == np.float32 and lab.shape == rgb.shape
    xyz = colour.SRGB_TO_LINEAR[rgb] @ (colour._RGB_TO_XYZ.T / colour._WHITE)     # as first written
    f = np.cbrt(xyz)
    dark = xyz <= colour._EPS
    f[dark] = (colour._KAPPA * xyz[dark] + 16) / 116
    reference = np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)
    assert np.array_equal(lab, reference)
