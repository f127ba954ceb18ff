"""Renders every picture in docs/img/ from the shared clip (MIT licence, see ../shared/data/README.md), the
only shared input whose licence lets pictures made from it into the repository (the photos in faces/ and
lips/ are for measuring only). Run it again when the look of the tint or of the page changes.

    .venv/bin/python docs/make_pictures.py                      # everything
    .venv/bin/python docs/make_pictures.py gallery hero         # only some: gallery, hero, camera-page

- hero: `camera-frame.jpg`, a 640x480 camera frame cut from the clip's close-up (the picture the README's
  first call sends), and `before-after.jpg`, that frame as sent and as the API answers it (through the
  pipeline the route runs: the first call's shade, and a red gloss), cropped around the face;
- gallery (docs/lipstick.md): rows of crops of the same frame around the mouth, before and after
  (captions: shade, finish, intensity), enlarged 3x (the clip is 640x360: a face there is about 100 px);
- camera-page: `camera-page.jpg`, a screenshot of the camera page in use: `make start` on free ports and
  Debian's Chromium with the clip's close-up as its camera (framed as a selfie: the face about 190 px
  wide in 640x480), the Berry shade in gloss.

Each picture is a JPEG under 300 KB (tests/test_docs.py checks the size).
"""
from __future__ import annotations

import argparse
import io
import pathlib
import sys
import tempfile
import time

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.frame_api import clip_frames  # noqa: E402
from chalicelib import faces, lipstick, options, pipeline, settings  # noqa: E402

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


def row(tiles: list[tuple[str, np.ndarray]], box, zoom: float = ZOOM) -> Image.Image:
    """The crops side by side, enlarged, each with its caption underneath."""
    x0, y0, x1, y1 = box
    font = ImageFont.load_default(size=22)
    width, height = round((x1 - x0) * zoom), round((y1 - y0) * zoom)
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


def gallery(frames: list[np.ndarray]) -> None:
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


HERO_FRAME, HERO_SCALE = 190, 1.6   # a close-up frame, lips clear of the microphone; 1.6x: a 150 px face
FIRST_CALL = {"color": "8E2043", "intensity": "0.7"}   # the README's first call (berry)


def camera_frame(rgb: np.ndarray) -> bytes:
    """A 640x480 camera frame around the singer's face, as a webcam at arm's length would send it."""
    face = face_in(rgb)
    big = cv2.resize(rgb, None, fx=HERO_SCALE, fy=HERO_SCALE, interpolation=cv2.INTER_CUBIC)
    cx = int((face.box[0] + face.box[2] / 2) * HERO_SCALE)
    x0 = min(max(cx - 320, 0), big.shape[1] - 640)
    frame = Image.fromarray(big[:480, x0:x0 + 640])
    path = OUT / "camera-frame.jpg"
    frame.save(path, "JPEG", quality=90)
    print(f"{path.relative_to(ROOT)}: {frame.width}x{frame.height}, {path.stat().st_size // 1024} KB")
    return path.read_bytes()


def answered(jpeg: bytes, **query: str) -> tuple[np.ndarray, list[faces.Face]]:
    """What POST /v1/tint answers for this frame and query (the route's own pipeline, quality 95)."""
    config = settings.load()
    result = pipeline.tint_frame(jpeg, "image/jpeg", options.parse({"quality": "95", **query}, config), config)
    return np.asarray(Image.open(io.BytesIO(result.body)).convert("RGB")), result.faces


def hero(frames: list[np.ndarray]) -> None:
    jpeg = camera_frame(frames[HERO_FRAME])
    sent = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    first, found = answered(jpeg, **FIRST_CALL)
    gloss, _ = answered(jpeg, color="B0303F", intensity="0.8", finish="gloss")
    x, y, w, h = found[0].box
    side = int(w * 1.9)
    x0, y0 = max(0, int(x + w / 2 - side / 2)), max(0, int(y + h * 0.55 - side / 2))
    box = (x0, y0, x0 + side, y0 + side)
    save(row([("as sent", sent), ("color=8E2043 intensity=0.7", first),
              ("color=B0303F finish=gloss", gloss)], box, zoom=1.4), "before-after.jpg")


SELFIE_BOX = (80, 0, 400, 240)   # the part of the clip's close-up the singer's face stays in, shown 2x as 640x480


def selfie_y4m(path: pathlib.Path, frames: list[np.ndarray], first: int = 150, last: int = 210) -> pathlib.Path:
    """The close-up framed as a selfie camera would show it (the face about 190 px wide), as a Y4M file,
    which Chromium's fake camera plays in a loop."""
    x0, y0, x1, y1 = SELFIE_BOX
    with open(path, "wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F30000:1001 Ip A1:1 C420jpeg\n")
        for rgb in frames[first:last + 1]:
            big = cv2.resize(rgb[y0:y1, x0:x1], (640, 480), interpolation=cv2.INTER_CUBIC)
            out.write(b"FRAME\n" + cv2.cvtColor(big, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def camera_page(frames: list[np.ndarray]) -> None:
    """A screenshot of the camera page in use, against `make start`, with the clip as the camera."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch, local_stack
    with tempfile.TemporaryDirectory() as tmp, local_stack() as (site_url, _, _), sync_playwright() as p:
        browser = launch(p, selfie_y4m(pathlib.Path(tmp) / "selfie.y4m", frames))
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(site_url)
        page.wait_for_selector("body[data-ready='true']")
        page.get_by_role("radio", name="Berry").click()
        page.get_by_label("Gloss").check()
        page.get_by_role("button", name="Start").click()
        # let the live figures fill (their medians are over the last 10 s), then catch a frame with a face
        page.wait_for_function("Number(document.getElementById('frames-shown').textContent) >= 80", timeout=90000)
        page.wait_for_function("Number(document.getElementById('faces').textContent) >= 1", timeout=30000)
        shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
        browser.close()
    shot = shot.resize((shot.width * 3 // 4, shot.height * 3 // 4), Image.LANCZOS)
    save(shot, "camera-page.jpg")


def main() -> None:
    kinds = ("gallery", "hero", "camera-page")
    parser = argparse.ArgumentParser(description="Render the pictures in docs/img/ from the shared clip.")
    parser.add_argument("pictures", nargs="*", metavar="PICTURE", help=f"any of {', '.join(kinds)} (default: all)")
    chosen = set(parser.parse_args().pictures or kinds)
    if chosen - set(kinds):
        parser.error(f"unknown picture(s) {', '.join(sorted(chosen - set(kinds)))}; choose from {', '.join(kinds)}")
    OUT.mkdir(parents=True, exist_ok=True)
    frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in clip_frames()]
    if "gallery" in chosen:
        gallery(frames)
    if "hero" in chosen:
        hero(frames)
    if "camera-page" in chosen:
        camera_page(frames)


if __name__ == "__main__":
    main()
