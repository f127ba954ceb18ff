"""The one deploy command, end to end against moto_server (never AWS): layers from S3, the function, the
meter table, the front door (REST API with key-required routes and its usage plan, or an HTTP API), the
camera site in a private bucket behind CloudFront; a second run updating in place; then tear-down.

moto 5.1 accepts an origin's OriginAccessControlId without returning it and does not enforce Block Public
Access, so the deploy runs with every AWS request it sends recorded on the way out (botocore's
`before-send` event) and the tests check what was sent as well as what moto stored."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import boto3
import pytest
import requests
from PIL import Image

from layers import build, front_door, site
from tests.conftest import ROOT, admin_create_key, decode, need_data, read, run_admin
from tests.lambda_runtime import HttpApiStandIn, lambda_function, unpack
from tests.servers import AWS_TEST_ENV, moto_server

# layers/deploy.py as a user runs it, with each request botocore sends appended to a JSON-lines file (and,
# where the test names one in TINTCAM_TEST_APP_CHANGE, a script run first that changes the app's routes).
RECORDING_DEPLOY = """
import json, os, runpy, sys
import botocore.session
log = open(sys.argv.pop(1), "a")
def record(request, event_name, **_):
    body = request.body
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) and len(body) < 200_000 else None
    log.write(json.dumps({"operation": event_name.split(".")[-1], "method": request.method, "url": request.url,
                          "body": text}) + "\\n")
    log.flush()
_init = botocore.session.Session.__init__
def init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.register("before-send", record)
botocore.session.Session.__init__ = init
if os.environ.get("TINTCAM_TEST_APP_CHANGE"):
    runpy.run_path(os.environ["TINTCAM_TEST_APP_CHANGE"])
sys.argv[0] = "layers/deploy.py"
runpy.run_path("layers/deploy.py", run_name="__main__")
"""
# The app a later release might be: a route dropped, a method dropped, a route no longer key-free, a new
# nested route, a binary type dropped. The deploy reads the app's route table from this same module.
APP_CHANGE = """
import app
routes = app.app.routes
del routes["/v1/landmarks"]
del routes["/v1/tint"]["OPTIONS"]
routes["/health"]["GET"].api_key_required = True
@app.app.route("/v2/beta/{name}", methods=["GET"], api_key_required=True)
def beta(name):
    return {"name": name}
app.app.api.binary_types.remove("audio/basic")
"""


class Sent:
    """The requests one deploy run sent, by operation name."""

    def __init__(self, path) -> None:
        self.requests = [json.loads(line) for line in open(path)] if os.path.exists(path) else []

    def __call__(self, operation: str) -> list[dict]:
        return [r for r in self.requests if r["operation"] == operation]

    def operations(self) -> list[str]:
        return [r["operation"] for r in self.requests]

    def xml(self, operation: str) -> ET.Element:
        request, = self(operation)
        return ET.fromstring(request["body"])


def text(root: ET.Element, path: str) -> str | None:
    """The text of the first element at ``path`` (tags without their XML namespace)."""
    node = root.find(".//" + "/".join("{*}" + tag for tag in path.split("/")))
    return None if node is None else node.text


def run(env, tmp_path, *args) -> tuple[subprocess.CompletedProcess, Sent]:
    log = tmp_path / f"sent-{len(list(tmp_path.glob('sent-*')))}.jsonl"
    out = subprocess.run([sys.executable, "-c", RECORDING_DEPLOY, str(log), *args], cwd=ROOT,
                         env={**os.environ, **env}, capture_output=True, text=True, timeout=900)
    return out, Sent(log)


def aws_client(endpoint: str, name: str):
    return boto3.client(name, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


@pytest.fixture()
def moto(tmp_path):
    need_data()
    with moto_server() as (endpoint, _):
        env = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": endpoint, "TINTCAM_DEPLOY_STATE_DIR": str(tmp_path / "state")}
        yield endpoint, env, lambda name: aws_client(endpoint, name)


def deployed_state(tmp_path, stage: str) -> dict:
    return json.loads((tmp_path / "state" / f"tintcam-{stage}.json").read_text())


def sent_function_settings(sent: Sent) -> dict:
    """The function's settings as the deploy sent them (CreateFunction or UpdateFunctionConfiguration)."""
    request, = sent("CreateFunction") or sent("UpdateFunctionConfiguration")
    return json.loads(request["body"])


def rest_api_routes(gw, api_id: str, function_arn: str) -> dict[str, dict[str, bool]]:
    """The REST API's resources and methods as {path: {method: apiKeyRequired}}; every method must be a
    Lambda proxy integration to the function."""
    routes = {}
    for resource in gw.get_resources(restApiId=api_id)["items"]:
        routes[resource["path"]] = {}
        for method in resource.get("resourceMethods") or {}:
            found = gw.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=method)
            assert found["methodIntegration"]["type"] == "AWS_PROXY"
            assert found["methodIntegration"]["uri"].endswith(f"/functions/{function_arn}/invocations")
            routes[resource["path"]][method] = found["apiKeyRequired"]
    return routes


def printed_admin_environment(stdout: str) -> dict[str, str]:
    """The variables of the admin command line the deploy prints at the end."""
    line, = [line for line in stdout.splitlines() if "chalicelib.admin create" in line]
    return dict(word.split("=", 1) for word in line.split(" .venv/bin/python")[0].split())


def with_parents(routes: dict[str, dict[str, bool]]) -> dict[str, dict[str, bool]]:
    """A route table with the resources its paths need ("/", "/v1", ...) added, without methods."""
    full = {}
    for path in routes:
        parts = path.strip("/").split("/")
        full.update({"/" + "/".join(parts[:i]): {} for i in range(len(parts))})
    return {"/": {}, **full, **routes}


