"""MediaPipe's BlazeFace face-detector models, fetched from PyPI: they ship only inside the ``mediapipe``
wheel (Apache-2.0). The wheel is downloaded with ``pip download --no-deps`` (mediapipe itself is never
installed: 64 MB, and it pins numpy < 2), the two ``.tflite`` files are extracted, and each is checked
against the sha256 that ``chalicelib/blazeface.py`` names. A no-op when the files are already there.

    .venv/bin/python layers/models.py [FOLDER]     (make models: FOLDER is the landmark model's folder)

``layers/build.py`` calls ``fetch`` for the model layer (``/opt/models/`` on Lambda).
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib import blazeface  # noqa: E402

WHEEL = "mediapipe==0.10.18"   # the last release with a cp311 manylinux2014 wheel holding the models
MEMBER = "mediapipe/modules/face_detection/"
MODELS = (blazeface.SHORT_RANGE, blazeface.FULL_RANGE)


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def current(folder: pathlib.Path) -> bool:
    return all((folder / spec.file).is_file() and sha256(folder / spec.file) == spec.sha256 for spec in MODELS)


def fetch(folder: pathlib.Path) -> list[pathlib.Path]:
    """The BlazeFace models in ``folder``, downloaded and checked if they are not there (or differ)."""
    folder = pathlib.Path(folder)
    targets = [folder / spec.file for spec in MODELS]
    if current(folder):
        return targets
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tintcam-mediapipe-") as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
                        "--platform", "manylinux2014_x86_64", "--dest", tmp, WHEEL], check=True)
        wheel, = pathlib.Path(tmp).glob("mediapipe-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            for spec, target in zip(MODELS, targets):
                data = zf.read(MEMBER + spec.file)
                digest = hashlib.sha256(data).hexdigest()
                if digest != spec.sha256:
                    raise SystemExit(f"{spec.file} from {wheel.name} has sha256 {digest}, expected {spec.sha256}")
                partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
                partial.write_bytes(data)
                partial.replace(target)
    return targets


def main() -> None:
    if len(sys.argv) > 1:
        folder = pathlib.Path(sys.argv[1])
    else:
        from chalicelib import faces
        folder = pathlib.Path(faces.resolve_model_path("", layer_root="/nonexistent")).parent
    for path in fetch(folder):
        print(f"{path} ({path.stat().st_size / 1e3:.0f} KB, sha256 checked)")


if __name__ == "__main__":
    main()
