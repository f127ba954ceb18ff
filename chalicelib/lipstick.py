"""The lip mask and the tint.

The mask is the outer lip contour (points 48-59) minus the inner mouth (60-67), feathered inward only:
nothing outside the lips and nothing inside the mouth (teeth, tongue) is ever touched. The tint works
in CIE L*a*b*: the lips' chroma (a*, b*) moves toward the shade's, and their lightness keeps its own
pattern (shading, highlights, texture) while its mean moves part of the way toward the shade's.
Only the lip ring's own pixels are converted, so the cost does not grow with the frame size.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# sRGB (D65) <-> XYZ
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]], dtype=np.float32)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ).astype(np.float32)
_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
_SRGB_TO_LINEAR = np.array(
    [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in np.arange(256) / 255.0],
    dtype=np.float32)
_EPS = 216 / 24389
_KAPPA = 24389 / 27

# How much of the gap between the lips' mean lightness and the shade's lightness is closed at intensity 1.
LIGHTNESS_PULL = 0.6


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (..., 3) -> float32 L*a*b* (..., 3)."""
    xyz = _SRGB_TO_LINEAR[rgb] @ _RGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > _EPS, np.cbrt(xyz), (_KAPPA * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """float32 L*a*b* (..., 3) -> uint8 sRGB (..., 3), out-of-gamut values clipped."""
    fy = (lab[..., 0] + 16) / 116
    fx = fy + lab[..., 1] / 500
    fz = fy - lab[..., 2] / 200
    f = np.stack([fx, fy, fz], axis=-1)
    xyz = np.where(f ** 3 > _EPS, f ** 3, (116 * f - 16) / _KAPPA) * _WHITE
    linear = np.clip(xyz @ _XYZ_TO_RGB.T, 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)
    return np.clip(np.rint(srgb * 255), 0, 255).astype(np.uint8)


def lip_mask(points: np.ndarray, frame_shape: tuple[int, ...]) -> tuple[np.ndarray, tuple[slice, slice]] | None:
    """A float32 mask (0..1) of the lips inside their bounding box, and that box as frame slices.

    Returns None when the lips fall outside the frame or have no area.
    """
    height, width = frame_shape[:2]
    outer, inner = points[48:60], points[60:68]
    mouth_width = float(outer[:, 0].max() - outer[:, 0].min())
    feather = max(0.8, mouth_width * 0.035)
    pad = int(np.ceil(feather)) + 2
    x0 = max(0, int(np.floor(outer[:, 0].min())) - pad)
    y0 = max(0, int(np.floor(outer[:, 1].min())) - pad)
    x1 = min(width, int(np.ceil(outer[:, 0].max())) + pad + 1)
    y1 = min(height, int(np.ceil(outer[:, 1].max())) + pad + 1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    ring = Image.new("L", (x1 - x0, y1 - y0), 0)
    draw = ImageDraw.Draw(ring)
    draw.polygon([(float(x) - x0, float(y) - y0) for x, y in outer], fill=255)
    draw.polygon([(float(x) - x0, float(y) - y0) for x, y in inner], fill=0)
    hard = np.asarray(ring) > 0
    if not hard.any():
        return None
    soft = np.asarray(ring.filter(ImageFilter.GaussianBlur(feather)), dtype=np.float32) / 255.0
    # Feather inward only: the soft edge never leaks outside the contour or into the mouth.
    mask = np.minimum(soft * 2.0, 1.0) * hard
    return mask, (slice(y0, y1), slice(x0, x1))


def tint_region(crop: np.ndarray, mask: np.ndarray, color: tuple[int, int, int], intensity: float) -> np.ndarray:
    """Tint an RGB crop where ``mask`` > 0; returns a new uint8 crop (pixels with mask 0 are copied).
    Only the touched pixels are converted (the lip ring is about a quarter of its bounding box)."""
    touched = mask > 0
    out = crop.copy()
    if not touched.any():
        return out
    lab = rgb_to_lab(crop[touched])                 # (N, 3)
    weight = mask[touched]
    target = _target_lab(color)
    mean_l = float(lab[:, 0] @ weight / weight.sum())
    weight = weight * np.float32(intensity)
    lab[:, 0] += weight * np.float32(LIGHTNESS_PULL * (target[0] - mean_l))
    lab[:, 1:] += weight[:, None] * (target[1:] - lab[:, 1:])
    out[touched] = lab_to_rgb(lab)
    return out


@lru_cache(maxsize=64)
def _target_lab(color: tuple[int, int, int]) -> np.ndarray:
    lab = rgb_to_lab(np.array(color, dtype=np.uint8))
    lab.flags.writeable = False   # shared by every call with this shade
    return lab


@dataclass(frozen=True)
class TintedRegion:
    """Where one face's tint went: ``mask`` (float32 0..1, the weight the tint was applied with) over the
    frame's ``rows`` x ``cols`` (slices). Pixels outside the mask are untouched."""
    mask: np.ndarray
    rows: slice
    cols: slice


def apply(rgb: np.ndarray, faces_points: list[np.ndarray], color: tuple[int, int, int],
          intensity: float) -> list[TintedRegion]:
    """Tint the lips of every face, in place. Returns where the tint went, one region per face tinted."""
    if intensity <= 0:
        return []
    regions = []
    for points in faces_points:
        found = lip_mask(points, rgb.shape)
        if found is None:
            continue
        mask, (ys, xs) = found
        rgb[ys, xs] = tint_region(rgb[ys, xs], mask, color, intensity)
        regions.append(TintedRegion(mask=mask, rows=ys, cols=xs))
    return regions
