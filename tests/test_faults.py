"""Faults, each against a real `chalice local`: the meter store going away and coming back, the model
file missing or corrupt, a slow client, and the server killed in the middle of requests."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from chalicelib import metering
from chalicelib import settings as settings_module
from chalicelib.store import DAYS
from tests.conftest import frame_log_lines, need_data, read
from tests.servers import AWS_TEST_ENV, chalice_local, free_port, moto_server

HEADERS = {"Content-Type": "image/jpeg", "Accept": "image/jpeg"}
TABLE = "tintcam-dev-meter"  # chalice local applies the dev stage's environment from .chalice/config.json


def sqlite_store(tmp_path) -> tuple[str, str]:
    """A fresh SQLite meter under ``tmp_path`` and a key in it: (the database's path, the key)."""
    db = str(tmp_path / "meter.sqlite3")
    return db, metering.get_meter(settings_module.load({"TINTCAM_DB": db})).create_key("faults", 100_000)[0]


def totals(db: str) -> dict:
    with sqlite3.connect(db) as conn:
        days = " + ".join(f"r{d}" for d in DAYS)
        month = conn.execute(f"SELECT key_id, requests, charged, {days} FROM months").fetchall()
        return {"month": {k: (r, c) for k, r, c, _ in month}, "days": {k: d for k, _, _, d in month},
                "integrity": conn.execute("PRAGMA integrity_check").fetchone()[0]}


def test_dynamodb_meter_going_away_is_503_then_recovers(tmp_path):
    need_data()
    port = free_port()

    def table_with_key(endpoint, record=None):
        import boto3

        from chalicelib.store import DynamoStore
        client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        DynamoStore.create_table(client, TABLE)
        meter = metering.Meter(DynamoStore(TABLE, client=client), settings_module.load({}))
        if record:  # the same key record as before the outage
            meter.store.add_key(record)
            return meter, record
        return meter, meter.create_key("outage", 100, key="tc_" + "k" * 43)[1]
    # the key stays in the server's memory throughout, so the outage meets the frame's write (a key
    # looked up while the store is down is a 503 too: tests/test_store.py)
    env = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "TINTCAM_METER_STORE": "dynamodb",
           "TINTCAM_METER_TABLE": TABLE, "TINTCAM_KEY_CACHE_S": "120"}
    with chalice_local(env=env) as (base, proc):
        with moto_server(port) as (endpoint, _):
            key = "tc_" + "k" * 43
            meter, record = table_with_key(endpoint)
            ok = requests.post(base + "/v1/tint", data=read("Tom_Cruise_avp_2014_4.jpg"),
                               headers={**HEADERS, "x-api-key": key}, timeout=60)
            assert ok.status_code == 200
        down = requests.post(base + "/v1/tint", data=read("Tom_Cruise_avp_2014_4.jpg"),
                             headers={**HEADERS, "x-api-key": key}, timeout=60)
        assert down.status_code == 503 and down.json()["code"] == "meter_unavailable"
        assert int(down.headers["Retry-After"]) > 0 and proc.poll() is None
        with moto_server(port) as (endpoint, _):  # the store is back (a fresh one: moto keeps no data)
            meter, record = table_with_key(endpoint, record)
            back = requests.post(base + "/v1/tint", data=read("Tom_Cruise_avp_2014_4.jpg"),
                                 headers={**HEADERS, "x-api-key": key}, timeout=60)
            assert back.status_code == 200
            assert meter.usage(record)["frames_charged"] == 1
    outcomes = [line["outcome"] for line in frame_log_lines(proc.log_path, record.key_id)]
    assert outcomes == ["counted", "unavailable", "counted"]