def check_site(client, sent: Sent, state: dict, region: str = "us-east-1") -> dict:
    """The camera site: a private bucket, readable only by its CloudFront distribution, served over HTTPS.
    Returns the distribution's config as moto stored it."""
    cloudfront, s3 = client("cloudfront"), client("s3")
    bucket = state["site_bucket"]
    dist = cloudfront.get_distribution(Id=state["distribution_id"])["Distribution"]
    config = dist["DistributionConfig"]
    assert state["site_url"] in (f"https://{dist['DomainName']}", f"https://{state.get('domain')}")
    assert re.fullmatch(r"[a-z0-9]+\.cloudfront\.net", dist["DomainName"])
    assert config["Enabled"] and config["DefaultRootObject"] == "index.html"
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["CachePolicyId"] == site.CACHING_OPTIMIZED  # a managed policy, not legacy TTL settings
    origin, = config["Origins"]["Items"]
    assert origin["DomainName"] == f"{bucket}.s3.{region}.amazonaws.com"  # the REST endpoint, not the website
    # what the deploy sent (moto does not return an origin's OAC id)
    create_or_update = sent("CreateDistribution") or sent("UpdateDistribution")
    assert create_or_update, sent.operations()
    body = ET.fromstring(create_or_update[-1]["body"])
    assert text(body, "Origins/Items/Origin/OriginAccessControlId") == state["oac_id"]
    assert text(body, "Origins/Items/Origin/DomainName") == f"{bucket}.s3.{region}.amazonaws.com"
    assert text(body, "Origins/Items/Origin/S3OriginConfig/OriginAccessIdentity") is None  # OAC, no legacy OAI
    assert text(body, "DefaultCacheBehavior/ViewerProtocolPolicy") == "redirect-to-https"
    assert text(body, "DefaultRootObject") == "index.html"
    oac = cloudfront.get_origin_access_control(Id=state["oac_id"])["OriginAccessControl"]
    oac = oac["OriginAccessControlConfig"]
    assert (oac["SigningProtocol"], oac["SigningBehavior"], oac["OriginAccessControlOriginType"]) == \
        ("sigv4", "always", "s3")

    # the bucket: all four Block Public Access settings on (sent, and stored), no website, one reader
    block = {"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"}
    sent_block = ET.fromstring(sent("PutPublicAccessBlock")[-1]["body"])
    assert {tag: text(sent_block, tag) for tag in block} == dict.fromkeys(block, "true")
    stored = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert stored == dict.fromkeys(block, True)
    assert not sent("PutBucketWebsite")
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchWebsiteConfiguration"):
        s3.get_bucket_website(Bucket=bucket)
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    statement, = policy["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"} and statement["Effect"] == "Allow"
    assert statement["Action"] == "s3:GetObject" and statement["Resource"] == f"arn:aws:s3:::{bucket}/*"
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceArn": dist["ARN"]}}

    # the files, with config.json pointing at the API and HTML never cached stale
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {"index.html", "app.js", "stream.js", "stats.js", "style.css", "config.json"} <= keys
    config_json = s3.get_object(Bucket=bucket, Key="config.json")
    assert json.loads(config_json["Body"].read()) == {"apiUrl": state["api_url"]}  # no key in the hosted config
    assert config_json["CacheControl"] == "no-cache"
    assert s3.head_object(Bucket=bucket, Key="index.html")["CacheControl"] == "no-cache"
    app_js = s3.head_object(Bucket=bucket, Key="app.js")
    assert app_js["ContentType"] == "text/javascript" and "max-age=0" in app_js["CacheControl"]
    return config


