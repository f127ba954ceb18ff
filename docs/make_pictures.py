"""Renders the README's lipstick gallery into docs/img/ from the shared clip (MIT licence, see
../shared/data/README.md), the only shared input whose licence lets pictures made from it into the
repository (the photos in faces/ and lips/ are for measuring only).

    .venv/bin/python docs/make_pictures.py

Each picture is a row of crops of the same frame around the mouth, before and after (captions: shade,
finish, intensity), enlarged 3x (the clip is 640x360: a face there is about 100 px wide), JPEG under
300 KB.
"""
from __future__ import annotations

import pathlib
import sys

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.frame_api import clip_frames  # noqa: E402
from chalicelib import faces, lipstick  # noqa: E402

OUT = ROOT / "docs" / "img"
ZOOM = 3
SHADES = [("nude", (0xB8, 0x6F, 0x6A)), ("coral", (0xE0, 0x60, 0x4F)), ("pink", (0xC9, 0x5B, 0x7C)),
          ("red", (0xB0, 0x30, 0x3F)), ("berry", (0x8E, 0x20, 0x43)), ("plum", (0x5E, 0x23, 0x50))]
MODEL = faces.resolve_model_path("")


def face_in(rgb: np.ndarray) -> faces.Face:
    found = faces.find_faces(rgb, 60, MODEL)
    return max(found, key=lambda f: f.box[2])


def crop_box(face: faces.Face, wide: float, tall: float) -> tuple[int, int, int, int]:
    """A box around the mouth, ``wide`` x ``tall`` mouth widths."""
    points = face.points
    centre = points[48:68].mean(axis=0)
    width = float(np.hypot(*(points[54] - points[48])))
    return (int(centre[0] - wide * width / 2), int(centre[1] - tall * width / 2),
            int(centre[0] + wide * width / 2), int(centre[1] + tall * width / 2))


def tinted(rgb: np.ndarray, face: faces.Face, color, intensity=1.0, **look) -> np.ndarray:
    out = rgb.copy()
    lipstick.apply(out, [face.points], color, intensity, **look)
    return out


def row(tiles: list[tuple[str, np.ndarray]], box) -> Image.Image:
    """The crops side by side, enlarged, each with its caption underneath."""
    x0, y0, x1, y1 = box
    font = ImageFont.load_default(size=22)
    width, height = (x1 - x0) * ZOOM, (y1 - y0) * ZOOM
    sheet = Image.new("RGB", (len(tiles) * (width + 6) - 6, height + 34), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (caption, rgb) in enumerate(tiles):
        tile = Image.fromarray(rgb[y0:y1, x0:x1]).resize((width, height), Image.LANCZOS)
        sheet.paste(tile, (i * (width + 6), 0))
        draw.text((i * (width + 6) + width / 2, height + 6), caption, fill=(40, 40, 40), font=font, anchor="ma")
    return sheet


def save(image: Image.Image, name: str) -> None:
    path = OUT / name
    image.save(path, "JPEG", quality=88, optimize=True)
    print(f"{path.relative_to(ROOT)}: {image.width}x{image.height}, {path.stat().st_size // 1024} KB")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in clip_frames()]
    red, nude, coral, plum = SHADES[3][1], SHADES[0][1], SHADES[1][1], SHADES[5][1]

    rgb = frames[160]                                    # the close-up: a man singing, stubble round the mouth
    face = face_in(rgb)
    box = crop_box(face, 2.0, 1.3)
    save(row([("before", rgb), ("satin", tinted(rgb, face, red, 0.8)),
              ("matte", tinted(rgb, face, red, 0.8, finish="matte")),
              ("gloss", tinted(rgb, face, red, 0.8, finish="gloss")),
              ("gloss + shimmer", tinted(rgb, face, red, 0.8, finish="gloss", shimmer=0.6))], box), "finishes.jpg")
    save(row([("before", rgb)] + [(name, tinted(rgb, face, color, 0.6)) for name, color in SHADES], box),
         "shades.jpg")

    rgb = frames[90]                                     # a smile: the teeth show
    face = face_in(rgb)
    box = crop_box(face, 2.0, 1.3)
    save(row([("before", rgb), ("red, satin, 1.0", tinted(rgb, face, red)),
              ("red, gloss, 1.0", tinted(rgb, face, red, finish="gloss")),
              ("nude, satin, 0.6", tinted(rgb, face, nude, 0.6))], box), "smile.jpg")

    rgb = frames[178]                                    # stubble and a moustache's shadow around the mouth
    face = face_in(rgb)
    box = crop_box(face, 2.6, 2.0)
    save(row([("before", rgb), ("plum, satin, 0.8", tinted(rgb, face, plum, 0.8)),
              ("coral, matte, 0.6", tinted(rgb, face, coral, 0.6, finish="matte"))], box), "stubble.jpg")

if __name__ == "__main__":
    main()
