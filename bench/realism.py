"""How real the lipstick looks, measured: where the tint lands, its colour, texture and finishes, its cost.

Prints, each figure beside today's (the 12-point polygon mask feathered inward and the tint that keeps
40% of the lips' lightness gap, copied below as ``polygon_tint``) measured in the same run:

- the mask against the labelled lips of ../shared/data/lips (IoU of the mask's >= 0.5 part, mean and
  worst; the share of the tint's weight outside the labelled lips dilated by 2% of the face width; the
  share of labelled lip pixels tinted less than half);
- CIEDE2000 between the tinted lips' mean colour and the shade at intensity 1, per shade from nude to
  plum, on the shared photos' faces >= 140 px (faces/ and lips/) and on the clip's close-up;
- the fine lightness detail kept (satin, intensity 1), matte's fine detail against satin's, gloss's
  highlights (97th percentile of L* minus its median) against satin's, and the gloss's frame-to-frame
  change on steady close-up frames against satin's (flicker);
- the mask edge's frame-to-frame movement on steady frames of the clip's close-up, tinted as the API
  tints video (each frame with the previous answer's tracking state, which carries the masks' edges);
- the tint step's time per face, faces scaled to 200 px wide.

With ``--mesh``, instead: lip masks from MediaPipe's face mesh (bench/facemesh.py; the service does not run
it) beside today's, each variant's mask figures per face, the edge's frame-to-frame movement, the cost
per face, and how the best variant's figures move with the face mesh's square.

    .venv/bin/python bench/realism.py [--repeat N] [--mesh]
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.frame_api import DATA, clip_frames  # noqa: E402
from chalicelib import faces, lipmask, lipstick, settings, tracking  # noqa: E402
from chalicelib.colour import ciede2000, lab_to_rgb, rgb_to_lab  # noqa: E402

SHADES = [("nude", "B86F6A"), ("coral", "E0604F"), ("pink", "C95B7C"), ("red", "B0303F"), ("berry", "8E2043"),
          ("plum", "5E2350")]
CLOSE_UP = range(82, 211)
MODEL = faces.resolve_model_path("")


def hex_rgb(value: str) -> tuple[int, int, int]:
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


# ---------------------------------------------------------------- today's tint, for the comparison
def polygon_mask(points: np.ndarray, frame_shape) -> tuple[np.ndarray, tuple[slice, slice]] | None:
    """Today's mask: the 12-point outer polygon minus the 8-point inner one, feathered inward only."""
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
    return np.minimum(soft * 2.0, 1.0) * hard, (slice(y0, y1), slice(x0, x1))


def polygon_tint(rgb: np.ndarray, faces_points, color, intensity: float) -> list[lipstick.TintedRegion]:
    """Today's tint: a* b* toward the shade, the mean lightness 60% of the way, in place."""
    target = rgb_to_lab(np.array(color, np.uint8))
    regions = []
    for points in faces_points:
        found = polygon_mask(points, rgb.shape)
        if found is None:
            continue
        mask, (ys, xs) = found
        crop = rgb[ys, xs]
        touched = mask > 0
        lab = rgb_to_lab(crop[touched])
        weight = mask[touched]
        mean_l = float(lab[:, 0] @ weight / weight.sum())
        weight = weight * np.float32(intensity)
        lab[:, 0] += weight * np.float32(0.6 * (target[0] - mean_l))
        lab[:, 1:] += weight[:, None] * (target[1:] - lab[:, 1:])
        out = crop.copy()
        out[touched] = lab_to_rgb(lab)
        rgb[ys, xs] = out
        regions.append(lipstick.TintedRegion(mask=mask, rows=ys, cols=xs))
    return regions


def new_tint(rgb, faces_points, color, intensity, finish="satin", shimmer=0.0):
    return lipstick.apply(rgb, faces_points, color, intensity, finish=finish, shimmer=shimmer)


TINTS = [("today", polygon_tint), ("new", new_tint)]


