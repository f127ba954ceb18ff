"""Patch answers: the API sends back only the tinted lips (a WebP with alpha and the box it goes in);
drawn over the frame that was sent, they give the whole tinted frame."""
from __future__ import annotations

import numpy as np


def parse_box(header: str | None) -> tuple[int, int, int, int] | None:
    """``X-Patch-Box: x,y,w,h`` as integers (None when absent)."""
    if not header:
        return None
    x, y, w, h = (int(v) for v in header.split(","))
    return x, y, w, h


def decode_patch(webp: bytes) -> np.ndarray:
    """The patch as a BGRA array (OpenCV's channel order)."""
    import cv2
    patch = cv2.imdecode(np.frombuffer(webp, np.uint8), cv2.IMREAD_UNCHANGED)
    if patch is None or patch.ndim != 3 or patch.shape[2] != 4:
        raise ValueError("the patch is not a WebP image with an alpha channel")
    return patch


def composite(frame: np.ndarray, patch: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A new frame: ``patch`` (h x w x 4, colour in the frame's channel order, then alpha) drawn over
    ``frame`` at ``box`` = (x, y, w, h) with its alpha ("source over"), as a browser draws it."""
    x, y, w, h = box
    if patch.shape[:2] != (h, w) or x < 0 or y < 0 or y + h > frame.shape[0] or x + w > frame.shape[1]:
        raise ValueError(f"a {patch.shape[1]}x{patch.shape[0]} patch at {box} does not fit a "
                         f"{frame.shape[1]}x{frame.shape[0]} frame")
    out = frame.copy()
    alpha = patch[..., 3:4].astype(np.float32) / 255.0
    under = out[y:y + h, x:x + w].astype(np.float32)
    out[y:y + h, x:x + w] = np.rint(patch[..., :3] * alpha + under * (1.0 - alpha)).astype(np.uint8)
    return out
