"""The 68-point landmark model: dlib's trained ``shape_predictor_68_face_landmarks.dat``, run with numpy.

dlib's own loader parses the 100 MB file float by float (1-1.7 s here), which alone broke the cold-start
target. This module converts the same trained model once into plain arrays (an uncompressed ``.npz``
that loads in about 0.1 s) and runs dlib's algorithm on them -- an ensemble of regression trees
(Kazemi & Sullivan, 2014): 15 cascades, each samples 500 pixels placed relative to the current shape
and adds the leaves of 500 depth-4 trees. The arithmetic follows dlib's order (float32 shapes, the
similarity transform in float64, pixels rounded like ``dlib::point``, leaves added in tree order), so
the points are dlib's own (the tests compare both on the reference photos). All faces of a frame run
as one batch.

Converting is a build step: ``layers/build.py`` ships the ``.npz`` in the model layer, and ``make start``
and ``make test`` (``python -m chalicelib.faces``) write it next to the package's ``.dat``; a ``.dat``
without a current converted copy is converted on first use (about 20 s, logged).
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
import zipfile

import numpy as np

log = logging.getLogger("tintcam")

FORMAT = 1                   # of the .npz written here; bumped when the layout changes
N_POINTS = 68


class ModelFormatError(ValueError):
    """The file is not a dlib shape predictor (or not one this module can run)."""


# ----------------------------------------------------------------------------- conversion
def _tokens(data: bytes) -> np.ndarray:
    """Every integer of a dlib serialization stream, in order.

    dlib writes each integer as one byte (bit 7: negative, low nibble: how many bytes follow) and then
    the magnitude's bytes, little-endian; a float is two of them, mantissa and binary exponent.
    """
    out = []
    append = out.append
    from_bytes = int.from_bytes
    pos, end = 0, len(data)
    while pos < end:
        head = data[pos]
        size = head & 0x0F
        if size == 0 or size > 8 or head & 0x70 or pos + 1 + size > end:
            raise ModelFormatError(f"not a dlib serialization (byte {pos})")
        value = from_bytes(data[pos + 1:pos + 1 + size], "little")
        append(-value if head & 0x80 else value)
        pos += 1 + size
    return np.array(out, dtype=np.int64)


def _floats(pairs: np.ndarray) -> np.ndarray:
    pairs = pairs.reshape(-1, 2)
    return np.ldexp(pairs[:, 0].astype(np.float64), pairs[:, 1]).astype(np.float32)


def parse_dlib(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of a serialized ``dlib::shape_predictor`` (version 1).

    Layout: version, initial shape (a matrix), the forests (per cascade, per tree: splits as
    (idx1, idx2, threshold), leaves as matrices), the anchor landmark of each feature pixel, and each
    feature pixel's offset from its anchor.
    """
    if data[:2] != b"\x01\x01":
        raise ModelFormatError("not a dlib shape predictor (version 1)")
    tok = _tokens(data)
    at = 0

    def take(n: int) -> np.ndarray:
        nonlocal at
        if at + n > len(tok):
            raise ModelFormatError("the file ends early")
        chunk = tok[at:at + n]
        at += n
        return chunk

    def one() -> int:
        return int(take(1)[0])

    one()  # version
    rows, cols = -one(), -one()
    if rows != 2 * N_POINTS or cols != 1:
        raise ModelFormatError(f"a {rows // 2}-point model, not {N_POINTS} points")
    initial = _floats(take(2 * rows)).reshape(N_POINTS, 2)
    cascades, trees = one(), one()
    splits = int(tok[at])
    leaves = splits + 1
    per_leaf = 2 + 4 * N_POINTS                          # matrix header, then 136 floats
    per_tree = 1 + 4 * splits + 1 + leaves * per_leaf
    idx1, idx2, thresh, leaf_values = [], [], [], []
    for cascade in range(cascades):
        if cascade and one() != trees:
            raise ModelFormatError("cascades of different sizes")
        block = take(trees * per_tree).reshape(trees, per_tree)
        if (block[:, 0] != splits).any() or (block[:, 1 + 4 * splits] != leaves).any():
            raise ModelFormatError("trees of different depths")
        split = block[:, 1:1 + 4 * splits].reshape(trees, splits, 4)
        idx1.append(split[:, :, 0])
        idx2.append(split[:, :, 1])
        thresh.append(_floats(split[:, :, 2:]).reshape(trees, splits))
        leaf = block[:, 2 + 4 * splits:].reshape(trees, leaves, per_leaf)
        if (leaf[:, :, 0] != -2 * N_POINTS).any() or (leaf[:, :, 1] != -1).any():
            raise ModelFormatError("leaves of the wrong size")
        leaf_values.append(_floats(leaf[:, :, 2:]).reshape(trees, leaves, 2 * N_POINTS))
    if one() != cascades:
        raise ModelFormatError("anchors do not match the cascades")
    anchors = [take(one()) for _ in range(cascades)]
    if one() != cascades:
        raise ModelFormatError("pixel offsets do not match the cascades")
    deltas = [_floats(take(4 * one())).reshape(-1, 2) for _ in range(cascades)]
    if at != len(tok):
        raise ModelFormatError("trailing data after the model")
    arrays = {"initial": initial, "idx1": np.array(idx1, np.int32), "idx2": np.array(idx2, np.int32),
              "thresh": np.array(thresh, np.float32), "leaves": np.array(leaf_values, np.float32),
              "anchors": np.array(anchors, np.int32), "deltas": np.array(deltas, np.float32)}
    pixels = arrays["anchors"].shape[1]
    if (arrays["idx1"] >= pixels).any() or (arrays["idx2"] >= pixels).any() \
            or (arrays["anchors"] >= N_POINTS).any() or arrays["deltas"].shape[1] != pixels:
        raise ModelFormatError("indices out of range")
    return arrays