# ---------------------------------------------------------------- inputs
def find(rgb: np.ndarray, min_face: int = 120) -> list[faces.Face]:
    """Every face's landmarks as the API finds them (min_face 120 is its default)."""
    return faces.find_faces(rgb, min_face, MODEL)


def load_rgb(path: pathlib.Path) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))


def labelled_faces():
    """(name, rgb, labels, face) for each labelled photo in lips/."""
    out = []
    for jpg in sorted((DATA / "lips").glob("*.jpg")):
        rgb = load_rgb(jpg)
        labels = np.asarray(Image.open(jpg.with_name(jpg.stem + ".labels.png")))
        found = find(rgb)
        if found:
            out.append((jpg.stem, rgb, labels, max(found, key=lambda f: f.box[2])))
    return out


def photo_faces(labelled) -> list[tuple[np.ndarray, faces.Face]]:
    """(rgb, face) for every face >= 140 px in the shared photos (faces/ and lips/)."""
    out = [(rgb, face) for _, rgb, _, face in labelled if face.box[2] >= 140]
    for jpg in sorted((DATA / "faces").glob("*.jpg")):
        rgb = load_rgb(jpg)
        out += [(rgb, face) for face in find(rgb) if face.box[2] >= 140]
    return out


def close_up_faces(frames) -> list[tuple[np.ndarray, faces.Face]]:
    out = []
    for i in list(CLOSE_UP)[::6]:
        rgb = cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB)
        out += [(rgb, face) for face in find(rgb, 80)]
    return out


# ---------------------------------------------------------------- measures
def full_mask(region: lipstick.TintedRegion, shape) -> np.ndarray:
    out = np.zeros(shape[:2], np.float32)
    out[region.rows, region.cols] = region.mask
    return out


def mask_figures(labelled, tint) -> list[tuple[float, float, float]]:
    """Per labelled face: (IoU, share of the tint outside the dilated lips, share of lips not tinted)."""
    rows = []
    for _, rgb, labels, face in labelled:
        lips = (labels == 1) | (labels == 2)
        (region,) = tint(rgb.copy(), [face.points], (176, 48, 63), 1.0)
        weight = full_mask(region, rgb.shape)
        tinted = weight >= 0.5
        iou = (tinted & lips).sum() / (tinted | lips).sum()
        radius = max(1, round(0.02 * face.box[2]))
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        near = cv2.dilate(lips.astype(np.uint8), disc) > 0
        outside = float(weight[~near].sum() / weight.sum())
        missed = float((lips & ~tinted).sum() / lips.sum())
        rows.append((float(iou), outside, missed))
    return rows


def lips_core(weight: np.ndarray) -> np.ndarray:
    return weight >= 0.5


def mean_lab(rgb: np.ndarray, where: np.ndarray) -> np.ndarray:
    return rgb_to_lab(rgb[where]).mean(axis=0)


def colour_error(face_set, tint, color) -> float:
    """Mean over faces of CIEDE2000(mean L*a*b* of the tinted lips, the shade), intensity 1."""
    target = rgb_to_lab(np.array(color, np.uint8))
    errors = []
    for rgb, face in face_set:
        out = rgb.copy()
        regions = tint(out, [face.points], color, 1.0)
        if not regions:
            continue
        core = lips_core(full_mask(regions[0], rgb.shape))
        errors.append(float(ciede2000(mean_lab(out, core), target)))
    return float(np.mean(errors))


def fine_detail(lightness: np.ndarray, mouth_width: float) -> np.ndarray:
    """Lightness minus its blur over about 2% of the mouth width (two box passes): lines, grain, glints."""
    radius = max(1, round(0.01 * mouth_width))
    size = 2 * radius + 1
    blurred = cv2.blur(cv2.blur(lightness, (size, size)), (size, size))
    return lightness - blurred


