"""At least 40 kinds of bad or odd input against a real `chalice local`, each with its exact status and
error code; afterwards the server still answers a normal frame correctly."""
from __future__ import annotations

import pytest
import requests

from tests.conftest import JPEG_HEADERS, TEST_KEY, need_data, read
from tests.corpus import cases, check, send
from tests.servers import chalice_local


@pytest.fixture(scope="module")
def api():
    need_data()
    with chalice_local() as (base, proc):
        yield base, proc


def test_corpus_of_bad_and_odd_inputs(api):
    base, proc = api
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