def write_npz(arrays: dict[str, np.ndarray], target: str) -> None:
    """An uncompressed .npz with fixed timestamps (the same model gives the same bytes), written atomically."""
    tmp = f"{target}.{os.getpid()}.tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(arrays[name]), allow_pickle=False)
    os.replace(tmp, target)


def convert(source: str, target: str) -> None:
    """Write ``target`` (.npz) from dlib's ``source`` (.dat)."""
    with open(source, "rb") as f:
        arrays = parse_dlib(f.read())
    write_npz({"format": np.array(FORMAT), **arrays}, target)


def converted_paths(source: str) -> list[str]:
    """Where the converted copy of a ``.dat`` lives: next to it, or (a read-only folder) in /tmp."""
    digest = hashlib.sha1(os.path.abspath(source).encode()).hexdigest()[:12]
    return [os.path.splitext(source)[0] + ".npz", os.path.join(tempfile.gettempdir(), f"tintcam-model-{digest}.npz")]


def ensure_converted(source: str) -> str:
    """The path of a converted copy of ``source`` no older than it, converting now (once) if needed."""
    changed = os.stat(source).st_mtime_ns
    targets = converted_paths(source)
    for target in targets:
        if os.path.isfile(target) and os.stat(target).st_mtime_ns >= changed:
            return target
    started = time.perf_counter()
    log.warning("converting the landmark model %s (once)", os.path.basename(source))
    for target in targets:
        try:
            convert(source, target)
        except PermissionError:       # a read-only folder: the next place
            continue
        log.warning("converted the landmark model in %.1f s", time.perf_counter() - started)
        return target
    raise PermissionError(f"nowhere to write the converted model of {source}")