def finish_figures(face_set, color, finish, shimmer=0.0):
    """Per face: (fine detail std before, after; P97 - median of L* after) over the lips' inner part."""
    rows = []
    for rgb, face in face_set:
        out = rgb.copy()
        regions = new_tint(out, [face.points], color, 1.0, finish=finish, shimmer=shimmer)
        if not regions:
            continue
        region = regions[0]
        inner = cv2.erode((region.mask >= 0.99).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        if inner.sum() < 30:
            continue
        width = float(np.hypot(*(face.points[54] - face.points[48])))
        before = rgb_to_lab(rgb[region.rows, region.cols])[..., 0]
        after = rgb_to_lab(out[region.rows, region.cols])[..., 0]
        d0, d1 = fine_detail(before, width)[inner], fine_detail(after, width)[inner]
        l1 = after[inner]
        rows.append((float(d0.std()), float(d1.std()), float(np.percentile(l1, 97) - np.median(l1))))
    return np.array(rows)


def steady_pairs(frames):
    """Consecutive close-up frames with one followed face whose raw lip points barely move (< 1% of the
    face width, as bench/tracking.py): (rgb_a, points_a, rgb_b, points_b, face width), smoothed points;
    for masks made frame by frame (--mesh)."""
    raw_state = smooth_state = None
    previous = None
    pairs = []
    for i in CLOSE_UP:
        rgb = cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB)
        raw, raw_state, _ = tracking.follow(rgb, raw_state, 40, MODEL, smoothing=False)
        smooth, smooth_state, _ = tracking.follow(rgb, smooth_state, 40, MODEL, smoothing=True)
        current = (rgb, raw[0].points, smooth[0].points, smooth[0].box[2]) if len(raw) == 1 == len(smooth) else None
        if current and previous:
            moved = float(np.linalg.norm(current[1][48:68] - previous[1][48:68], axis=1).mean()) / current[3]
            if moved < 0.01:
                pairs.append((previous[0], previous[2], current[0], current[2], current[3]))
        previous = current
    return pairs


def close_up_video(frames, finish: str = "satin") -> list[tuple | None]:
    """The close-up tinted (berry red, intensity 1) as the API tints video: each frame's face followed
    with the previous answer's state (encoded, signed and decoded again), the lips tinted starting from
    the edges their masks had, which the state keeps (pipeline.tint_frame's steps). Per frame with one
    face: (frame, tinted frame, full-frame mask weight, smoothed points, raw points (followed without
    smoothing, to find the steady frames), face width, the smoothed points when the state is kept in memory
    instead (not rounded: bench/realism.py measured today's mask on those before)); None for the others."""
    config = settings.get()
    token, raw_state, kept_state, out = None, None, None, []
    for i in CLOSE_UP:
        rgb = cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB)
        raw, raw_state, _ = tracking.follow(rgb, raw_state, 40, MODEL, smoothing=False)
        kept, kept_state, _ = tracking.follow(rgb, kept_state, 40, MODEL)
        state = tracking.decode(token, config, rgb.shape[1], rgb.shape[0])
        found, state, _ = tracking.follow(rgb, state, 40, MODEL)
        tinted = rgb.copy()
        regions = lipstick.apply(tinted, [face.points for face in found], (176, 48, 63), 1.0, finish=finish,
                                 before=[track.before for track in state.tracks])
        tracking.keep_mask_edges(state, regions)
        token = tracking.encode(state, config)
        one = len(raw) == 1 == len(found) == len(kept)      # (a mouth with no lips left has no region)
        weight = full_mask(regions[0], rgb.shape) if regions else np.zeros(rgb.shape[:2], np.float32)
        out.append((rgb, tinted, weight, found[0].points, raw[0].points, found[0].box[2], kept[0].points)
                   if one else None)
    return out


def steady(video) -> list[tuple[int, int]]:
    """Consecutive frames of ``close_up_video`` whose raw lip points move less than 1% of the face width."""
    return [(k - 1, k) for k in range(1, len(video)) if video[k] and video[k - 1] and
            float(np.linalg.norm(video[k][4][48:68] - video[k - 1][4][48:68], axis=1).mean()) / video[k][5] < 0.01]