def test_deploy_creates_everything_and_delete_removes_it(moto, tmp_path):
    endpoint, env, client = moto
    out, sent = run(env, tmp_path, "--stage", "prod")
    assert out.returncode == 0, out.stderr[-3000:]
    state = deployed_state(tmp_path, "prod")
    assert re.fullmatch(r"https://[a-z0-9]+\.cloudfront\.net", state["site_url"])
    assert f"camera site: {state['site_url']}/ " in out.stdout and f"API:         {state['api_url']} " in out.stdout
    assert state["front_door"] == "rest"

    lam, gw, s3, ddb = client("lambda"), client("apigateway"), client("s3"), client("dynamodb")
    fn = lam.get_function(FunctionName="tintcam-prod")["Configuration"]
    assert fn["Runtime"] == "python3.11" and fn["Handler"] == "app.app"
    assert fn["MemorySize"] == 1769 and fn["Timeout"] == 30
    assert [layer["Arn"] for layer in fn["Layers"]] == [state["deps_layer"], state["model_layer"]]
    env_vars = fn["Environment"]["Variables"]
    assert env_vars["TINTCAM_METER_STORE"] == "dynamodb" and env_vars["TINTCAM_METER_TABLE"] == "tintcam-prod-meter"
    assert env_vars["TINTCAM_SITE_ORIGINS"].split(",") == [state["site_url"]]  # the https site may call the API
    assert len(env_vars["TINTCAM_STATE_SECRET"]) == 64
    assert env_vars["TINTCAM_FRONT_DOOR"] == "rest"  # the admin report prices its requests at REST's fee
    function_settings = sent_function_settings(sent)
    assert function_settings["Environment"]["Variables"]["TINTCAM_FRONT_DOOR"] == "rest"
    # JSON logs without Lambda's START/END/REPORT lines; the frame lines (read as INFO) kept
    assert function_settings["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO",
                                                  "SystemLogLevel": "WARN"}
    assert (f"TINTCAM_METER_STORE=dynamodb TINTCAM_METER_TABLE=tintcam-prod-meter TINTCAM_USAGE_PLAN_ID="
            f"{state['usage_plan_id']} TINTCAM_FRONT_DOOR=rest .venv/bin/python -m chalicelib.admin create") in out.stdout
    # the distribution existed before the function was given its environment
    operations = sent.operations()
    assert operations.index("CreateDistribution") < operations.index("CreateFunction")
    model, = lam.list_layer_versions(LayerName="tintcam-prod-model")["LayerVersions"]
    assert model["LayerVersionArn"] == state["model_layer"] and "landmark model sha256" in model["Description"]
    assert any(o["Key"].startswith("layers/tintcam-prod-model-")
               for o in s3.list_objects_v2(Bucket=state["artifact_bucket"])["Contents"])  # published from S3
    assert "tintcam-prod-meter" in ddb.list_tables()["TableNames"]
    api_id = state["api_id"]
    assert set(gw.get_rest_api(restApiId=api_id)["binaryMediaTypes"]) >= {"image/jpeg", "image/png", "image/webp"}
    assert rest_api_routes(gw, api_id, fn["FunctionArn"]) == with_parents(front_door.rest_routes())
    resources = {r["path"]: r for r in gw.get_resources(restApiId=api_id)["items"]}
    assert {"/v1/tint", "/v1/landmarks", "/v1/usage", "/health"} <= set(resources)
    tint_post = gw.get_method(restApiId=api_id, resourceId=resources["/v1/tint"]["id"], httpMethod="POST")
    assert tint_post["apiKeyRequired"] is True
    assert tint_post["methodIntegration"]["type"] == "AWS_PROXY"
    health = gw.get_method(restApiId=api_id, resourceId=resources["/health"]["id"], httpMethod="GET")
    assert health["apiKeyRequired"] is False
    plan = gw.get_usage_plan(usagePlanId=state["usage_plan_id"])
    assert plan["apiStages"] == [{"apiId": api_id, "stage": "api"}]
    config = check_site(client, sent, state)
    assert config["ViewerCertificate"]["CloudFrontDefaultCertificate"] is True
    assert config["Aliases"]["Quantity"] == 0
    assert not sent("CreateInvalidation")  # nothing is cached yet on a first deploy

    # one admin command gives a customer a working key: hashed in DynamoDB, API Gateway key in the plan
    key, _ = admin_create_key({**env, "TINTCAM_METER_STORE": "dynamodb", "TINTCAM_METER_TABLE": "tintcam-prod-meter",
                               "TINTCAM_USAGE_PLAN_ID": state["usage_plan_id"]}, "deployed", 10)
    assert key in {k["value"] for k in gw.get_api_keys(includeValues=True)["items"]}
    assert len(gw.get_usage_plan_keys(usagePlanId=state["usage_plan_id"])["items"]) == 1

    # a second run updates in place, here adding a custom domain with its ACM certificate; and an API made
    # before the app answered WebP patches gets that binary type
    gw.update_rest_api(restApiId=api_id, patchOperations=[{"op": "remove", "path": "/binaryMediaTypes/image~1webp"}])
    assert "image/webp" not in gw.get_rest_api(restApiId=api_id)["binaryMediaTypes"]
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-tintcam"
    again, sent = run(env, tmp_path, "--stage", "prod", "--domain", "cam.example.com", "--certificate-arn", certificate)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "no API Gateway key" not in again.stdout  # the customer's key is in the usage plan
    assert "image/webp" in gw.get_rest_api(restApiId=api_id)["binaryMediaTypes"]
    # the app's routes have not changed: the API's are left as they are, and deployed again
    assert not {"CreateResource", "DeleteResource", "PutMethod", "DeleteMethod", "PutIntegration"} & set(
        sent.operations())
    assert len(sent("CreateDeployment")) == 1
    assert sent_function_settings(sent)["LoggingConfig"]["SystemLogLevel"] == "WARN"  # kept on an update
    state2 = deployed_state(tmp_path, "prod")
    assert state2["api_id"] == api_id and state2["distribution_id"] == state["distribution_id"]
    assert state2["oac_id"] == state["oac_id"] and state2["site_url"] == "https://cam.example.com"
    assert "camera site: https://cam.example.com/ " in again.stdout
    assert f"point cam.example.com (DNS CNAME or alias) at {state['site_url'][8:]}" in again.stdout
    assert not sent("CreateDistribution") and not sent("CreateOriginAccessControl")
    assert len(client("cloudfront").list_distributions()["DistributionList"]["Items"]) == 1
    config = check_site(client, sent, state2)
    assert config["Aliases"]["Items"] == ["cam.example.com"]
    assert config["ViewerCertificate"]["ACMCertificateArn"] == certificate
    assert config["ViewerCertificate"]["SSLSupportMethod"] == "sni-only"
    origins = lam.get_function(FunctionName="tintcam-prod")["Configuration"]["Environment"]["Variables"][
        "TINTCAM_SITE_ORIGINS"].split(",")
    assert origins == ["https://cam.example.com", state["site_url"]]
    invalidation, = sent("CreateInvalidation")  # the redeploy drops the edge's cached copies, after the upload
    assert text(ET.fromstring(invalidation["body"]), "Paths/Items/Path") == "/*"
    assert sent.operations().index("CreateInvalidation") > max(
        i for i, r in enumerate(sent.requests) if r["operation"] == "PutObject" and r["url"].endswith("/config.json"))
    assert len(lam.list_layer_versions(LayerName="tintcam-prod-model")["LayerVersions"]) == 1

    wrong = run(env, tmp_path, "--stage", "prod", "--domain", "cam.example.com", "--certificate-arn",
                "arn:aws:acm:eu-west-1:123456789012:certificate/x")[0]
    assert wrong.returncode != 0 and "CloudFront needs an ACM certificate in us-east-1" in wrong.stderr

    gone, sent = run(env, tmp_path, "--stage", "prod", "--delete")
    assert gone.returncode == 0, gone.stderr[-3000:]
    # disabled, waited for, then deleted; then the OAC; then the bucket
    operations = sent.operations()
    disable = ET.fromstring(sent("UpdateDistribution")[-1]["body"])
    assert text(disable, "Enabled") == "false"
    assert operations.index("UpdateDistribution") < operations.index("GetDistribution") < operations.index(
        "DeleteDistribution") < operations.index("DeleteOriginAccessControl") < operations.index("DeleteBucket")
    assert not client("cloudfront").list_distributions()["DistributionList"].get("Items")
    assert not client("cloudfront").list_origin_access_controls()["OriginAccessControlList"].get("Items")
    assert "tintcam-prod" not in {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert not lam.list_layer_versions(LayerName="tintcam-prod-model")["LayerVersions"]
    assert state["site_bucket"] not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert "tintcam-prod-meter" in ddb.list_tables()["TableNames"]  # usage data kept unless --delete-data


def test_redeploy_keeps_the_rest_api_in_step_with_the_app(moto, tmp_path):
    """Routes added to or dropped from the Chalice app since the REST API was made reach it on the next
    run: resources, methods, integrations, api_key_required and binary types follow the app, and the stage
    gets a new deployment."""
    endpoint, env, client = moto
    out, _ = run(env, tmp_path, "--stage", "dev")
    assert out.returncode == 0, out.stderr[-3000:]
    state = deployed_state(tmp_path, "dev")
    gw, api_id, function_arn = client("apigateway"), state["api_id"], state["function"]
    before = front_door.rest_routes()
    assert rest_api_routes(gw, api_id, function_arn) == with_parents(before)
    # a binary type someone added by hand (or an older app had) goes too
    gw.update_rest_api(restApiId=api_id, patchOperations=[{"op": "add", "path": "/binaryMediaTypes/text~1stale"}])

    change = tmp_path / "app_change.py"
    change.write_text(APP_CHANGE)
    again, sent = run({**env, "TINTCAM_TEST_APP_CHANGE": str(change)}, tmp_path, "--stage", "dev")
    assert again.returncode == 0, again.stderr[-3000:]
    assert deployed_state(tmp_path, "dev")["api_id"] == api_id  # the same API, changed in place
    after = {path: dict(methods) for path, methods in before.items() if path != "/v1/landmarks"}
    del after["/v1/tint"]["OPTIONS"]
    after["/health"]["GET"] = True
    after["/v2/beta/{name}"] = {"GET": True}
    routes = rest_api_routes(gw, api_id, function_arn)
    assert routes == with_parents(after)
    assert "/v1/landmarks" not in routes and "OPTIONS" not in routes["/v1/tint"] and routes["/health"] == {"GET": True}
    assert routes["/v2/beta/{name}"] == {"GET": True} and routes["/v2/beta"] == routes["/v2"] == {}
    # the API's methods were listed as AWS lists them only when asked (embed=methods); only what changed
    # was touched: the method whose key requirement changed was made again
    assert all("embed=methods" in r["url"] for r in sent("GetResources"))
    assert [json.loads(r["body"])["pathPart"] for r in sent("CreateResource")] == ["v2", "beta", "{name}"]
    assert len(sent("DeleteResource")) == 1 and len(sent("DeleteMethod")) == 2  # /v1/tint OPTIONS, /health GET
    assert len(sent("PutMethod")) == len(sent("PutIntegration")) == 2  # /health GET, /v2/beta/{name} GET
    binary = set(gw.get_rest_api(restApiId=api_id)["binaryMediaTypes"])
    assert "audio/basic" not in binary and "text/stale" not in binary and {"image/jpeg", "image/webp"} <= binary
    operations = sent.operations()  # all changed first, then deployed to the stage
    changes = {"CreateResource", "DeleteResource", "PutMethod", "DeleteMethod", "PutIntegration", "UpdateRestApi"}
    assert max(i for i, op in enumerate(operations) if op in changes) < operations.index("CreateDeployment")
    assert len(gw.get_deployments(restApiId=api_id)["items"]) == 2


def test_http_front_door_serves_frames_through_its_routes(moto, tmp_path):
    """--front-door http: an HTTP API with payload format 1.0 and one route per Chalice route; then the
    real artefacts, with the environment the deploy gave the function, answer real frames sent through
    those routes (an HTTP API data plane on loopback, as moto stores HTTP APIs but does not serve them)."""
    endpoint, env, client = moto
    out, sent = run(env, tmp_path, "--stage", "dev", "--front-door", "http")
    assert out.returncode == 0, out.stderr[-3000:]
    state = deployed_state(tmp_path, "dev")
    v2, gw, lam = client("apigatewayv2"), client("apigateway"), client("lambda")
    api_id = state["http_api_id"]
    assert state["front_door"] == "http" and state["api_url"] == f"https://{api_id}.execute-api.us-east-1.amazonaws.com"
    assert f"API:         {state['api_url']}  (API Gateway HTTP API" in out.stdout
    assert "TINTCAM_USAGE_PLAN_ID" not in out.stdout  # no usage plan: the app checks the keys
    assert v2.get_api(ApiId=api_id)["ProtocolType"] == "HTTP"
    assert not gw.get_rest_apis()["items"] and not gw.get_usage_plans()["items"]
    fn = lam.get_function(FunctionName="tintcam-dev")["Configuration"]
    integration, = v2.get_integrations(ApiId=api_id)["Items"]
    assert integration["IntegrationType"] == "AWS_PROXY" and integration["IntegrationUri"] == fn["FunctionArn"]
    assert integration["PayloadFormatVersion"] == "1.0"
    assert json.loads(sent("CreateIntegration")[0]["body"])["payloadFormatVersion"] == "1.0"
    routes = v2.get_routes(ApiId=api_id)["Items"]
    route_keys = {r["RouteKey"] for r in routes}
    assert route_keys == front_door.http_route_keys() and len(routes) == len(route_keys)
    assert {"POST /v1/tint", "OPTIONS /v1/tint", "POST /v1/landmarks", "GET /v1/usage", "GET /health"} <= route_keys
    assert {r["Target"] for r in routes} == {f"integrations/{integration['IntegrationId']}"}
    stage, = v2.get_stages(ApiId=api_id)["Items"]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == front_door.HTTP_STAGE_THROTTLE["ThrottlingRateLimit"]
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == front_door.HTTP_STAGE_THROTTLE["ThrottlingBurstLimit"]
    permission = json.loads(lam.get_policy(FunctionName="tintcam-dev")["Policy"])["Statement"]
    assert any(api_id in json.dumps(p.get("Condition")) for p in permission)  # API Gateway may invoke it
    check_site(client, sent, state)

    # the function and the admin command both know the front door: the report prices requests at its fee
    assert fn["Environment"]["Variables"]["TINTCAM_FRONT_DOOR"] == "http"
    admin_env = printed_admin_environment(out.stdout)
    assert admin_env == {"TINTCAM_METER_STORE": "dynamodb", "TINTCAM_METER_TABLE": "tintcam-dev-meter",
                         "TINTCAM_FRONT_DOOR": "http"}
    key, key_id = admin_create_key({**env, **admin_env}, "http front door", 10)
    folders = unpack(build.BUILD / "dev", tmp_path / "lambda")
    # as Lambda runs it with the LoggingConfig the deploy sent: JSON log format, the application log level
    logging_config = sent_function_settings(sent)["LoggingConfig"]
    assert logging_config == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN"}
    function_env = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": endpoint, **fn["Environment"]["Variables"],
                    "AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": logging_config["ApplicationLogLevel"]}
    photo = read("Tom_Cruise_avp_2014_4.jpg")
    jpeg = {"Content-Type": "image/jpeg", "Accept": "image/jpeg"}
    with lambda_function(folders, function_env) as (runtime, process, _), HttpApiStandIn(route_keys, runtime) as api:
        frame = requests.post(api.url + "/v1/tint?color=8E2043", data=photo, headers={**jpeg, "x-api-key": key},
                              timeout=120)
        assert frame.status_code == 200, frame.text[:300]
        assert frame.headers["Content-Type"] == "image/jpeg" and frame.headers["X-Faces"] == "1"
        tinted = decode(frame.content)  # the binary answer, intact
        assert tinted.shape == decode(photo).shape and frame.headers["X-Quota-Remaining"] == "9"
        patch = requests.post(api.url + "/v1/tint?answer=patch&color=8E2043", data=photo, timeout=60,
                              headers={"Content-Type": "image/jpeg", "Accept": "image/webp", "x-api-key": key})
        assert patch.status_code == 200 and patch.headers["Content-Type"] == "image/webp"
        _, _, width, height = map(int, patch.headers["X-Patch-Box"].split(","))
        lips = Image.open(io.BytesIO(patch.content))  # the WebP patch, intact
        assert lips.format == "WEBP" and lips.size == (width, height) and lips.mode == "RGBA"
        points = requests.post(api.url + "/v1/landmarks", data=photo, headers={"Content-Type": "image/jpeg",
                                                                              "x-api-key": key}, timeout=60)
        assert points.status_code == 200 and len(points.json()["faces"][0]["landmarks"]) == 68
        # the app's own key check is the gate: no key, a wrong key
        none = requests.post(api.url + "/v1/tint", data=photo, headers=jpeg, timeout=60)
        assert none.status_code == 401 and none.json()["code"] == "missing_api_key"
        wrong = requests.post(api.url + "/v1/tint", data=photo, headers={**jpeg, "x-api-key": "tc_" + "q" * 43},
                              timeout=60)
        assert wrong.status_code == 403 and wrong.json()["code"] == "invalid_api_key"
        # the https camera site may call it (CORS preflight through the gateway); another origin may not
        preflight = requests.options(api.url + "/v1/tint", headers={
            "Origin": state["site_url"], "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key"}, timeout=60)
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == state["site_url"]
        other = requests.options(api.url + "/v1/tint", headers={"Origin": "https://evil.example",
                                                                "Access-Control-Request-Method": "POST"}, timeout=60)
        assert other.status_code == 403 and "Access-Control-Allow-Origin" not in other.headers
        assert requests.get(api.url + "/v1/tint", timeout=60).status_code == 404  # no such route at the gateway
        usage = requests.get(api.url + "/v1/usage", headers={"x-api-key": key}, timeout=60).json()
        assert usage["frames_charged"] == usage["requests"] == 3  # the three frames, counted in DynamoDB
        # why payload format 1.0: a 2.0 event (what a function URL sends) is one Chalice cannot route
        answer = runtime.invoke({"version": "2.0", "routeKey": "POST /v1/tint", "rawPath": "/v1/tint",
                                 "rawQueryString": "", "headers": {"content-type": "image/jpeg", "x-api-key": key},
                                 "requestContext": {"http": {"method": "POST", "path": "/v1/tint"},
                                                    "stage": "$default", "routeKey": "POST /v1/tint"},
                                 "body": "", "isBase64Encoded": True})
        assert answer["statusCode"] == 500 and not answer.get("isBase64Encoded")  # no requestContext.resourcePath
    # in the JSON log format each frame is still one JSON line of its own, without a "level" (Lambda reads it
    # as INFO, which the application log level lets through) and not wrapped by the runtime's log formatter
    output = process.stdout.read().splitlines()
    frames = [json.loads(line) for line in output if '"outcome"' in line]
    assert len(frames) == 3 and {f["key_id"] for f in frames} == {key_id} and {f["charged"] for f in frames} == {1}
    assert all("level" not in f and "message" not in f for f in frames)
    assert sorted(f["route"] for f in frames) == ["/v1/landmarks", "/v1/tint", "/v1/tint"]
    # the admin report with the printed variables prices the frames' requests at the HTTP API's fee
    report = {door: next(row for row in csv.DictReader(io.StringIO(run_admin(
        {**env, **admin_env, "TINTCAM_FRONT_DOOR": door}, "report", "--csv").stdout)) if row["key_id"] == key_id)
        for door in ("http", "rest")}
    assert int(report["http"]["requests"]) == 3
    saved = float(report["rest"]["aws_cost_usd"]) - float(report["http"]["aws_cost_usd"])
    assert saved == pytest.approx(3 * (3.50 - 1.00) / 1e6, abs=1.1e-6)  # rounded to the micro-dollar

    again, sent = run(env, tmp_path, "--stage", "dev")  # a second run keeps the HTTP API, in place
    assert again.returncode == 0, again.stderr[-3000:]
    assert deployed_state(tmp_path, "dev")["http_api_id"] == api_id
    assert not sent("CreateApi") and not sent("CreateRoute") and not sent("DeleteRoute")
    assert {r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"]} == route_keys

    back, sent = run(env, tmp_path, "--stage", "dev", "--front-door", "rest")  # switching: the other one goes
    assert back.returncode == 0, back.stderr[-3000:]
    assert not v2.get_apis()["Items"] and len(gw.get_rest_apis()["items"]) == 1
    assert sent_function_settings(sent)["Environment"]["Variables"]["TINTCAM_FRONT_DOOR"] == "rest"
    assert printed_admin_environment(back.stdout)["TINTCAM_FRONT_DOOR"] == "rest"
    # the key made behind the HTTP API has no API Gateway key (only its hash is stored): the REST API will
    # refuse it, and the deploy says so, naming it
    warning = next(line for line in back.stdout.splitlines() if "no API Gateway key" in line)
    assert key_id in warning and key not in back.stdout

    gone, _ = run(env, tmp_path, "--stage", "dev", "--delete")
    assert gone.returncode == 0, gone.stderr[-3000:]
    assert not gw.get_rest_apis()["items"] and not v2.get_apis()["Items"]


def _rest_api_with_stage(gw, name: str, stage: str = "api") -> str:
    """A REST API with one deployed GET method (what a usage plan can point at)."""
    api_id = gw.create_rest_api(name=name)["id"]
    root = gw.get_resources(restApiId=api_id)["items"][0]["id"]
    gw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    gw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    gw.create_deployment(restApiId=api_id, stageName=stage)
    return api_id


def test_removing_the_rest_front_door_detaches_its_usage_plan_first(moto):
    """AWS refuses DeleteUsagePlan while API stages are associated with the plan ("Cannot delete Usage Plan
    ... because there are API Stages associated with it"; moto does not): the stage is removed from the plan
    first, so --delete and a switch to --front-door http work on AWS."""
    _, _, client = moto
    gw = client("apigateway")
    api_id = _rest_api_with_stage(gw, "tintcam-test")
    state = {"api_id": api_id}
    state["usage_plan_id"] = front_door.ensure_usage_plan(gw, "tintcam-test", api_id, "api", state)
    checker = client("apigateway")

    def as_aws_does(params, **_):
        if checker.get_usage_plan(usagePlanId=params["usagePlanId"]).get("apiStages"):
            raise AssertionError("Cannot delete Usage Plan because there are API Stages associated with it")
    gw.meta.events.register("before-parameter-build.api-gateway.DeleteUsagePlan", as_aws_does)

    front_door.remove_rest({"apigateway": gw}, state)
    assert not gw.get_usage_plans()["items"] and not gw.get_rest_apis()["items"]
    assert "usage_plan_id" not in state and "api_id" not in state


def test_a_remade_rest_api_joins_the_recorded_usage_plan(moto):
    """The REST API deleted by hand is made again on the next run; the usage plan the state records (with
    the customers' keys in it) must then cover the new API's stage, or every key is refused with 403."""
    _, _, client = moto
    gw = client("apigateway")
    first = _rest_api_with_stage(gw, "tintcam-test")
    state = {"api_id": first}
    plan_id = state["usage_plan_id"] = front_door.ensure_usage_plan(gw, "tintcam-test", first, "api", state)
    second = _rest_api_with_stage(gw, "tintcam-test")
    assert front_door.ensure_usage_plan(gw, "tintcam-test", second, "api", state) == plan_id
    stages = gw.get_usage_plan(usagePlanId=plan_id)["apiStages"]
    assert {"apiId": second, "stage": "api"} in stages
    assert front_door.ensure_usage_plan(gw, "tintcam-test", second, "api", state) == plan_id  # no change now
    assert gw.get_usage_plan(usagePlanId=plan_id)["apiStages"] == stages


class _RoleNotYetAssumable:
    """The Lambda client as a first deploy meets it on AWS: a role made seconds ago is not yet visible to
    Lambda (IAM is eventually consistent), so the first CreateFunction is refused (moto accepts it at once)."""

    def __init__(self, lam, refusals: int) -> None:
        self._lam, self.refusals, self.calls = lam, refusals, 0

    def __getattr__(self, name):
        return getattr(self._lam, name)

    def get_waiter(self, name):
        self.waited = getattr(self, "waited", []) + [name]
        return self._lam.get_waiter(name)

    def create_function(self, **kwargs):
        self.calls += 1
        if self.calls <= self.refusals:
            raise self._lam.exceptions.InvalidParameterValueException(
                {"Error": {"Code": "InvalidParameterValueException",
                           "Message": "The role defined for the function cannot be assumed by Lambda."}},
                "CreateFunction")
        return self._lam.create_function(**kwargs)


def _function_parts(client, tmp_path):
    """What deploy_function needs in moto: the artefact bucket, the role and a code zip."""
    import zipfile

    from layers import deploy
    s3 = client("s3")
    s3.create_bucket(Bucket="artefacts")
    role = deploy.ensure_role(client("iam"), "tintcam-test-role")
    code = tmp_path / "fn.zip"
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("app.py", "app = None\n")
    return s3, role, code


def test_the_function_is_created_once_its_new_role_can_be_assumed(moto, tmp_path, monkeypatch):
    from layers import deploy
    monkeypatch.setattr(deploy, "ROLE_RETRY_S", 0.01)
    _, _, client = moto
    s3, role, code = _function_parts(client, tmp_path)
    lam = _RoleNotYetAssumable(client("lambda"), refusals=2)
    arn = deploy.deploy_function({"s3": s3, "lambda": lam}, "tintcam-test", role, "artefacts", code, "0" * 64,
                                 [], {}, {"A": "1"})
    assert lam.calls == 3 and arn == client("lambda").get_function(FunctionName="tintcam-test")[
        "Configuration"]["FunctionArn"]
    # a new function is Pending for a while (invocations fail): the deploy returns once it is Active; an
    # update returns once the new code and settings are in place
    assert lam.waited == ["function_active_v2"]
    lam.waited = []
    deploy.deploy_function({"s3": s3, "lambda": lam}, "tintcam-test", role, "artefacts", code, "2" * 64, [], {}, {})
    assert lam.waited == ["function_updated_v2", "function_updated_v2"]
    # any other refusal is not waited out
    other = _RoleNotYetAssumable(client("lambda"), refusals=1)
    other.create_function = lambda **_: (_ for _ in ()).throw(other._lam.exceptions.InvalidParameterValueException(
        {"Error": {"Code": "InvalidParameterValueException", "Message": "Unsupported runtime"}}, "CreateFunction"))
    with pytest.raises(other._lam.exceptions.InvalidParameterValueException):
        deploy.deploy_function({"s3": s3, "lambda": other}, "tintcam-other", role, "artefacts", code, "1" * 64,
                               [], {}, {})


def test_a_round_trip_to_the_http_api_keeps_the_customers_keys_working_on_the_rest_api(moto, tmp_path):
    """REST -> HTTP -> REST: the customers' API Gateway keys are in the REST API's usage plan; the switch to
    the HTTP API keeps that plan (its stage detached), and the way back gives it the new REST API's stage,
    so API Gateway still accepts every key. (Deleting the plan left the new REST API a plan without keys:
    every customer refused with 403.)"""
    from layers import deploy
    _, _, client = moto
    s3, role, code = _function_parts(client, tmp_path)
    aws = {name: client(name) for name in ("s3", "lambda", "apigateway", "apigatewayv2")}
    arn = deploy.deploy_function(aws, "tintcam-test", role, "artefacts", code, "0" * 64, [], {}, {})
    gw, state = aws["apigateway"], {}
    front_door.deploy("rest", aws, "tintcam-test", arn, "us-east-1", "api", state)
    plan_id = state["usage_plan_id"]
    customer = gw.create_api_key(name="customer", enabled=True)["id"]
    gw.create_usage_plan_key(usagePlanId=plan_id, keyId=customer, keyType="API_KEY")

    front_door.deploy("http", aws, "tintcam-test", arn, "us-east-1", "api", state)
    assert not gw.get_rest_apis()["items"] and "api_id" not in state
    assert state["usage_plan_id"] == plan_id and not gw.get_usage_plan(usagePlanId=plan_id).get("apiStages")
    assert "TINTCAM_USAGE_PLAN_ID=" + plan_id in deploy.admin_environment({**state, "table": "t"})  # new keys join it

    front_door.deploy("rest", aws, "tintcam-test", arn, "us-east-1", "api", state)
    assert state["usage_plan_id"] == plan_id and len(gw.get_usage_plans()["items"]) == 1
    assert gw.get_usage_plan(usagePlanId=plan_id)["apiStages"] == [{"apiId": state["api_id"], "stage": "api"}]
    assert [k["id"] for k in gw.get_usage_plan_keys(usagePlanId=plan_id)["items"]] == [customer]

    front_door.remove(aws, state)  # --delete: the plan goes too
    assert not gw.get_usage_plans()["items"] and not gw.get_rest_apis()["items"]


def test_api_gateways_own_refusals_carry_cors_headers_for_the_camera_site(moto, tmp_path):
    """Behind the REST API a missing or unknown key is refused by API Gateway itself (403), before the app
    and its CORS headers; without CORS headers on those answers the browser hides them, and the camera page
    could only say it cannot reach the API instead of asking for a key. The gateway's 4XX and 5XX answers
    name the site's origin."""
    from layers import deploy
    _, _, client = moto
    s3, role, code = _function_parts(client, tmp_path)
    aws = {name: client(name) for name in ("s3", "lambda", "apigateway", "apigatewayv2")}
    arn = deploy.deploy_function(aws, "tintcam-test", role, "artefacts", code, "0" * 64, [], {}, {})
    state = {}
    front_door.deploy("rest", aws, "tintcam-test", arn, "us-east-1", "api", state,
                      site_origin="https://d111.cloudfront.net")
    gw = aws["apigateway"]
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        headers = gw.get_gateway_response(restApiId=state["api_id"], responseType=kind)["responseParameters"]
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == "'https://d111.cloudfront.net'"
        assert "Retry-After" in headers["gatewayresponse.header.Access-Control-Expose-Headers"]


def test_the_meter_table_is_found_among_more_than_a_page_of_tables(moto):
    """ListTables answers at most 100 names a call: in an account with more tables the meter table may be
    on a later page, and must not be created again (CreateTable would fail: ResourceInUseException)."""
    from chalicelib.store import DynamoStore
    from layers import deploy
    _, _, client = moto
    ddb = client("dynamodb")
    for i in range(100):  # listed before it: it is on the second page
        ddb.create_table(TableName=f"another-{i:03d}", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    DynamoStore.create_table(ddb, "tintcam-prod-meter")
    assert "tintcam-prod-meter" not in ddb.list_tables()["TableNames"]
    deploy.ensure_table(ddb, "tintcam-prod-meter")
    deploy.ensure_table(ddb, "tintcam-new-meter")  # and a missing one is made
    assert ddb.describe_table(TableName="tintcam-new-meter")["Table"]["TableStatus"] == "ACTIVE"


# ------------------------------------------------------------------ list calls read every page
def _zip_bytes(name: str = "layer.txt") -> bytes:
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(name, "x")
    return buffer.getvalue()


def test_delete_empties_buckets_beyond_a_page_and_removes_every_layer_version(moto, tmp_path):
    """`--delete` as a user runs it, of a stage whose site bucket holds more than ListObjectVersions' 1,000
    keys a page (and DeleteObjects' 1,000 a call), whose artefact bucket someone made versioned (old
    versions and a delete marker left), and whose layer has more versions than ListLayerVersions' 50 a
    page: every object and version is deleted, then both buckets, and no layer version is left."""
    _, env, client = moto
    s3, lam = client("s3"), client("lambda")
    site_bucket, artifacts = "tintcam-prod-site-123456789012", "tintcam-prod-artifacts-123456789012"
    s3.create_bucket(Bucket=site_bucket)
    s3.create_bucket(Bucket=artifacts)
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=site_bucket, Key=f"frames/{i:05d}.txt", Body=b"."), range(1003)))
    s3.put_bucket_versioning(Bucket=artifacts, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two"):
        s3.put_object(Bucket=artifacts, Key="layers/tintcam-prod-model-0.zip", Body=body)
    s3.put_object(Bucket=artifacts, Key="functions/old.zip", Body=b"old")
    s3.delete_object(Bucket=artifacts, Key="functions/old.zip")  # a delete marker over a version
    assert len(s3.list_objects_v2(Bucket=site_bucket)["Contents"]) == 1000  # more than one page
    for i in range(53):
        lam.publish_layer_version(LayerName="tintcam-prod-model", Description=f"deploy {i}",
                                  Content={"ZipFile": _zip_bytes()}, CompatibleRuntimes=["python3.11"])
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "tintcam-prod.json").write_text(json.dumps(
        {"site_bucket": site_bucket, "artifact_bucket": artifacts, "state_secret": "ab" * 32}))

    gone, sent = run(env, tmp_path, "--stage", "prod", "--delete")
    assert gone.returncode == 0, gone.stderr[-3000:]
    buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    assert site_bucket not in buckets and artifacts not in buckets
    # the site bucket in two pages and two batches (1,000 keys and 3); the versioned one: 4 entries
    # (two versions of one key, a version and a delete marker of another), each named with its version id
    site_lists = [r for r in sent("ListObjectVersions") if f"/{site_bucket}" in r["url"]]
    assert len(site_lists) == 2 and "key-marker=" in site_lists[1]["url"]
    batches = [ET.fromstring(r["body"]) for r in sent("DeleteObjects")]
    counts = [len(batch.findall("{*}Object")) for batch in batches]
    assert counts == [1000, 3, 4]
    assert all(text(obj, "VersionId") for obj in batches[2].findall("{*}Object"))
    assert not lam.list_layer_versions(LayerName="tintcam-prod-model")["LayerVersions"]
    assert len(sent("DeleteLayerVersion")) == 53


