"""One-screen summary of the API held under bad input, load and faults, against real `chalice local`
processes: the corpus of bad and odd inputs, a schemathesis run from the OpenAPI description, the load
(clients x frames, usage totals checked), and the fault tests.

    .venv/bin/python bench/hardening.py [--clients 8] [--frames 250] [--examples 40]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
from collections import Counter

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["TINTCAM_DB"] = os.path.join(tempfile.mkdtemp(prefix="tintcam-hardening-"), "meter.sqlite3")

import requests  # noqa: E402

from bench.frame_api import camera_like, clip_frames, to_jpeg  # noqa: E402
from bench.load import run_load  # noqa: E402
from tests.corpus import cases, check, send  # noqa: E402
from tests.servers import chalice_local  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--examples", type=int, default=40, help="schemathesis examples per operation")
    args = parser.parse_args()
    from chalicelib import metering, settings
    meter = metering.get_meter(settings.get())
    key, record = meter.create_key("hardening", 10_000_000)
    lines = []
    with chalice_local() as (base, proc):
        corpus, statuses, wrong = cases(), Counter(), []
        with requests.Session() as session:
            for case in corpus:
                resp = send(session, base, case, key)
                statuses[resp.status_code] += 1
                problem = check(case, resp)
                if problem:
                    wrong.append(f"{case.name}: {problem}")
        lines.append(f"corpus: {len(corpus)} kinds of bad or odd input; statuses {dict(sorted(statuses.items()))}; "
                     f"5xx: {sum(v for k, v in statuses.items() if k >= 500)}; not as expected: {len(wrong)}")
        lines += [f"  ! {w}" for w in wrong]
        st = subprocess.run([os.path.join(os.path.dirname(sys.executable), "st"), "run", base + "/openapi.json",
                             "--url", base, "--checks", "all", "--exclude-checks", "positive_data_acceptance",
                             "-H", f"x-api-key: {key}", "-n", str(args.examples), "--request-timeout", "30",
                             "--generation-deterministic"], capture_output=True, text=True, timeout=1800)
        generated = re.search(r"(\d+) generated", st.stdout)
        lines.append(f"schemathesis: {generated.group(1) if generated else '?'} generated requests, "
                     f"{'no issues found' if st.returncode == 0 else 'ISSUES FOUND (see its output)'}")
        before = meter.usage(record)["requests"]
        frames = [to_jpeg(f) for f in camera_like(clip_frames())]
        load = run_load(base, key, frames, args.clients, args.frames, 900)
        counted = meter.usage(record)["requests"] - before
        lines.append(f"load: {args.clients} clients x {args.frames} frames: {load['throughput']:.1f} frames/s, "
                     f"p50 {load['p50']:.0f} ms, p95 {load['p95']:.0f} ms, p99 {load['p99']:.0f} ms; statuses "
                     f"{load['statuses']}; usage counted {counted} of {load['sent']} sent "
                     f"({'exact' if counted == load['sent'] else 'MISMATCH'})")
        alive = proc.poll() is None
    faults = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_faults.py"],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    passed = re.search(r"(\d+) passed", faults.stdout)
    failed = re.search(r"(\d+) failed", faults.stdout)
    lines.append(f"faults survived: {passed.group(1) if passed else 0} of "
                 f"{int(passed.group(1) if passed else 0) + int(failed.group(1) if failed else 0)} (meter store "
                 "outage and recovery, model missing, model corrupt, slow client, killed mid-request)")
    lines.append(f"server alive after corpus, schemathesis and load: {alive}")
    print("tintcam hardening summary\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