def edge_move(a: np.ndarray, b: np.ndarray, width: float) -> tuple[float, float]:
    """How far a mask's edge moved between two frames, in % of the face width: the area between the two
    masks (sum of |difference|) over the edge's length, taken as the perimeter of the first mask's largest
    part (>= 0.5; the figure quoted since the issue was filed), and over the masks' whole edge (the total
    variation of their weight, both frames' mean: the mouth's opening and small parts count too)."""
    moved = float(np.abs(a - b).sum())
    hard = (a >= 0.5).astype(np.uint8)
    parts = cv2.findContours(hard, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0]
    perimeter = max(float(cv2.arcLength(max(parts, key=cv2.contourArea), True)), 1.0) if parts else 1.0

    def edge_length(weight):
        gy, gx = np.gradient(weight.astype(np.float64))
        return float(np.hypot(gx, gy).sum())
    whole = max((edge_length(a) + edge_length(b)) / 2, 1.0)
    return moved / perimeter / width * 100, moved / whole / width * 100


def edge_moves(pairs, tint) -> list[float]:
    """The mask edge's frame-to-frame movement on each steady pair (``steady_pairs``), in % of the face
    width (``edge_move``'s first figure)."""
    moves = []
    for rgb_a, pts_a, rgb_b, pts_b, width in pairs:
        (ra,) = tint(rgb_a.copy(), [pts_a], (176, 48, 63), 1.0)
        (rb,) = tint(rgb_b.copy(), [pts_b], (176, 48, 63), 1.0)
        moves.append(edge_move(full_mask(ra, rgb_a.shape), full_mask(rb, rgb_b.shape), width)[0])
    return moves


def video_edge_moves(video, pairs) -> dict[str, np.ndarray]:
    """``edge_move`` (both figures, per steady pair) of the API's masks in video, of today's polygon mask on
    the same smoothed points ("today") and on the points smoothed with the state in memory ("today, in
    memory": its hard edge flips whole pixels when a point sits on a pixel's centre line, and the state's
    rounding of the points, a few thousandths of a pixel, decides which), and of the new mask made frame by
    frame (without the previous frame's edge)."""
    def polygon(k, points):
        rgb = video[k][0]
        (region,) = polygon_tint(rgb.copy(), [video[k][points]], (176, 48, 63), 1.0)
        return full_mask(region, rgb.shape)

    def alone(k):
        return full_weight(video[k][0], lipmask.find(video[k][0], video[k][3]))
    return {"today": np.array([edge_move(polygon(a, 3), polygon(b, 3), video[b][5]) for a, b in pairs]),
            "today, in memory": np.array([edge_move(polygon(a, 6), polygon(b, 6), video[b][5]) for a, b in pairs]),
            "new": np.array([edge_move(video[a][2], video[b][2], video[b][5]) for a, b in pairs]),
            "new, frame by frame": np.array([edge_move(alone(a), alone(b), video[b][5]) for a, b in pairs])}


def highlight_flicker(video, pairs) -> float:
    """Mean |frame-to-frame change| of the tinted lips' L* on steady pairs (both masks' common part)."""
    changes = []
    for a, b in pairs:
        both = (video[a][2] >= 0.99) & (video[b][2] >= 0.99)
        if not both.any():
            continue
        changes.append(float(np.abs(rgb_to_lab(video[a][1][both])[:, 0] - rgb_to_lab(video[b][1][both])[:, 0]).mean()))
    return float(np.mean(changes))


def faces_at_200(labelled) -> list[tuple[np.ndarray, np.ndarray]]:
    """The labelled photos scaled so each face is 200 px wide, with its landmarks found again."""
    out = []
    for _, rgb, _, face in labelled:
        scale = 200 / face.box[2]
        small = np.ascontiguousarray(np.asarray(Image.fromarray(rgb).resize(
            (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), Image.LANCZOS)))
        found = find(small)
        if found:
            out.append((small, max(found, key=lambda f: f.box[2]).points))
    return out