def _pages(operation: str, items: list, first_params: dict, marker: str, wrap) -> list[tuple]:
    """A list answer split in two pages as AWS sends them: (operation, response, expected params) for a
    botocore Stubber; the second call must carry the first page's marker."""
    return [(operation, wrap(items[:2], marker), first_params),
            (operation, wrap(items[2:], None), {**first_params, "Marker": marker})]


def _stubbed(client, pages: list[tuple]):
    from botocore.stub import Stubber
    stubber = Stubber(client)
    for operation, response, params in pages:
        stubber.add_response(operation, response, params)
    stubber.activate()
    return stubber


def test_a_layer_version_on_a_later_page_is_found_not_published_again(moto):
    """moto answers ListLayerVersions in one page, whatever its size; Lambda sends 50 versions a page and a
    NextMarker. Here Lambda's second page is played back (a botocore Stubber on this one client, with the
    versions moto published): the deploy asks for it with the first page's marker, finds the version of
    the identical zip there and publishes nothing (a stubbed client refuses any call not stubbed)."""
    from layers import deploy
    _, _, client = moto
    lam = client("lambda")
    for i in range(4):
        lam.publish_layer_version(LayerName="tintcam-prod-model", Description=f"model sha256 {i:016d}",
                                  Content={"ZipFile": _zip_bytes()})
    versions = lam.list_layer_versions(LayerName="tintcam-prod-model")["LayerVersions"]  # newest first
    wanted = next(v for v in versions if v["Description"].endswith(f"{0:016d}"))
    assert versions.index(wanted) >= 2  # on the second page below
    pages = _pages("list_layer_versions", versions, {"LayerName": "tintcam-prod-model"}, "page-2",
                   lambda items, marker: {"LayerVersions": items, **({"NextMarker": marker} if marker else {})})
    stubbed = client("lambda")
    stubber = _stubbed(stubbed, pages)
    arn = deploy.publish_layer({"lambda": stubbed}, "artefacts", None, "0" * 64, "tintcam-prod-model", "model")
    assert arn == wanted["LayerVersionArn"]
    stubber.assert_no_pending_responses()  # both pages were asked for


