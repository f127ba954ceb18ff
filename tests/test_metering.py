"""Keys, quotas, idempotency and usage through a real `chalice local`, and the admin command."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from chalicelib import billing, metering
from chalicelib import settings as settings_module
from tests.conftest import admin_create_key, frame_log_lines, need_data, read, run_admin
from tests.servers import AWS_TEST_ENV, chalice_local, moto_server

FRAME_HEADERS = {"Content-Type": "image/jpeg", "Accept": "image/jpeg"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    need_data()
    db = str(tmp_path_factory.mktemp("meter") / "meter.sqlite3")
    return {"TINTCAM_DB": db, "TINTCAM_DB_BUSY_TIMEOUT_MS": "300"}


def admin(env, *args, extra_env=None) -> subprocess.CompletedProcess:
    return run_admin({**env, **(extra_env or {})}, *args)


def create_key(env, customer="acme", quota=1000) -> tuple[str, str]:
    return admin_create_key(env, customer, quota)


@pytest.fixture(scope="module")
def api(env):
    with chalice_local(env=env) as (base, proc):
        yield base, proc


def tint(base, key=None, body=None, **headers):
    h = dict(FRAME_HEADERS, **headers)
    if key:
        h["x-api-key"] = key
    return requests.post(base + "/v1/tint", data=body if body is not None else read("Tom_Cruise_avp_2014_4.jpg"),
                         headers=h, timeout=60)


def usage(base, key):
    resp = requests.get(base + "/v1/usage", headers={"x-api-key": key}, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_missing_unknown_and_revoked_keys(api, env):
    base, _ = api
    resp = tint(base)
    assert resp.status_code == 401 and resp.json()["code"] == "missing_api_key"
    resp = tint(base, key="tc_" + "x" * 43)
    assert resp.status_code == 403 and resp.json()["code"] == "invalid_api_key"
    resp = tint(base, key="odd key with spaces & ünïcödé"[:20].encode("utf-8").decode("latin-1"))
    assert resp.status_code == 403
    assert requests.get(base + "/v1/usage", timeout=30).status_code == 401


def test_a_revoked_key_stops_working_within_the_key_cache_time(api, env):
    """The server trusts a key record it read for key_cache_s (5 s by default): a key revoked by the
    admin command (another process) is refused at the latest that long after the server last read it."""
    base, _ = api
    key, key_id = create_key(env, "soon revoked")
    last_read = time.monotonic()  # the server reads the key during this request, or not at all before
    assert tint(base, key).status_code == 200
    out = admin(env, "revoke", key_id)
    assert out.returncode == 0 and "revoked" in out.stdout
    while requests.get(base + "/v1/usage", headers={"x-api-key": key}, timeout=30).status_code == 200:
        assert time.monotonic() - last_read < settings_module.get().key_cache_s + 0.5, "revoked key still works"
        time.sleep(0.1)
    resp = tint(base, key)
    assert resp.status_code == 403 and "revoked" in resp.json()["message"]


def test_key_records_are_read_once_per_cache_time(tmp_path):
    clock = [1000.0]
    store = metering.open_store(settings_module.load({"TINTCAM_DB": str(tmp_path / "m.sqlite3")}))
    reads = []
    find_key = store.find_key
    store.find_key = lambda digest: reads.append(digest) or find_key(digest)
    server = metering.Meter(store, settings_module.load({"TINTCAM_KEY_CACHE_S": "5"}), clock=lambda: clock[0])
    admin_meter = metering.Meter(store, settings_module.load({}))
    key, record = admin_meter.create_key("cached", 10)
    for _ in range(20):
        assert server.authenticate(key) == record
    assert len(reads) == 1
    admin_meter.revoke(record.key_id)  # revoked in the store by another process
    clock[0] += 4.9
    assert server.authenticate(key) == record  # still trusted from memory ...
    clock[0] += 0.1
    with pytest.raises(metering.InvalidApiKey, match="revoked"):  # ... and refused once key_cache_s is over
        server.authenticate(key)
    assert len(reads) == 2
    uncached = metering.Meter(store, settings_module.load({"TINTCAM_KEY_CACHE_S": "0"}))
    with pytest.raises(metering.InvalidApiKey):
        uncached.authenticate(key)
    with pytest.raises(metering.InvalidApiKey):
        uncached.authenticate(key)
    assert len(reads) == 4  # key_cache_s=0 reads the key for every request


def test_frames_are_counted_charged_only_with_faces(api, env):
    base, proc = api
    key, key_id = create_key(env, "counting", quota=100)
    before = usage(base, key)
    assert before["frames_charged"] == 0 and before["quota_remaining"] == 100
    resp = tint(base, key)
    assert resp.status_code == 200 and resp.headers["X-Quota-Remaining"] == "99"
    dogs = tint(base, key, body=read("dogs.jpg"))
    assert dogs.status_code == 200 and dogs.headers["X-Faces"] == "0"
    bad = tint(base, key, body=b"not a jpeg")
    assert bad.status_code == 400
    bad_param = requests.post(base + "/v1/tint?intensity=7", data=read("dogs.jpg"),
                              headers={**FRAME_HEADERS, "x-api-key": key}, timeout=30)
    assert bad_param.status_code == 400
    after = usage(base, key)
    assert after["frames_charged"] == 1
    assert after["frames_not_charged"] == 3  # no face, undecodable, bad parameter
    assert after["requests"] == 4 and after["faces"] == 1
    assert after["bytes_in"] == 2 * len(read("dogs.jpg")) + len(read("Tom_Cruise_avp_2014_4.jpg")) + 10
    assert after["bytes_out"] == len(resp.content) + len(dogs.content)
    assert after["server_seconds"] > 0
    assert after["charge_usd"] == pytest.approx(settings_module.get().price_per_1000_frames / 1000)
    assert after["quota_remaining"] == 99
    # each frame left one JSON log line (CloudWatch's embedded metric format), adding up to the same usage
    lines = frame_log_lines(proc.log_path, key_id)
    assert sorted(line["status"] for line in lines) == [200, 200, 400, 400]
    assert len(lines) == after["requests"]
    for field, figure in (("charged", "frames_charged"), ("faces", "faces"), ("bytes_in", "bytes_in"),
                          ("bytes_out", "bytes_out")):
        assert sum(line[field] for line in lines) == after[figure], field
    assert sum(line["server_ms"] for line in lines) == pytest.approx(after["server_seconds"] * 1000, abs=1)
    metrics, = {json.dumps(line["_aws"]["CloudWatchMetrics"]) for line in lines}
    assert json.loads(metrics) == [{"Namespace": "tintcam", "Dimensions": [["route"]], "Metrics": [
        {"Name": "charged", "Unit": "Count"}, {"Name": "server_ms", "Unit": "Milliseconds"},
        {"Name": "bytes_out", "Unit": "Bytes"}]}]  # by route, no key dimension
    assert all(line["route"] == "/v1/tint" and line["outcome"] == "counted" for line in lines)
    daily = [r for r in csv.DictReader(io.StringIO(admin(env, "report", "--daily", "--csv").stdout))
             if r["key_id"] == key_id]
    assert [(r["day"], r["requests"], r["frames_charged"]) for r in daily] == [
        (metering.utcnow().strftime("%Y-%m-%d"), "4", "1")]


def test_patch_answers_are_metered_with_their_own_status_and_bytes(api, env):
    base, proc = api
    key, key_id = create_key(env, "patches", quota=100)
    h = {"Content-Type": "image/jpeg", "Accept": "image/webp", "x-api-key": key}
    lips = requests.post(base + "/v1/tint?answer=patch", data=read("Tom_Cruise_avp_2014_4.jpg"), headers=h,
                         timeout=60)
    none = requests.post(base + "/v1/tint?answer=patch", data=read("dogs.jpg"), headers=h, timeout=60)
    assert (lips.status_code, none.status_code) == (200, 204)
    lines = frame_log_lines(proc.log_path, key_id)
    assert [(line["status"], line["charged"], line["bytes_out"]) for line in lines] == [
        (200, 1, len(lips.content)), (204, 0, 0)]
    u = usage(base, key)
    assert (u["frames_charged"], u["frames_not_charged"], u["bytes_out"]) == (1, 1, len(lips.content))


def test_idempotency_key_answers_again_but_counts_once(api, env):
    base, _ = api
    key, _ = create_key(env, "retrying", quota=100)
    first = tint(base, key, **{"Idempotency-Key": "frame-0001"})
    again = tint(base, key, **{"Idempotency-Key": "frame-0001"})
    assert first.status_code == again.status_code == 200 and len(again.content) > 1000
    other = tint(base, key, **{"Idempotency-Key": "frame-0002"})
    assert other.status_code == 200
    assert usage(base, key)["frames_charged"] == 2
    bad = tint(base, key, **{"Idempotency-Key": "x" * 200})
    assert bad.status_code == 400 and bad.json()["param"] == "Idempotency-Key"


def test_quota_spent_is_429_with_retry_after_and_never_exceeded(api, env):
    base, _ = api
    key, _ = create_key(env, "small plan", quota=6)

    def send(i):
        resp = tint(base, key)
        return resp.status_code, resp.headers.get("Retry-After"), resp.headers.get("Content-Type")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(send, range(12)))
    statuses = [r[0] for r in results]
    assert statuses.count(200) == 6 and statuses.count(429) == 6
    refused = [r for r in results if r[0] == 429]
    assert all(int(r[1]) > 0 and r[2] == "application/json" for r in refused)
    u = usage(base, key)
    assert u["frames_charged"] == 6 and u["quota_remaining"] == 0
    resp = tint(base, key)
    assert resp.status_code == 429 and resp.json()["code"] == "quota_exceeded"
    assert int(resp.headers["Retry-After"]) == metering.seconds_to_reset(metering.utcnow()) or \
        abs(int(resp.headers["Retry-After"]) - metering.seconds_to_reset(metering.utcnow())) < 5


def test_store_unavailable_is_503_and_not_served_unmetered(api, env):
    base, proc = api
    key, _ = create_key(env, "outage", quota=100)
    assert tint(base, key).status_code == 200
    blocker = sqlite3.connect(env["TINTCAM_DB"], isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database
    try:
        resp = tint(base, key)
        assert resp.status_code == 503 and resp.json()["code"] == "meter_unavailable"
        assert int(resp.headers["Retry-After"]) > 0
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert proc.poll() is None
    assert tint(base, key).status_code == 200  # recovers by itself
    assert usage(base, key)["frames_charged"] == 2  # the refused frame was not counted


def test_keys_never_appear_in_logs(api, env):
    base, proc = api
    key, _ = create_key(env, "secret keeper")
    tint(base, key)
    tint(base, key + "x")
    output = open(proc.log_path).read()
    assert "/v1/tint" in output
    assert key not in output and key[3:20] not in output


def test_admin_list_and_report(env):
    key, key_id = create_key(env, "reporting", quota=50)
    listing = admin(env, "list")
    assert listing.returncode == 0 and key_id in listing.stdout and "reporting" in listing.stdout
    assert key not in listing.stdout
    report = admin(env, "report", "--csv")
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    assert key_id in {r["key_id"] for r in rows}
    assert set(rows[0]) >= {"frames_charged", "charge_usd", "aws_cost_usd", "server_seconds"}
    table = admin(env, "report", "--month", "2026-01")
    assert table.returncode == 0 and "usage for 2026-01" in table.stdout
    assert admin(env, "revoke", "key_nope").returncode == 1
    assert admin(env, "create", "--customer", "x", "--quota", "0").returncode == 1
    # the database holds hashes only
    with sqlite3.connect(env["TINTCAM_DB"]) as db:
        dump = "\n".join(db.iterdump())
    assert key not in dump and metering.hash_key(key) in dump


def test_admin_creates_and_disables_api_gateway_keys(env, tmp_path):
    import boto3
    with moto_server() as (endpoint, _):
        aws = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": endpoint}
        gw = boto3.client("apigateway", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        plan = gw.create_usage_plan(name="tintcam-test", throttle={"rateLimit": 20, "burstLimit": 40})["id"]
        key, key_id = admin_create_key({**env, **aws}, "gateway", 10, "--usage-plan-id", plan)
        keys = gw.get_api_keys(includeValues=True)["items"]
        created = next(k for k in keys if k.get("value") == key)
        assert created["enabled"] is True
        assert created["id"] in {k["id"] for k in gw.get_usage_plan_keys(usagePlanId=plan)["items"]}
        assert admin(env, "revoke", key_id, extra_env=aws).returncode == 0
        assert gw.get_api_key(apiKey=created["id"])["enabled"] is False


def test_price_list_rounds_lambda_duration_up():
    prices = billing.PriceList(price_per_frame=0.0005, memory_mb=1024, gb_second=0.0000166667,
                               lambda_request=0.0000002, rest_request=0.0000035, http_request=0.000001)
    assert billing.billed_ms(12.01) == 13 and billing.billed_ms(0.2) == 1
    assert prices.aws_cost(1000, 1) == pytest.approx(0.0000166667 + 0.0000037)
    assert prices.charge(1000) == pytest.approx(0.5)
    http = billing.PriceList.from_settings(settings_module.load({"TINTCAM_FRONT_DOOR": "http"}))
    assert http.aws_cost(0, 1_000_000) == pytest.approx(0.20 + 1.00)  # Lambda's and the HTTP API's fees


def test_all_in_cost_has_a_line_for_each_part_of_the_bill():
    prices = billing.PriceList.from_settings(settings_module.load({"TINTCAM_LAMBDA_MEMORY_MB": "1024"}))
    cost = prices.all_in(requests=1000, billed_ms=30_000, write_units=1000, read_units=10, bytes_out=30_000_000,
                         log_bytes=500_000, front_door="http")
    assert cost.lambda_compute == pytest.approx(30 * 0.0000166667)
    assert (cost.lambda_requests, cost.front_door) == pytest.approx((0.0002, 0.001))
    assert (cost.dynamodb_writes, cost.dynamodb_reads) == pytest.approx((0.000625, 0.00000125))
    assert (cost.data_out, cost.logs) == pytest.approx((0.0027, 0.00025))
    assert cost.total == pytest.approx(0.0005 + 0.0002 + 0.001 + 0.000625 + 0.00000125 + 0.0027 + 0.00025, rel=1e-3)
    assert prices.all_in(1000, 0, 0, 0, 0, 0, front_door="rest").front_door == pytest.approx(0.0035)


def test_a_metered_frame_costs_at_most_one_write_and_one_read_unit():
    """Through the meter (key check, quota, write) on DynamoDB: the issue's targets per frame, in the
    worst case (the key read for every frame) and with the key cache (read once)."""
    import boto3

    from chalicelib.pipeline import FrameResult
    from chalicelib.store import DynamoStore
    answer = FrameResult(width=640, height=480, faces=[object()], body=b"\xff" * 900, timings_ms={"all": 12.0})
    with moto_server() as (endpoint, _):
        for key_cache_s, reads, reads_with_key in (("0", 10, 20), ("5", 1, 10)):
            client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
            DynamoStore.create_table(client, f"units-{key_cache_s}")
            meter = metering.Meter(DynamoStore(f"units-{key_cache_s}", client=client),
                                   settings_module.load({"TINTCAM_KEY_CACHE_S": key_cache_s}))
            key, _ = meter.create_key("units", 1000)

            def frame(idempotency_key=None):
                return meter.run(meter.authenticate(key), idempotency_key, "/v1/tint", 30_000, lambda: answer)[1]
            meter.store.capacity.reset()
            assert [frame().quota_remaining for _ in range(10)][-1] == 990
            used = meter.store.capacity.snapshot()
            assert used.write_units / 10 <= 1.5 and used.read_units / 10 <= 1  # targets: 1.5 writes, 1 read
            assert (used.write_units, used.read_units) == (10, reads)
            meter.store.capacity.reset()
            assert [frame(f"retry-{n}").quota_remaining for n in range(10)][-1] == 980
            used = meter.store.capacity.snapshot()
            assert used.write_units / 10 <= 4.5  # the target with an Idempotency-Key
            assert (used.write_units, used.read_units) == (40, reads_with_key)


def test_a_frame_that_fails_unexpectedly_is_recorded_and_logged_not_charged(tmp_path, capsys):
    """A bug in the processing (an answer of 500) still leaves the frame in the month's requests and one
    log line, uncharged: no request goes uncounted."""
    settings = settings_module.load({"TINTCAM_DB": str(tmp_path / "m.sqlite3"), "TINTCAM_METRICS_NAMESPACE": ""})
    meter = metering.Meter(metering.open_store(settings), settings)
    _, record = meter.create_key("buggy", 10)

    def work():
        raise RuntimeError("a bug in a processing step")

    with pytest.raises(RuntimeError):
        meter.run(record, None, "/v1/tint", 1234, work)
    usage_now = meter.usage(record)
    assert (usage_now["requests"], usage_now["frames_charged"], usage_now["frames_not_charged"]) == (1, 0, 1)
    assert usage_now["bytes_in"] == 1234
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"outcome"' in line]
    assert [(line["status"], line["charged"], line["outcome"]) for line in lines] == [(500, 0, "counted")]