def time_per_face(inputs, tint, repeat: int, **look) -> tuple[float, float, float]:
    """Median over faces of the median and of the fastest of ``repeat`` timed tints, in CPU ms of this
    thread, and the median in wall ms. The CPU time is what the step costs; the wall time also counts the
    moments other processes on this shared machine held the core, and even CPU time grows when they share
    its caches, so the fastest run is the step's cost on a quiet machine. Frames are copied outside."""
    cpu, best, wall = [], [], []
    for rgb, points in inputs:
        runs_cpu, runs_wall = [], []
        for _ in range(repeat):
            frame = rgb.copy()
            started, started_cpu = time.perf_counter(), time.thread_time()
            tint(frame, [points], (176, 48, 63), 0.6, **look)
            runs_cpu.append((time.thread_time() - started_cpu) * 1000)
            runs_wall.append((time.perf_counter() - started) * 1000)
        cpu.append(statistics.median(runs_cpu))
        best.append(min(runs_wall))
        wall.append(statistics.median(runs_wall))
    return statistics.median(cpu), statistics.median(best), statistics.median(wall)


# ---------------------------------------------------------------- lip contours from the face mesh
# (name, face mesh model, passes, snapped to the colour edge, averaged with today's mask)
MESH_VARIANTS = [
    ("today: the 68 points' lips snapped to the colour edge", None, 0, True, False),
    ("mesh (468 points), snapped, 1 pass", "plain", 1, True, False),
    ("attention lips as placed + soft edge, 1 pass", "attention", 1, False, False),
    ("attention lips as placed + soft edge, 2 passes", "attention", 2, False, False),
    ("attention lips, snapped, 2 passes", "attention", 2, True, False),
    ("mean of today's and attention's as placed, 1 pass", "attention", 1, False, True),
    ("mean of today's and attention's as placed, 2 passes", "attention", 2, False, True),
]


def full_weight(rgb: np.ndarray, found: lipmask.LipMask | None) -> np.ndarray:
    out = np.zeros(rgb.shape[:2], np.float32)
    if found is not None:
        out[found.rows, found.cols] = found.weight
    return out


def mesh_masks(folder: pathlib.Path):
    """(name, mask(rgb, points) -> full-frame weight) for each of MESH_VARIANTS: the face mesh's lips through
    lipmask's curves, soft edge and (or not) colour snapping."""
    from bench import facemesh
    models = {"plain": facemesh.FaceMesh(folder, attention=False), "attention": facemesh.FaceMesh(folder)}

    def mask_of(model, passes, snap, with_today):
        def mask(rgb, points):
            if model is None:
                return full_weight(rgb, lipmask.find(rgb, points))
            contour, _ = models[model].lips(rgb, points, passes)
            weight = full_weight(rgb, lipmask.find(rgb, points, contour, snap_edges=snap))
            return (weight + full_weight(rgb, lipmask.find(rgb, points))) / 2 if with_today else weight
        return mask
    return [(name, mask_of(*how)) for name, *how in MESH_VARIANTS], models["attention"]


def as_tint(mask):
    """A mask function as ``mask_figures``' and ``edge_moves``' tint (only the mask is used)."""
    def tint(rgb, faces_points, color, intensity):
        regions = []
        for points in faces_points:
            weight = mask(rgb, points)
            ys, xs = np.nonzero(weight)
            if not len(ys):
                continue
            rows, cols = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
            regions.append(lipstick.TintedRegion(mask=weight[rows, cols], rows=rows, cols=cols))
        return regions
    return tint


