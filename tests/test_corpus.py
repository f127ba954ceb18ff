"""At least 40 kinds of bad or odd input against a real `chalice local`, each with its exact status and
error code; afterwards the server still answers a normal frame correctly."""
from __future__ import annotations

import requests

from tests.conftest import JPEG_HEADERS, TEST_KEY, read
from tests.corpus import cases, check, send
from tests.servers import chalice_local


def test_corpus_of_bad_and_odd_inputs(local_api):
    base, proc = local_api
    corpus = cases()
    assert len(corpus) >= 40 and len({c.name for c in corpus}) == len(corpus)
    failures = []
    with requests.Session() as session:
        for case in corpus:
            problem = check(case, send(session, base, case, TEST_KEY))
            if problem:
                failures.append(f"{case.name}: {problem}")
    assert not failures, "\n".join(failures)
    assert proc.poll() is None
    resp = requests.post(base + "/v1/tint", data=read("Tom_Cruise_avp_2014_4.jpg"), headers=JPEG_HEADERS, timeout=60)
    assert resp.status_code == 200 and resp.headers["X-Faces"] == "1"


def test_concurrent_load_is_counted_exactly(tmp_path):
    """A bounded version of bench/load.py: 8 clients x 25 frames on loopback, every frame answered and
    the usage totals equal to the frames sent."""
    from bench.frame_api import camera_like, clip_frames, to_jpeg
    from bench.load import run_load
    from chalicelib import metering, settings
    meter = metering.get_meter(settings.get())
    key, record = meter.create_key("load test", 100_000)
    frames = [to_jpeg(f) for f in camera_like(clip_frames())[:6]]
    with chalice_local() as (base, proc):
        result = run_load(base, key, frames, clients=8, per_client=25, max_seconds=300)
        assert proc.poll() is None
    assert result["sent"] == 200 and result["statuses"] == {200: 200}
    assert meter.usage(record)["requests"] == 200
