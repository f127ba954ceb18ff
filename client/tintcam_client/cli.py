"""The ``tintcam`` command line: tint a photo, a folder of photos, a video file or a webcam.

    tintcam photo selfie.jpg -o tinted.jpg --color "#8E2043" --finish gloss
    tintcam folder photos/ -o tinted/
    tintcam video clip.mp4 -o tinted.mp4 --in-flight 4
    tintcam webcam --device 0 [-o recording.mp4]
    tintcam usage

--api-url and --api-key default to TINTCAM_API_URL and TINTCAM_API_KEY. The key is never printed.
Video and webcam frames ask for patch answers (only the tinted lips come back and are drawn over the
frame here); photos get whole tinted frames. --answer full|patch chooses otherwise.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import cv2
import numpy as np

from .api import ApiError, Client, QuotaExceeded, TintResult

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}


class CliError(Exception):
    pass


class Stats:
    def __init__(self) -> None:
        self.frames = 0
        self.faces = 0
        self.latencies: list[float] = []
        self.retries = 0
        self.bytes_up: list[int] = []
        self.bytes_down: list[int] = []
        self.answers: set[str] = set()

    def add(self, result: TintResult) -> None:
        self.frames += 1
        self.faces += result.faces
        self.latencies.append(result.latency_ms)
        self.retries += result.retries
        self.bytes_up.append(result.bytes_up)
        self.bytes_down.append(result.bytes_down)
        self.answers.add(result.answer)


# The answer each command asks for unless --answer says otherwise: a video frame changes only at the lips,
# so only they come back; a photo is wanted whole.
DEFAULT_ANSWER = {"photo": "full", "folder": "full", "video": "patch", "webcam": "patch"}


def _options(args) -> dict:
    return {"color": args.color, "intensity": args.intensity, "finish": args.finish, "shimmer": args.shimmer,
            "quality": args.quality, "min_face": args.min_face, "answer": args.answer or DEFAULT_ANSWER[args.command]}


def _picture(result: TintResult) -> bytes:
    """A tinted photo's file: the full answer's JPEG as it came, or a patch drawn over the photo here."""
    if result.jpeg is not None:
        return result.jpeg
    ok, buf = cv2.imencode(".jpg", result.image(), [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise CliError("the tinted picture could not be encoded")
    return buf.tobytes()


def _progress(total: int | None, enabled: bool, unit: str = "frame"):
    from tqdm import tqdm
    return tqdm(total=total, unit=unit, disable=not enabled, file=sys.stderr, dynamic_ncols=True,
                smoothing=0.1)


def tint_photo(client: Client, args, source: pathlib.Path, target: pathlib.Path, stats: Stats) -> None:
    data = _read_file(source)
    result = client.tint(data, **_options(args))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_picture(result))
    stats.add(result)


def tint_folder(client: Client, args, source: pathlib.Path, target: pathlib.Path, stats: Stats) -> None:
    photos = sorted(p for p in source.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    if not photos:
        raise CliError(f"no JPEG or PNG photos in {source}")
    target.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=args.in_flight) as pool, _progress(len(photos), args.progress) as bar:
        futures = [pool.submit(client.tint, _read_file(p), **_options(args)) for p in photos]
        for photo, future in zip(photos, futures):
            result = future.result()
            (target / (photo.stem + ".jpg")).write_bytes(_picture(result))
            stats.add(result)
            bar.update(1)


def _read_file(path: pathlib.Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None


class FrameStream:
    """Frames in, tinted frames out in the same order, with ``in_flight`` requests at once; each new
    request carries the newest tracking state the API has returned so far."""

    def __init__(self, client: Client, options: dict, in_flight: int) -> None:
        self.client, self.options = client, options
        self.pool = ThreadPoolExecutor(max_workers=in_flight)
        self.in_flight = in_flight
        self.pending: deque[Future] = deque()
        self.state: str | None = None
        self.lock = threading.Lock()

    def _tint(self, frame: np.ndarray) -> TintResult:
        with self.lock:
            state = self.state
        result = self.client.tint(frame, track_state=state, **self.options)
        if result.track_state:
            with self.lock:
                self.state = result.track_state
        return result

    def push(self, frame: np.ndarray) -> list[TintResult]:
        self.pending.append(self.pool.submit(self._tint, frame))
        done = []
        while len(self.pending) >= self.in_flight:
            done.append(self.pending.popleft().result())
        return done

    def drain(self) -> list[TintResult]:
        done = [f.result() for f in self.pending]
        self.pending.clear()
        self.pool.shutdown()
        return done


def tint_video(client: Client, args, source: str, target: pathlib.Path | None, stats: Stats,
               live: bool = False) -> None:
    cap = cv2.VideoCapture(int(source) if source.isdigit() else source)
    if not cap.isOpened():
        raise CliError(f"cannot open {'camera ' if source.isdigit() else ''}{source} as a video")
    ok, frame = cap.read()
    if not ok:
        raise CliError(f"cannot read a frame from {source}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if not live else None
    height, width = frame.shape[:2]
    writer = None
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        if not writer.isOpened():
            raise CliError(f"cannot write a video to {target}")
    window = live and _has_display()
    if live and not window and writer is None:
        raise CliError("no display to show the webcam in: pass -o FILE to record the tinted video instead")
    stream = FrameStream(client, _options(args), args.in_flight if not live else min(args.in_flight, 2))
    limit = args.max_frames or (total if total and total > 0 else None)
    count = 0

    def emit(results: list[TintResult]) -> bool:
        for result in results:
            stats.add(result)
            image = result.image()
            if image.shape[:2] != (height, width):
                image = cv2.resize(image, (width, height))
            if writer is not None:
                writer.write(image)
            if window:
                cv2.imshow("tintcam", image)
                if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                    return False
            bar.update(1)
        return True

    with _progress(limit, args.progress) as bar:
        try:
            while ok and (limit is None or count < limit):
                if not emit(stream.push(frame)):
                    break
                count += 1
                ok, frame = cap.read()
            emit(stream.drain())
        finally:
            cap.release()
            if writer is not None:
                writer.release()
            if window:
                cv2.destroyAllWindows()


def _has_display() -> bool:
    if not (os.environ.get("DISPLAY") or sys.platform in ("darwin", "win32")):
        return False
    try:
        cv2.namedWindow("tintcam")
        return True
    except cv2.error:  # opencv-python-headless has no windows
        return False


def _kb(n: float) -> str:
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n:.0f} B"


def summary(stats: Stats, before: dict | None, after: dict | None, seconds: float) -> str:
    lines = [f"frames: {stats.frames} in {seconds:.1f} s ({stats.frames / max(seconds, 1e-9):.1f} fps), "
             f"faces: {stats.faces}, retries: {stats.retries}"]
    if stats.latencies:
        lat = sorted(stats.latencies)
        p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
        lines.append(f"latency: median {statistics.median(lat):.0f} ms, p95 {p95:.0f} ms")
    if stats.frames:
        lines.append(f"bytes per frame: {_kb(statistics.median(stats.bytes_up))} up, "
                     f"{_kb(statistics.median(stats.bytes_down))} down (median; {' and '.join(sorted(stats.answers))} "
                     f"answers); in all {_kb(sum(stats.bytes_up))} up, {_kb(sum(stats.bytes_down))} down")
    if before and after:
        charged = after["frames_charged"] - before["frames_charged"]
        cost = after["charge_usd"] - before["charge_usd"]
        lines.append(f"charged: {charged} frames, ${cost:.4f} (month so far: {after['frames_charged']} frames, "
                     f"${after['charge_usd']:.4f}; quota left {after['quota_remaining']})")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tintcam", description="Virtual lipstick through the tintcam API.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--api-url", default=os.environ.get("TINTCAM_API_URL"),
                        help="API address (default: $TINTCAM_API_URL)")
    common.add_argument("--api-key", default=os.environ.get("TINTCAM_API_KEY"),
                        help="API key (default: $TINTCAM_API_KEY; prefer the variable: arguments show in ps)")
    frames = argparse.ArgumentParser(add_help=False, parents=[common])
    frames.add_argument("--color", help="shade, hex RRGGBB")
    frames.add_argument("--intensity", type=float)
    frames.add_argument("--finish", choices=("satin", "matte", "gloss"), help="how the lips shine (default satin)")
    frames.add_argument("--shimmer", type=float, help="fine sparkle, 0..1 (default 0)")
    frames.add_argument("--quality", type=int)
    frames.add_argument("--min-face", type=int)
    frames.add_argument("--answer", choices=("full", "patch"),
                        help="full: whole tinted frames come back; patch: only the tinted lips, drawn over the "
                             "frame here (default: patch for video and webcam, full for photos)")
    frames.add_argument("--in-flight", type=int, default=4, help="requests at once (default 4)")
    frames.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("photo", parents=[frames], help="tint one photo")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p = sub.add_parser("folder", parents=[frames], help="tint every JPEG/PNG in a folder")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p = sub.add_parser("video", parents=[frames], help="tint a video file (same size and frame rate)")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--max-frames", type=int, default=0)
    p = sub.add_parser("webcam", parents=[frames], help="tint a webcam live (window where a display exists)")
    p.add_argument("--device", default="0", help="camera index or a video path (default 0)")
    p.add_argument("-o", "--output", default=None, help="also record the tinted video")
    p.add_argument("--max-frames", type=int, default=0)
    sub.add_parser("usage", parents=[common], help="this month's usage of the key")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not args.api_url:
            raise CliError("no API address: pass --api-url or set TINTCAM_API_URL")
        if not args.api_key:
            raise CliError("no API key: pass --api-key or set TINTCAM_API_KEY")
        with Client(args.api_url, args.api_key) as client:
            if args.command == "usage":
                for name, value in client.usage().items():
                    print(f"{name}: {value}")
                return 0
            if args.in_flight < 1 or args.in_flight > 16:
                raise CliError("--in-flight must be between 1 and 16")
            before = client.usage()
            stats, started = Stats(), time.perf_counter()
            source = args.input if args.command != "webcam" else args.device
            if args.command == "photo":
                tint_photo(client, args, pathlib.Path(source), pathlib.Path(args.output), stats)
            elif args.command == "folder":
                folder = pathlib.Path(source)
                if not folder.is_dir():
                    raise CliError(f"{folder} is not a folder")
                tint_folder(client, args, folder, pathlib.Path(args.output), stats)
            else:
                if args.command == "video" and not pathlib.Path(source).is_file():
                    raise CliError(f"cannot read {source}: no such file")
                tint_video(client, args, source, pathlib.Path(args.output) if args.output else None, stats,
                           live=args.command == "webcam")
            elapsed = time.perf_counter() - started
            print(summary(stats, before, client.usage(), elapsed))
        return 0
    except CliError as exc:
        print(f"tintcam: error: {exc}", file=sys.stderr)
        return 2
    except QuotaExceeded as exc:
        print(f"tintcam: error: quota used up: {exc.message}", file=sys.stderr)
        return 3
    except ApiError as exc:
        print(f"tintcam: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
