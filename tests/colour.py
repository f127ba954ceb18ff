"""Colour differences for judging pictures: CIEDE2000 (chalicelib/colour.py, checked on Sharma, Wu and
Dalal's test data) and compositing a patch as a browser does."""
from __future__ import annotations

import numpy as np

from chalicelib.colour import ciede2000, rgb_to_lab


def mean_delta_e(rgb1: np.ndarray, rgb2: np.ndarray) -> tuple[float, float]:
    """Mean ΔE 2000 and mean ΔE 1976 (Euclidean L*a*b*) between two uint8 RGB arrays."""
    lab1, lab2 = rgb_to_lab(rgb1), rgb_to_lab(rgb2)
    return float(ciede2000(lab1, lab2).mean()), float(np.linalg.norm(lab1 - lab2, axis=-1).mean())


def box_slices(box: tuple[int, int, int, int]) -> tuple[slice, slice]:
    x, y, w, h = box
    return slice(y, y + h), slice(x, x + w)
