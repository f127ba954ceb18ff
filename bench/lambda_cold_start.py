"""Cold start and peak memory of the real Lambda artefacts, run the way Lambda runs them: built by
layers/build.py, unpacked as Lambda lays them out, started under awslambdaric with a loopback Runtime API,
metering into DynamoDB on a moto_server (never AWS). Prints the size of each part too.

    .venv/bin/python bench/lambda_cold_start.py [--stage prod] [--runs 3]
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from layers import build  # noqa: E402
from tests.conftest import FACES  # noqa: E402
from tests.lambda_runtime import api_gateway_event, folder_size, lambda_function, peak_memory_mb, unpack  # noqa: E402
from tests.servers import AWS_TEST_ENV, moto_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes to start")
    args = parser.parse_args()
    import boto3

    from chalicelib import metering
    from chalicelib import settings as settings_module
    from chalicelib.store import DynamoStore
    build.build(args.stage)
    photo = (FACES / "Tom_Cruise_avp_2014_4.jpg").read_bytes()
    colds, peaks = [], []
    with tempfile.TemporaryDirectory() as tmp, moto_server() as (endpoint, _):
        folders = unpack(build.BUILD / args.stage, pathlib.Path(tmp))
        task, opt = folder_size(folders["task"]), folder_size(folders["opt"])  # before Python writes caches
        dynamo = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        DynamoStore.create_table(dynamo, "meter")
        meter = metering.Meter(DynamoStore("meter", client=dynamo), settings_module.load({}))
        key, _ = meter.create_key("cold start", 1000)
        env = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": endpoint, "TINTCAM_METER_STORE": "dynamodb",
               "TINTCAM_METER_TABLE": "meter", "TINTCAM_STATE_SECRET": "benchmark"}
        event = api_gateway_event("POST", "/v1/tint", photo, {"Content-Type": "image/jpeg", "Accept": "image/jpeg"},
                                  api_key=key)
        for _ in range(args.runs):
            with lambda_function(folders, env) as (api, proc, started):
                answer = api.invoke(event)
                assert answer["statusCode"] == 200, answer
                colds.append(api.first_answer_at - started)
                peaks.append(peak_memory_mb(proc.pid))
    print(f"unpacked: function {task / 1e6:.1f} MB + layers {opt / 1e6:.1f} MB = {(task + opt) / 1e6:.1f} MB "
          "of Lambda's 250 MB")
    print(f"cold start under awslambdaric (process start to first tinted answer), {args.runs} runs: "
          f"median {statistics.median(colds):.2f} s, best {min(colds):.2f} s")
    print(f"peak memory (VmHWM): {max(peaks):.0f} MB; configured Lambda memory 1769 MB (one full vCPU)")


if __name__ == "__main__":
    main()
