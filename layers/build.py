"""Build the Lambda artefacts for a stage, reproducibly, into layers/build/<stage>/ (git-ignored):

  model-layer.zip        models/shape_predictor_68_face_landmarks.npz, dlib's 68-point landmark model
                         converted by chalicelib/shape_model.py (loads in about 0.1 s where dlib's parser
                         takes over a second), models/frontal_face_detector.svm, dlib's face detector
                         saved to a file (3 ms to load, not 0.7 s to build), and MediaPipe's BlazeFace
                         models (models/*.tflite, from the mediapipe wheel by layers/models.py, sha256
                         checked); unpacked by Lambda under /opt, where chalicelib/faces.py looks for them
  layer-deployment.zip   the native dependencies of requirements.txt (dlib-bin, ai-edge-litert, numpy,
                         Pillow, simplejpeg)
                         as manylinux2014 x86_64 wheels for the python3.11 runtime, built by Chalice's
                         automatic layer (`chalice package`), under python/lib/python3.11/site-packages
  deployment.zip         the function: app.py, chalicelib/ and Chalice's runtime
  sam.json               the SAM template `chalice package` writes

    .venv/bin/python layers/build.py [--stage prod]      (or: make layers)

Zips carry fixed timestamps and sorted entries, so the same inputs give byte-identical artefacts.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib import faces  # noqa: E402
from layers import models  # noqa: E402

BUILD = ROOT / "layers" / "build"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
RUNTIME = "python3.11"


def model_source() -> pathlib.Path:
    import face_recognition_models
    return pathlib.Path(face_recognition_models.pose_predictor_model_location())


def build_model_layer(target: pathlib.Path) -> pathlib.Path:
    converted, detector = faces.prepare(str(model_source()))
    blazeface_models = models.fetch(BUILD / "blazeface")
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for path, name in ((converted, faces.MODEL_FILE), (detector, faces.DETECTOR_FILE),
                           *((str(p), p.name) for p in blazeface_models)):
            info = zipfile.ZipInfo(f"models/{name}", date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(path, "rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    tmp.replace(target)
    return target


CHALICE = [sys.executable, "-c", "import sys; from chalice.cli import main; sys.argv[0] = 'chalice'; sys.exit(main())"]


def chalice_package(stage: str, target: pathlib.Path, project: pathlib.Path = ROOT) -> None:
    """`chalice package` for the stage, moved into ``target``."""
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    out = target / "chalice"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([*CHALICE, "package", "--stage", stage, str(out)], cwd=project, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    for name in ("deployment.zip", "layer-deployment.zip", "sam.json"):
        shutil.move(str(out / name), str(target / name))
    shutil.rmtree(out)


def unzipped_size(path: pathlib.Path) -> int:
    with zipfile.ZipFile(path) as zf:
        return sum(i.file_size for i in zf.infolist())


def build(stage: str) -> dict:
    target = BUILD / stage
    target.mkdir(parents=True, exist_ok=True)
    build_model_layer(target / "model-layer.zip")
    chalice_package(stage, target)
    parts = {}
    for name in ("deployment.zip", "layer-deployment.zip", "model-layer.zip"):
        path = target / name
        parts[name] = {"zipped": path.stat().st_size, "unzipped": unzipped_size(path),
                       "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    manifest = {"stage": stage, "runtime": RUNTIME, "parts": parts,
                "unzipped_total": sum(p["unzipped"] for p in parts.values())}
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the Lambda function and layer zips for a stage.")
    parser.add_argument("--stage", default="prod")
    args = parser.parse_args()
    manifest = build(args.stage)
    print(f"built {BUILD / args.stage} for {RUNTIME} (manylinux2014 x86_64 wheels):")
    for name, part in manifest["parts"].items():
        print(f"  {name:22} {part['zipped'] / 1e6:7.1f} MB zipped  {part['unzipped'] / 1e6:7.1f} MB unzipped")
    total = manifest["unzipped_total"]
    print(f"  {'function + layers':22} {'':17} {total / 1e6:7.1f} MB unzipped of Lambda's 250 MB "
          f"({(250e6 - total) / 1e6:.1f} MB spare)")


if __name__ == "__main__":
    main()
