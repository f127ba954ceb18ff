"""sRGB <-> CIE L*a*b* (D65) for uint8 pixels, and CIEDE2000 for measuring colour differences."""
from __future__ import annotations

import numpy as np

_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]], dtype=np.float32)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ).astype(np.float32)
_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
SRGB_TO_LINEAR = np.array(
    [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in np.arange(256) / 255.0],
    dtype=np.float32)
_LAB_TO_F = np.array([[1 / 116, 1 / 116, 1 / 116], [1 / 500, 0, 0], [0, 0, -1 / 200]], dtype=np.float32)
_LINEAR_TO_XYZ_WHITE = _RGB_TO_XYZ.T / _WHITE                # linear sRGB -> XYZ over the white point
_EPS = 216 / 24389
_KAPPA = 24389 / 27


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (..., 3) -> float32 L*a*b* (..., 3)."""
    return linear_to_lab(SRGB_TO_LINEAR.take(rgb))      # (take: a third of indexing's cost)


def linear_to_lab(linear: np.ndarray) -> np.ndarray:
    """float32 linear sRGB (..., 3) -> float32 L*a*b* (..., 3)."""
    xyz = (linear.reshape(-1, 3) @ _LINEAR_TO_XYZ_WHITE).reshape(linear.shape)   # (one product, not one per row)
    f = np.cbrt(xyz)
    low = xyz <= _EPS                                        # (the dark end is linear)
    if low.any():
        f[low] = (_KAPPA * xyz[low] + 16) / 116
    lab = np.empty(f.shape, np.float32)                      # (each channel written in place: no np.stack)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    np.multiply(fy, 116, out=lab[..., 0])
    lab[..., 0] -= 16
    np.subtract(fx, fy, out=lab[..., 1])
    lab[..., 1] *= 500
    np.subtract(fy, fz, out=lab[..., 2])
    lab[..., 2] *= 200
    return lab


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """float32 L*a*b* (..., 3) -> uint8 sRGB (..., 3). A colour outside sRGB keeps its lightness and hue
    and loses chroma until it fits (mixed, in linear light, with the grey of its own luminance); clipping
    each channel instead would also change its lightness, flattening the shading of dark, strong colours."""
    f = lab @ _LAB_TO_F + np.float32(16 / 116)              # (fx, fy, fz)
    xyz = f * f * f
    low = f <= np.float32(6 / 29)                            # (the dark end is linear: only where needed)
    if low.any():
        xyz[low] = (116 * f[low] - 16) / _KAPPA
    xyz *= _WHITE
    linear = xyz @ _XYZ_TO_RGB.T
    beyond = (linear < 0.0) | (linear > 1.0)
    outside = np.flatnonzero(beyond[..., 0] | beyond[..., 1] | beyond[..., 2])   # (.any(axis=-1) costs ten times more)
    if len(outside):
        grey = np.minimum(np.maximum(xyz.reshape(-1, 3)[:, 1].take(outside), 0.0), 1.0)[:, None]   # luminance Y: the same L*
        flat = linear.reshape(-1, 3)
        colour = flat.take(outside, axis=0) - grey
        # how far each channel may go from the grey before it leaves 0..1 (inf where it does not move;
        # np.divide's where: no np.errstate, whose overhead is most of this on a few pixels)
        room = np.divide(np.where(colour < 0, -grey, 1 - grey), colour, out=np.full(colour.shape, np.inf, np.float32),
                         where=colour != 0)
        share = np.minimum(np.minimum(np.minimum(room[:, 0], room[:, 1]), room[:, 2]), 1.0)   # (not .min(axis=-1))
        flat[outside] = grey + share[:, None] * colour
    linear = np.minimum(np.maximum(linear, 0.0), 1.0)
    srgb = 1.055 * np.power(linear, 1 / 2.4) - 0.055
    dark = linear <= np.float32(0.0031308)
    if dark.any():
        srgb[dark] = 12.92 * linear[dark]
    return np.rint(srgb * 255).astype(np.uint8)                # (in 0..255 already: linear is)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between L*a*b* colours (..., 3) (Sharma, Wu and Dalal, 2005)."""
    lab1 = np.asarray(lab1, np.float64)
    lab2 = np.asarray(lab2, np.float64)
    l1, a1, b1 = np.moveaxis(lab1, -1, 0)
    l2, a2, b2 = np.moveaxis(lab2, -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar ** 7 / (c_bar ** 7 + 25.0 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dl, dc = l2 - l1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dhh = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)
    l_bar, c_barp = (l1 + l2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(c1p * c2p == 0, h_sum,
                     np.where(np.abs(h1p - h2p) <= 180, h_sum / 2,
                              np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2)))
    t = (1 - 0.17 * np.cos(np.radians(h_bar - 30)) + 0.24 * np.cos(np.radians(2 * h_bar))
         + 0.32 * np.cos(np.radians(3 * h_bar + 6)) - 0.20 * np.cos(np.radians(4 * h_bar - 63)))
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(c_barp ** 7 / (c_barp ** 7 + 25.0 ** 7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * c_barp
    s_h = 1 + 0.015 * c_barp * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return np.sqrt((dl / s_l) ** 2 + (dc / s_c) ** 2 + (dhh / s_h) ** 2 + r_t * (dc / s_c) * (dhh / s_h))