# ----------------------------------------------------------------------------- the model
class ShapeModel:
    def __init__(self, arrays) -> None:
        if int(arrays["format"]) != FORMAT:
            raise ModelFormatError("converted with another version of tintcam")
        self.path = ""     # the converted file, when the model came from one (from_file)
        self.initial = np.ascontiguousarray(arrays["initial"], dtype=np.float32)
        idx1, idx2, thresh = arrays["idx1"], arrays["idx2"], arrays["thresh"]
        self.cascades, self.trees, splits = idx1.shape
        self.splits = splits
        self.depth = int(np.log2(splits + 1))
        flat = (self.cascades, self.trees * splits)
        self.idx1 = idx1.reshape(flat).astype(np.intp)
        self.idx2 = idx2.reshape(flat).astype(np.intp)
        self.thresh = np.ascontiguousarray(thresh.reshape(flat))
        leaves = arrays["leaves"]
        self.leaves = np.ascontiguousarray(leaves.reshape(self.cascades, -1, leaves.shape[-1]))
        self.anchors = arrays["anchors"].astype(np.intp)
        deltas = arrays["deltas"]
        self.dx = np.ascontiguousarray(deltas[..., 0])
        self.dy = np.ascontiguousarray(deltas[..., 1])
        self.pixels = self.anchors.shape[1]
        self._anchor_cols = np.stack([2 * self.anchors, 2 * self.anchors + 1], axis=1)   # x and y columns
        # The similarity transform from the initial shape to the current one, in closed form:
        # scale*rotation = [[a, -b], [b, a]] with a = <p, q> / |p|^2, b = <p x q> / |p|^2 for the centred
        # initial shape p (the current shape needs no centring: p sums to zero).
        centred = self.initial.astype(np.float64) - self.initial.astype(np.float64).mean(axis=0)
        norm = (centred ** 2).sum()
        self._dots = np.stack([(centred / norm).reshape(-1),
                               (np.stack([-centred[:, 1], centred[:, 0]], axis=1) / norm).reshape(-1)], axis=1)
        self._swap_sign = np.array([[-1.0], [1.0]], np.float32)   # (a, b) -> (-b, a): the rotation's 2nd column
        self._grey_weights = np.ones(3, np.uint16)
        # A tree's leaf from the outcomes of all its splits at once: bit k of a pattern says split k goes
        # left; walking the tree for every pattern gives the table (2^15 entries for depth 4).
        patterns = np.arange(1 << splits)
        node = np.zeros_like(patterns)
        for _ in range(self.depth):
            node = 2 * node + 2 - ((patterns >> node) & 1)
        self._leaf_of_pattern = (node - splits).astype(np.intp)
        self._bits = (1 << np.arange(splits)).astype(np.int32)
        self._first_leaf = np.arange(self.trees) * (splits + 1)

    @classmethod
    def from_file(cls, path: str) -> "ShapeModel":
        with np.load(path, allow_pickle=False) as npz:
            model = cls(npz)
        model.path = path   # the converted file this model came from
        return model

    def predict(self, image: np.ndarray, boxes, rolls=None) -> np.ndarray:
        """The 68 points (F, 68, 2) float32, whole pixels like dlib's, for the boxes (x, y, w, h) of an
        RGB (H, W, 3) or grey (H, W) uint8 image. A pixel's intensity is (r + g + b) // 3, as dlib's.

        ``rolls`` (degrees, one per box, optional) turns a face's box about its centre: the model then
        works in the head's own upright frame -- every pixel it reads is looked up where the box turned
        by the roll puts it, as if on the frame turned upright around the face -- and its points are
        turned back into the frame (not whole pixels then). A roll of 0 is exactly the unturned box."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        n = len(boxes)
        if n == 0:
            return np.zeros((0, N_POINTS, 2), np.float32)
        turn = None
        if rolls is not None and np.any(np.asarray(rolls, np.float64) != 0):
            angle = np.radians(np.asarray(rolls, np.float64).reshape(n))
            rolled = np.flatnonzero(angle != 0)
            cos, sin = np.cos(angle[rolled])[:, None], np.sin(angle[rolled])[:, None]
            centre = boxes[rolled, 0:2] + (boxes[rolled, 2:4] - 1) / 2          # (R, 2)
            turn = (rolled, cos, sin, centre)
        height, width = image.shape[:2]
        flat = image.reshape(height * width, -1)
        rgb = flat.shape[1] == 3
        offset = boxes[:, 0:2, None]                    # (F, 2, 1): left, top
        span = boxes[:, 2:4, None] - 1                  # (F, 2, 1): dlib's right - left, bottom - top
        limit = np.array([[[width], [height]]], np.uintp)
        shape = np.repeat(self.initial.reshape(1, -1), n, axis=0)      # (F, 136): x0, y0, x1, y1, ...
        acc = np.empty((self.trees + 1, n, shape.shape[1]), np.float32)  # tree-major, the shape first
        values = np.empty((n, self.pixels), np.float32)
        left_values = np.empty((n, self.trees * self.splits), np.float32)
        right_values = np.empty_like(left_values)
        goes_left = np.empty(left_values.shape, np.bool_)
        for c in range(self.cascades):
            # the cascade's pixels: offsets from their anchor points, turned and scaled like the shape
            ab = (shape.astype(np.float64) @ self._dots).astype(np.float32)[:, :, None]   # (F, 2, 1): a, b
            points = self.dx[c] * ab + self.dy[c] * (ab[:, ::-1] * self._swap_sign) + shape[:, self._anchor_cols[c]]
            upright = points.astype(np.float64) * span + offset
            if turn is not None:
                upright[turn[0]] = _turned(upright[turn[0]], *turn[1:])
            xy = np.floor(upright + 0.5).astype(np.intp)
            inside_xy = xy.view(np.uintp) < limit       # a negative coordinate is a huge unsigned one
            inside = inside_xy[:, 0] & inside_xy[:, 1]
            index = xy[:, 1] * width + xy[:, 0]
            index *= inside
            sampled = flat.take(index, axis=0)
            intensity = (sampled @ self._grey_weights) // 3 if rgb else sampled[..., 0]
            np.multiply(intensity, inside, out=values, casting="unsafe")   # 0 outside the image
            # every split of every tree at once (7,500 comparisons), then each tree's leaf from its pattern
            values.take(self.idx1[c], axis=1, out=left_values)
            values.take(self.idx2[c], axis=1, out=right_values)
            np.subtract(left_values, right_values, out=left_values)
            np.greater(left_values, self.thresh[c], out=goes_left)
            pattern = goes_left.reshape(n, self.trees, self.splits).view(np.uint8) @ self._bits
            rows = self._leaf_of_pattern[pattern] + self._first_leaf          # (F, trees)
            acc[0] = shape
            self.leaves[c].take(rows.T.reshape(-1), axis=0, out=acc[1:].reshape(-1, acc.shape[2]))
            shape = np.einsum("tfp->fp", acc)  # tree by tree, in order, as dlib adds them
        points = shape.reshape(n, N_POINTS, 2).astype(np.float64)
        points = np.floor(points * span.reshape(n, 1, 2) + offset.reshape(n, 1, 2) + 0.5)
        if turn is not None:
            points[turn[0]] = _turned(points[turn[0]].transpose(0, 2, 1), *turn[1:]).transpose(0, 2, 1)
        return points.astype(np.float32)


def _turned(xy: np.ndarray, cos: np.ndarray, sin: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Points (R, 2, P) of the upright frame turned about ``centre`` (R, 2) by the rolls (cos, sin: (R, 1))."""
    u = xy[:, 0] - centre[:, 0:1]
    v = xy[:, 1] - centre[:, 1:2]
    return np.stack([centre[:, 0:1] + cos * u - sin * v, centre[:, 1:2] + sin * u + cos * v], axis=1)


def load(path: str) -> ShapeModel:
    """The model at ``path``: a converted ``.npz``, or dlib's ``.dat`` (through its converted copy).
    Raises OSError, or ValueError (ModelFormatError) for a file that is not a model."""
    return ShapeModel.from_file(ensure_converted(path) if path.endswith(".dat") else path)