def test_a_lost_state_file_finds_the_distribution_and_oac_on_a_later_page(moto):
    """With the state file gone, the site's distribution and OAC are found by comment and name among the
    account's others, on any page (CloudFront: 100 a page): not made a second time. moto answers both lists
    in one page, so first against moto (found among others, updated in place), then with CloudFront's
    paging played back by a botocore Stubber (moto's own summaries split in two pages): the second page is
    asked for with the first page's NextMarker, and the match found there."""
    _, _, client = moto
    cloudfront = client("cloudfront")
    for i in range(3):
        site.ensure_oac(cloudfront, f"another-{i}", {})
        site.ensure_distribution(cloudfront, f"another site {i}", f"bucket-{i}", "us-east-1",
                                 site.ensure_oac(cloudfront, f"another-{i}", {}), {}, None, None)
    oac_id = site.ensure_oac(cloudfront, "tintcam-prod-site", {})
    dist = site.ensure_distribution(cloudfront, "tintcam-prod camera site", "site-bucket", "us-east-1", oac_id, {},
                                    None, None)
    assert not dist["existed"]
    assert site.ensure_oac(cloudfront, "tintcam-prod-site", {}) == oac_id  # state lost: found, not made
    again = site.ensure_distribution(cloudfront, "tintcam-prod camera site", "site-bucket", "us-east-1", oac_id, {},
                                     None, None)
    assert again["existed"] and again["id"] == dist["id"]
    assert len(cloudfront.list_distributions()["DistributionList"]["Items"]) == 4
    assert len(cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]) == 4

    # moto's summaries lack the Staging flag CloudFront sends (required in the answer's shape)
    distributions = [{"Staging": False, **d} for d in cloudfront.list_distributions()["DistributionList"]["Items"]]
    oacs = cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    assert distributions[-1]["Id"] == dist["id"] and oacs[-1]["Id"] == oac_id  # the last: on the second page

    def distribution_page(items, marker):
        return {"DistributionList": {"Marker": "", "MaxItems": 2, "IsTruncated": bool(marker), "Quantity": len(items),
                                     "Items": items, **({"NextMarker": marker} if marker else {})}}

    def oac_page(items, marker):
        return {"OriginAccessControlList": {"Marker": "", "MaxItems": 2, "IsTruncated": bool(marker),
                                            "Quantity": len(items), "Items": items,
                                            **({"NextMarker": marker} if marker else {})}}
    stubbed = client("cloudfront")
    stubber = _stubbed(stubbed, _pages("list_distributions", distributions, {}, "E2NEXT", distribution_page)
                       + _pages("list_origin_access_controls", oacs, {}, "OACNEXT", oac_page))
    assert site.find_distribution(stubbed, "tintcam-prod camera site") == dist["id"]
    assert site.find_oac(stubbed, "tintcam-prod-site") == oac_id
    stubber.assert_no_pending_responses()