@pytest.mark.parametrize("fault", ["missing", "corrupt", "detector missing"])
def test_model_missing_or_corrupt_is_503_without_a_crash_loop(tmp_path, fault):
    """The landmark model or (third case) the face detector's model missing or corrupt: /health says so
    (503, not a 200 that a load balancer would trust) and frames are 503, never a crash loop."""
    need_data()
    model = tmp_path / "shape_predictor_68_face_landmarks.dat"
    if fault == "corrupt":
        model.write_bytes(os.urandom(200_000))
    if fault == "detector missing":  # the landmark model alone, without BlazeFace's files beside it
        from chalicelib import faces, shape_model
        converted = shape_model.ensure_converted(faces.resolve_model_path("", layer_root="/nonexistent"))
        model = tmp_path / faces.MODEL_FILE
        shutil.copy(converted, model)
        fault = "missing"
    db, key = sqlite_store(tmp_path)
    with chalice_local(env={"TINTCAM_MODEL_PATH": str(model), "TINTCAM_DB": db}) as (base, proc):
        health = requests.get(base + "/health", timeout=30)
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert fault in health.json()["model"]["error"]
        for _ in range(3):
            resp = requests.post(base + "/v1/tint", data=read("Tom_Cruise_avp_2014_4.jpg"),
                                 headers={**HEADERS, "x-api-key": key}, timeout=60)
            assert resp.status_code == 503 and resp.json()["code"] == "model_unavailable"
            assert fault in resp.json()["message"] and int(resp.headers["Retry-After"]) > 0
        assert proc.poll() is None
        usage = requests.get(base + "/v1/usage", headers={"x-api-key": key}, timeout=30).json()
        assert usage["frames_charged"] == 0 and usage["frames_not_charged"] == 3


def test_slow_client_does_not_block_others(tmp_path):
    need_data()
    db, key = sqlite_store(tmp_path)
    photo = read("Tom_Cruise_avp_2014_4.jpg")
    with chalice_local(env={"TINTCAM_DB": db}) as (base, proc):
        port = int(base.rsplit(":", 1)[1])
        slow = socket.create_connection(("127.0.0.1", port))
        head = (f"POST /v1/tint HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nAccept: image/jpeg\r\n"
                f"x-api-key: {key}\r\nContent-Length: {len(photo)}\r\n\r\n").encode()
        slow.sendall(head + photo[:1000])  # ... and then nothing for a while
        started = time.monotonic()
        for _ in range(3):
            resp = requests.post(base + "/v1/tint", data=photo, headers={**HEADERS, "x-api-key": key}, timeout=30)
            assert resp.status_code == 200
        assert time.monotonic() - started < 20
        for i in range(1000, len(photo), 20_000):  # the slow client finishes, in dribbles
            slow.sendall(photo[i:i + 20_000])
            time.sleep(0.05)
        slow.settimeout(30)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += slow.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200")
        slow.close()
        abandoned = socket.create_connection(("127.0.0.1", port))
        abandoned.sendall(head + photo[:500])
        abandoned.close()  # a client that gives up half way
        assert requests.post(base + "/v1/tint", data=photo, headers={**HEADERS, "x-api-key": key},
                             timeout=30).status_code == 200
        assert proc.poll() is None


def test_killed_mid_request_leaves_no_half_written_usage(tmp_path):
    need_data()
    db, key = sqlite_store(tmp_path)
    photo = read("2008_007676.jpg")
    with chalice_local(env={"TINTCAM_DB": db}) as (base, proc):
        def send(_):
            try:
                return requests.post(base + "/v1/tint?min_face=40", data=photo,
                                     headers={**HEADERS, "x-api-key": key}, timeout=30).status_code
            except requests.RequestException:
                return None
        with ThreadPoolExecutor(max_workers=6) as pool:
            futures = [pool.submit(send, i) for i in range(60)]
            time.sleep(1.5)
            proc.send_signal(signal.SIGKILL)  # no clean-up, mid-request
            statuses = [f.result() for f in futures]
    answered = sum(s == 200 for s in statuses)
    assert 0 < answered < 60
    state = totals(db)
    assert state["integrity"] == "ok"
    (key_id, (requests_counted, charged)), = state["month"].items()
    assert state["days"][key_id] == requests_counted  # the day's figures moved with the month's, in one write
    assert answered <= requests_counted <= answered + 6  # at most the frames in flight when it died
    # a frame's log line is written after its count and before its answer: every answered frame has one,
    # and no line exists for a frame that was not counted
    logged = [line for line in frame_log_lines(proc.log_path, key_id) if line["outcome"] == "counted"]
    assert answered <= len(logged) <= requests_counted
    assert sum(line["charged"] for line in logged) <= charged
    with chalice_local(env={"TINTCAM_DB": db}) as (base, _):  # a new process carries on from there
        assert requests.post(base + "/v1/tint", data=photo, headers={**HEADERS, "x-api-key": key},
                             timeout=30).status_code == 200
    assert totals(db)["month"][key_id][0] == requests_counted + 1
