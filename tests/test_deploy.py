"""The one deploy command, end to end against moto_server (never AWS): layers from S3, the function, the
meter table, the REST API with key-required routes, the usage plan, the camera site; then tear-down."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3

from tests.conftest import ROOT, admin_create_key, need_data
from tests.servers import AWS_TEST_ENV, moto_server


def run(env, *args):
    return subprocess.run([sys.executable, "layers/deploy.py", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=900)


def test_deploy_creates_everything_and_delete_removes_it(tmp_path):
    need_data()
    with moto_server() as (endpoint, _):
        env = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": endpoint, "TINTCAM_DEPLOY_STATE_DIR": str(tmp_path / "state")}
        out = run(env, "--stage", "prod")
        assert out.returncode == 0, out.stderr[-3000:]
        state = json.loads((tmp_path / "state" / "tintcam-prod.json").read_text())
        assert f"camera site: {state['site_url']}/" in out.stdout and f"API:         {state['api_url']}" in out.stdout

        def client(name):
            return boto3.client(name, endpoint_url=endpoint, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")
        lam, gw, s3, ddb = client("lambda"), client("apigateway"), client("s3"), client("dynamodb")
        fn = lam.get_function(FunctionName="tintcam-prod")["Configuration"]
        assert fn["Runtime"] == "python3.11" and fn["Handler"] == "app.app"
        assert fn["MemorySize"] == 1769 and fn["Timeout"] == 30
        assert [layer["Arn"] for layer in fn["Layers"]] == [state["deps_layer"], state["model_layer"]]
        env_vars = fn["Environment"]["Variables"]
        assert env_vars["TINTCAM_METER_STORE"] == "dynamodb" and env_vars["TINTCAM_METER_TABLE"] == "tintcam-prod-meter"
        assert env_vars["TINTCAM_SITE_ORIGINS"].split(",")[0] == state["site_url"]
        assert len(env_vars["TINTCAM_STATE_SECRET"]) == 64
        model, = lam.list_layer_versions(LayerName="tintcam-prod-model")["LayerVersions"]
        assert model["LayerVersionArn"] == state["model_layer"] and "landmark model sha256" in model["Description"]
        assert any(o["Key"].startswith("layers/tintcam-prod-model-")
                   for o in s3.list_objects_v2(Bucket=state["artifact_bucket"])["Contents"])  # published from S3
        assert "tintcam-prod-meter" in ddb.list_tables()["TableNames"]
        api_id = state["api_id"]
        assert set(gw.get_rest_api(restApiId=api_id)["binaryMediaTypes"]) >= {"image/jpeg", "image/png"}
        resources = {r["path"]: r for r in gw.get_resources(restApiId=api_id)["items"]}
        assert {"/v1/tint", "/v1/landmarks", "/v1/usage", "/health"} <= set(resources)
        tint_post = gw.get_method(restApiId=api_id, resourceId=resources["/v1/tint"]["id"], httpMethod="POST")
        assert tint_post["apiKeyRequired"] is True
        assert tint_post["methodIntegration"]["type"] == "AWS_PROXY"
        health = gw.get_method(restApiId=api_id, resourceId=resources["/health"]["id"], httpMethod="GET")
        assert health["apiKeyRequired"] is False
        plan = gw.get_usage_plan(usagePlanId=state["usage_plan_id"])
        assert plan["apiStages"] == [{"apiId": api_id, "stage": "api"}]
        site = {o["Key"] for o in s3.list_objects_v2(Bucket=state["site_bucket"])["Contents"]}
        assert {"index.html", "app.js", "stream.js", "stats.js", "style.css", "config.json"} <= site
        config = json.loads(s3.get_object(Bucket=state["site_bucket"], Key="config.json")["Body"].read())
        assert config == {"apiUrl": state["api_url"]}  # no key in the hosted config
        assert s3.get_object(Bucket=state["site_bucket"], Key="app.js")["ContentType"] == "text/javascript"

        # one admin command gives a customer a working key: hashed in DynamoDB, API Gateway key in the plan
        key, _ = admin_create_key({**env, "TINTCAM_METER_STORE": "dynamodb", "TINTCAM_METER_TABLE": "tintcam-prod-meter",
                                   "TINTCAM_USAGE_PLAN_ID": state["usage_plan_id"]}, "deployed", 10)
        assert key in {k["value"] for k in gw.get_api_keys(includeValues=True)["items"]}
        assert len(gw.get_usage_plan_keys(usagePlanId=state["usage_plan_id"])["items"]) == 1

        again = run(env, "--stage", "prod")  # a second run updates in place
        assert again.returncode == 0, again.stderr[-3000:]
        assert json.loads((tmp_path / "state" / "tintcam-prod.json").read_text())["api_id"] == api_id
        assert len(lam.list_layer_versions(LayerName="tintcam-prod-model")["LayerVersions"]) == 1

        gone = run(env, "--stage", "prod", "--delete")
        assert gone.returncode == 0, gone.stderr[-3000:]
        assert "tintcam-prod" not in {f["FunctionName"] for f in lam.list_functions()["Functions"]}
        assert not lam.list_layer_versions(LayerName="tintcam-prod-model")["LayerVersions"]
        assert state["site_bucket"] not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert "tintcam-prod-meter" in ddb.list_tables()["TableNames"]  # usage data kept unless --delete-data