def mesh_comparison(labelled, repeat: int) -> None:
    folder = pathlib.Path(MODEL).parent
    variants, attention = mesh_masks(folder)
    print(f"lip masks from MediaPipe's face mesh beside today's ({len(labelled)} labelled faces; a pass is one run of "
          f"the model, the second on MediaPipe's own square from the first's mesh):")
    figures = [mask_figures(labelled, as_tint(mask)) for _, mask in variants]
    pairs = steady_pairs(clip_frames())
    inputs = faces_at_200(labelled)
    print(f"  {'variant':53} {'IoU mean':>8} {'worst':>6} {'outside':>8} {'tinted':>7} {'jitter mean / median':>21} "
          f"{'ms/face':>8}")
    for (name, mask), rows in zip(variants, figures):
        iou = [r[0] for r in rows]
        moves = edge_moves(pairs, as_tint(mask))
        ms = time_per_face(inputs, lambda rgb, pts, color, intensity: mask(rgb, pts[0]), repeat)[0]
        print(f"  {name:53} {np.mean(iou):8.3f} {min(iou):6.3f} {100 * np.mean([r[1] for r in rows]):7.2f}% "
              f"{100 * (1 - np.mean([r[2] for r in rows])):6.1f}% {np.mean(moves):9.3f}% / {np.median(moves):.3f}% "
              f"{ms:8.2f}")
    print("  (outside: the tint's weight outside the labelled lips dilated by 2% of the face; tinted: labelled lip "
          f"pixels at weight >= 0.5; jitter: the mask edge's movement between {len(pairs)} steady close-up frames, "
          "% of the face width; ms: median CPU per 200 px face, model runs and mask)")
    print("\n  per face IoU, the variants above in order:")
    for k, (name, *_rest) in enumerate(labelled):
        print(f"  {name:12} " + "  ".join(f"{rows[k][0]:.3f}" for rows in figures))
    # how the best variant moves with the first square the face mesh is given (the model's own noise)
    from bench import facemesh
    rng = np.random.default_rng(0)

    def moved(rgb, points):
        square = facemesh.roi_from_68(points)
        side = square.side * float(np.exp(rng.normal(0, 0.08)))
        centre = (square.centre[0] + rng.normal(0, 0.04) * side, square.centre[1] + rng.normal(0, 0.04) * side)
        contour, _ = attention.lips(rgb, points, 2, first=facemesh.Square(centre, side, square.angle))
        theirs = lipmask.find(rgb, points, contour, snap_edges=False)
        return (full_weight(rgb, lipmask.find(rgb, points)) + full_weight(rgb, theirs)) / 2
    draws = [mask_figures(labelled, as_tint(moved)) for _ in range(5)]
    means, worsts = [np.mean([r[0] for r in d]) for d in draws], [min(r[0] for r in d) for d in draws]
    tinted = [100 * (1 - np.mean([r[2] for r in d])) for d in draws]
    print(f"\n  the last variant with its first square moved (centre +-4%, side +-8%, 5 draws): IoU mean "
          f"{min(means):.3f}-{max(means):.3f}, worst {min(worsts):.3f}-{max(worsts):.3f}, tinted "
          f"{min(tinted):.1f}-{max(tinted):.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per face")
    parser.add_argument("--mesh", action="store_true", help="compare lip masks from MediaPipe's face mesh instead")
    args = parser.parse_args()
    if not (DATA / "lips").is_dir():
        sys.exit(f"the labelled lips are not at {DATA / 'lips'} (see ../shared/data/README.md)")
    labelled = labelled_faces()
    if args.mesh:
        mesh_comparison(labelled, args.repeat)
        return
    frames = clip_frames()
    photos, close_up = photo_faces(labelled), close_up_faces(frames)
    print(f"tintcam realism benchmark: {len(labelled)} labelled faces, {len(photos)} photo faces >= 140 px, "
          f"{len(close_up)} close-up frames of the clip; 'today' is the polygon mask and its tint\n")

    print("mask against the labelled lips (../shared/data/lips), per face IoU (mask >= 0.5):")
    figures = {name: mask_figures(labelled, tint) for name, tint in TINTS}
    for i, (name, *_rest) in enumerate(labelled):
        print(f"  {name:12} " + "  ".join(f"{n} {figures[n][i][0]:.3f}" for n, _ in TINTS))
    for n, _ in TINTS:
        iou = [r[0] for r in figures[n]]
        print(f"  {n:6} IoU mean {np.mean(iou):.3f}, worst {min(iou):.3f}; tint outside the lips (dilated 2% of the "
              f"face) {100 * np.mean([r[1] for r in figures[n]]):.2f}% (worst {100 * max(r[1] for r in figures[n]):.2f}%); "
              f"lips not tinted {100 * np.mean([r[2] for r in figures[n]]):.2f}% (worst {100 * max(r[2] for r in figures[n]):.2f}%)")

    print("\nCIEDE2000 between the tinted lips' mean colour and the shade, intensity 1 (mean over faces):")
    print(f"  {'shade':8} {'photos today':>13} {'photos new':>11} {'close-up today':>15} {'close-up new':>13}")
    worst = 0.0
    for shade, value in SHADES:
        color = hex_rgb(value)
        cells = [colour_error(face_set, tint, color) for face_set in (photos, close_up) for _, tint in TINTS]
        worst = max(worst, cells[1], cells[3])
        print(f"  {shade:8} {cells[0]:13.1f} {cells[1]:11.1f} {cells[2]:15.1f} {cells[3]:13.1f}")
    print(f"  worst shade, new: {worst:.1f}")

    print("\ntexture and finishes (photo faces, intensity 1; fine detail = L* minus its blur over ~2% of the mouth):")
    for shade, value in (SHADES[0], SHADES[3], SHADES[5]):
        color = hex_rgb(value)
        satin, matte, gloss = (finish_figures(photos, color, f) for f in ("satin", "matte", "gloss"))
        kept = satin[:, 1] / satin[:, 0]
        print(f"  {shade:6} satin keeps {100 * np.median(kept):.0f}% of the fine detail (median over faces, worst "
              f"{100 * kept.min():.0f}%); matte's fine detail "
              f"{100 * (1 - matte[:, 1].mean() / satin[:, 1].mean()):.0f}% below satin's; gloss P97-median of L* "
              f"{gloss[:, 2].mean():.1f} vs satin {satin[:, 2].mean():.1f} (+{100 * (gloss[:, 2].mean() / satin[:, 2].mean() - 1):.0f}%)")

    video = close_up_video(frames)
    pairs = steady(video)
    moves = video_edge_moves(video, pairs)
    print(f"\nvideo, {len(pairs)} steady pairs of close-up frames, tinted as the API tints video (with the state):")
    for k, label in enumerate(("mask edge movement frame to frame (largest part's perimeter)",
                               "the same over the masks' whole edge (opening and small parts too)")):
        print(f"  {label}, % of the face width, mean / median: " + ", ".join(
            f"{n} {figures[:, k].mean():.3f} / {np.median(figures[:, k]):.3f}" for n, figures in moves.items()))
    worst = int(np.argmax(moves["new"][:, 0]))
    print(f"  largest move, new: {moves['new'][worst, 0]:.3f}% (frames {CLOSE_UP[pairs[worst][0]]}-"
          f"{CLOSE_UP[pairs[worst][1]]}; today there {moves['today'][worst, 0]:.3f}%)")
    print(f"  lips' L* change frame to frame: satin {highlight_flicker(video, pairs):.2f}, "
          f"gloss {highlight_flicker(close_up_video(frames, 'gloss'), pairs):.2f}")

    inputs = faces_at_200(labelled)
    today = time_per_face(inputs, polygon_tint, args.repeat)
    new = time_per_face(inputs, new_tint, args.repeat)
    gloss = time_per_face(inputs, new_tint, args.repeat, finish="gloss", shimmer=0.5)
    print(f"\ntint step per 200 px face ({len(inputs)} faces, {args.repeat} runs each; ms: median CPU / fastest "
          f"run / median wall):")
    print(f"  today {today[0]:.2f} / {today[1]:.2f} / {today[2]:.2f}; new satin {new[0]:.2f} / {new[1]:.2f} / "
          f"{new[2]:.2f} ({new[0] / today[0]:.1f}x today); new gloss + shimmer {gloss[0]:.2f} / {gloss[1]:.2f} / "
          f"{gloss[2]:.2f} ({gloss[0] / today[0]:.1f}x)")

if __name__ == "__main__":
    main()
