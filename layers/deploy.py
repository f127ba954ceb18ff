"""Deploy tintcam to AWS with one command (or tear it down):

    .venv/bin/python layers/deploy.py --stage prod            (or: make deploy STAGE=prod)
    .venv/bin/python layers/deploy.py --stage prod --front-door http       (the cheaper API Gateway kind)
    .venv/bin/python layers/deploy.py --stage prod --domain cam.example.com --certificate-arn arn:aws:acm:us-east-1:…
    .venv/bin/python layers/deploy.py --stage prod --delete   (remove it; --delete-data also drops usage)

1. builds the artefacts (layers/build.py): the function zip, the dependency layer, the model layer;
2. uploads the layers (the model layer, 62 MB zipped, is over the 50 MB direct-upload limit) to an
   artefact bucket and publishes them from S3 (skipped when that exact zip is already published);
3. creates the DynamoDB meter table if it is missing (on-demand, TTL for idempotency keys);
4. makes the camera site's private bucket and its CloudFront distribution (layers/site.py): Origin
   Access Control, HTTPS only, the bucket readable by that distribution alone;
5. deploys the IAM role with .chalice/policy.json and the function (memory, timeout and environment
   from .chalice/config.json plus both layers, the table, the site's https origin for CORS, the
   state-signing secret and the front door; JSON logs without Lambda's START/END/REPORT lines);
6. puts the front door up (layers/front_door.py): a REST API from the Chalice app's own route table with
   its usage plan (the default), or with --front-door http an HTTP API (payload format 1.0); either way
   a redeploy brings its routes in step with the app's;
7. uploads the camera site with config.json holding the API address; a redeploy invalidates the
   CloudFront cache;
8. prints the site and API URLs; what it made is kept in .chalice/deployed/tintcam-<stage>.json
   (git-ignored), so running it again updates in place (and keeps the front door and domain chosen).

Why boto3 and not `chalice deploy`: the resources Chalice does not make (table, usage plan, site bucket and
distribution, the model layer from S3) need boto3 anyway, and one boto3 path runs unchanged against any
endpoint that speaks the AWS wire protocol (AWS_ENDPOINT_URL), so the tests run this very command end to
end against moto_server; `chalice deploy` imports the API as Swagger 2.0, which moto cannot import. The
SAM template from `chalice package` (layers/build/<stage>/sam.json, checked by cfn-lint) remains for
`sam deploy`.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import secrets
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from layers import build, front_door, site  # noqa: E402
from layers.paging import every  # noqa: E402

DEPLOYED = pathlib.Path(os.environ.get("TINTCAM_DEPLOY_STATE_DIR", ROOT / ".chalice" / "deployed"))


def clients(region: str):
    import boto3
    session = boto3.session.Session(region_name=region)
    return {name: session.client(name) for name in ("s3", "lambda", "dynamodb", "apigateway", "apigatewayv2",
                                                    "cloudfront", "sts", "iam")}


def ensure_bucket(s3, name: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=name)
        return
    except s3.exceptions.ClientError:
        pass
    kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **kwargs)


def ensure_table(dynamodb, table: str) -> None:
    """The meter table, made if missing (asked for by name: ListTables gives only 100 names a call)."""
    from chalicelib.store import DynamoStore
    try:
        dynamodb.describe_table(TableName=table)
    except dynamodb.exceptions.ResourceNotFoundException:
        DynamoStore.create_table(dynamodb, table)


def state_file(stage: str) -> pathlib.Path:
    return DEPLOYED / f"tintcam-{stage}.json"


def load_state(stage: str) -> dict:
    path = state_file(stage)
    return json.loads(path.read_text()) if path.exists() else {}


def save_state(stage: str, state: dict) -> None:
    DEPLOYED.mkdir(parents=True, exist_ok=True)
    path = state_file(stage)
    path.write_text(json.dumps(state, indent=2) + "\n")
    path.chmod(0o600)  # holds the state-signing secret


def stage_config(stage: str) -> dict:
    """The stage's settings from .chalice/config.json (stage values over the top-level ones)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    merged = {k: v for k, v in config.items() if k != "stages"}
    stage_cfg = config.get("stages", {}).get(stage, {})
    env = {**merged.get("environment_variables", {}), **stage_cfg.get("environment_variables", {})}
    merged.update(stage_cfg)
    merged["environment_variables"] = env
    return merged


def ensure_role(iam, name: str) -> str:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "lambda.amazonaws.com"}}]}
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName=name,
                        PolicyDocument=(ROOT / ".chalice" / "policy.json").read_text())
    return arn


def publish_layer(aws, bucket: str, zip_path: pathlib.Path, sha256: str, name: str, description: str) -> str:
    """Publish a layer zip from S3 (no 50 MB direct-upload limit); reuse the version of an identical zip."""
    digest = sha256[:16]
    for version in every(aws["lambda"], "list_layer_versions", "LayerVersions", LayerName=name):  # 50 a page
        if version.get("Description", "").endswith(digest):
            return version["LayerVersionArn"]
    key = f"layers/{name}-{digest}.zip"
    aws["s3"].upload_file(str(zip_path), bucket, key)
    return aws["lambda"].publish_layer_version(
        LayerName=name, Description=f"{description} sha256 {digest}", Content={"S3Bucket": bucket, "S3Key": key},
        CompatibleRuntimes=[build.RUNTIME], CompatibleArchitectures=["x86_64"])["LayerVersionArn"]


# The function's CloudWatch Logs settings. JSON with the system log level at WARN: Lambda then writes none
# of its START/END/REPORT lines (INFO-level system events: about 260 bytes an invocation, $0.00013 per
# 1,000 frames). The application log level stays INFO whatever TINTCAM_LOG_LEVEL says: the app filters its
# own logger itself, and Lambda reads every line without a "level" field (the meter's per-frame JSON line,
# Chalice's plain-text lines) as INFO, so WARN would drop the frame lines and DEBUG would open the Python
# root logger (which the runtime sets to this level) to botocore's wire dumps.
LOGGING_CONFIG = {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN"}


def deploy_function(aws, name: str, role: str, bucket: str, zip_path: pathlib.Path, sha256: str, layers: list[str],
                    cfg: dict, environment: dict) -> str:
    key = f"functions/{name}-{sha256[:16]}.zip"
    aws["s3"].upload_file(str(zip_path), bucket, key)
    settings = {"Role": role, "Handler": "app.app", "Runtime": build.RUNTIME, "Layers": layers,
                "MemorySize": cfg.get("lambda_memory_size", 1769), "Timeout": cfg.get("lambda_timeout", 30),
                "Environment": {"Variables": environment}, "LoggingConfig": LOGGING_CONFIG,
                "Architectures": ["x86_64"]}
    lam = aws["lambda"]
    try:
        lam.get_function(FunctionName=name)
    except lam.exceptions.ResourceNotFoundException:
        arn = _create_function(lam, FunctionName=name, Code={"S3Bucket": bucket, "S3Key": key}, **settings)
        lam.get_waiter("function_active_v2").wait(FunctionName=name)  # Pending: invocations would fail
    else:
        lam.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key=key)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        settings.pop("Architectures")
        arn = lam.update_function_configuration(FunctionName=name, **settings)["FunctionArn"]
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)  # the new settings in place
    if cfg.get("reserved_concurrency"):
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=cfg["reserved_concurrency"])
    return arn


# IAM is eventually consistent: for some seconds after a role is made, Lambda refuses a function that uses it
# ("The role defined for the function cannot be assumed by Lambda"). A first deploy waits that out.
ROLE_RETRY_S = 3.0
ROLE_RETRIES = 20


def _create_function(lam, **settings) -> str:
    for _ in range(ROLE_RETRIES):
        try:
            return lam.create_function(**settings)["FunctionArn"]
        except lam.exceptions.InvalidParameterValueException as exc:
            if "cannot be assumed" not in str(exc):
                raise
            time.sleep(ROLE_RETRY_S)
    return lam.create_function(**settings)["FunctionArn"]


def deploy(stage: str, region: str, front: str = "rest", domain: str | None = None,
           certificate_arn: str | None = None, log=print) -> dict:
    aws = clients(region)
    account = aws["sts"].get_caller_identity()["Account"]
    state = load_state(stage)
    state.setdefault("state_secret", secrets.token_hex(32))
    if domain is None:  # not given: keep the custom domain of an earlier run (--domain '' drops it)
        domain, certificate_arn = state.get("domain"), state.get("certificate_arn")
    name = f"tintcam-{stage}"
    artifacts, site_bucket, table = f"{name}-artifacts-{account}", f"{name}-site-{account}", f"{name}-meter"
    cfg = stage_config(stage)

    manifest = build.build(stage)
    out = build.BUILD / stage
    ensure_bucket(aws["s3"], artifacts, region)
    parts = manifest["parts"]  # the build's own sha256 of each zip: no second read of 100 MB
    model_layer = publish_layer(aws, artifacts, out / "model-layer.zip", parts["model-layer.zip"]["sha256"],
                                f"{name}-model", "68-point landmark model")
    deps_layer = publish_layer(aws, artifacts, out / "layer-deployment.zip", parts["layer-deployment.zip"]["sha256"],
                               f"{name}-deps", "dlib-bin, numpy, Pillow, simplejpeg")
    ensure_table(aws["dynamodb"], table)
    role = ensure_role(aws["iam"], f"{name}-api-handler")

    # The site's distribution first: its https origin goes into the function's CORS origins.
    site.private_bucket(aws["s3"], site_bucket, region)
    oac_id = site.ensure_oac(aws["cloudfront"], f"{name}-site", state)
    dist = site.ensure_distribution(aws["cloudfront"], f"{name} camera site", site_bucket, region, oac_id, state,
                                    domain, certificate_arn)
    site.allow_only_distribution(aws["s3"], site_bucket, dist["arn"])
    site_url = f"https://{domain or dist['domain']}"
    site_origins = [site_url] + ([f"https://{dist['domain']}"] if domain else [])
    origins = site_origins + [o for o in cfg["environment_variables"].get("TINTCAM_SITE_ORIGINS", "").split(",")
                              if o and o not in site_origins]
    environment = {**cfg["environment_variables"], "TINTCAM_METER_STORE": "dynamodb", "TINTCAM_METER_TABLE": table,
                   "TINTCAM_SITE_ORIGINS": ",".join(origins), "TINTCAM_STATE_SECRET": state["state_secret"],
                   "TINTCAM_FRONT_DOOR": front}  # the admin report's cost estimate takes this door's request fee
    function_arn = deploy_function(aws, name, role, artifacts, out / "deployment.zip",
                                   parts["deployment.zip"]["sha256"], [deps_layer, model_layer],
                                   cfg, environment)
    api_url = front_door.deploy(front, aws, name, function_arn, region, cfg.get("api_gateway_stage", "api"), state,
                                site_url)
    if front == "rest":
        unusable = keys_without_gateway_key(aws["dynamodb"], table)
        if unusable:
            log(f"warning: {len(unusable)} customer key(s) have no API Gateway key (made while the HTTP API was "
                f"the front door, or without TINTCAM_USAGE_PLAN_ID), so the REST API refuses them: "
                f"{', '.join(unusable)}. Issue new keys with `admin create` (and revoke these), or go back with "
                f"--front-door http.")

    site.upload(aws["s3"], site_bucket, ROOT / "frontend", api_url)
    if dist["existed"]:
        log("invalidating the site's cached copies at CloudFront's edge ...")
        site.invalidate(aws["cloudfront"], dist["id"])
    state.update({"region": region, "api_url": api_url, "site_url": site_url, "table": table,
                  "function": function_arn, "model_layer": model_layer, "deps_layer": deps_layer,
                  "artifact_bucket": artifacts, "site_bucket": site_bucket, "role": f"{name}-api-handler",
                  "distribution_id": dist["id"], "distribution_domain": dist["domain"], "oac_id": oac_id,
                  "domain": domain or None, "certificate_arn": certificate_arn or None,
                  "unzipped_total": manifest["unzipped_total"]})
    save_state(stage, state)
    return state


def keys_without_gateway_key(dynamodb, table: str) -> list[str]:
    """The ids of the meter table's live keys that have no API Gateway key: the REST API refuses those (the
    table holds only their hashes, so no API Gateway key can be made for them afterwards)."""
    from chalicelib.store import DynamoStore
    return [r.key_id for r in DynamoStore(table, client=dynamodb).list_keys() if not r.revoked and not r.apigw_key_id]


def delete(stage: str, region: str, delete_data: bool, log=print) -> None:
    aws = clients(region)
    state = load_state(stage)
    name = f"tintcam-{stage}"
    front_door.remove(aws, state)
    try:
        aws["lambda"].delete_function(FunctionName=name)
    except aws["lambda"].exceptions.ResourceNotFoundException:
        pass
    for layer in (f"{name}-model", f"{name}-deps"):
        # all pages listed first, then deleted (deleting while paging could move versions off the pages)
        versions = every(aws["lambda"], "list_layer_versions", "LayerVersions", LayerName=layer)
        for number in [v["Version"] for v in versions]:
            aws["lambda"].delete_layer_version(LayerName=layer, VersionNumber=number)
    if state.get("role"):
        try:
            aws["iam"].delete_role_policy(RoleName=state["role"], PolicyName=state["role"])
            aws["iam"].delete_role(RoleName=state["role"])
        except aws["iam"].exceptions.NoSuchEntityException:
            pass
    site.delete(aws["cloudfront"], state.get("distribution_id"), state.get("oac_id"), log)
    for bucket in (state.get("site_bucket"), state.get("artifact_bucket")):
        if bucket:
            try:
                empty_bucket(aws["s3"], bucket)
                aws["s3"].delete_bucket(Bucket=bucket)
            except aws["s3"].exceptions.NoSuchBucket:
                pass
    if delete_data and state.get("table"):
        aws["dynamodb"].delete_table(TableName=state["table"])
    save_state(stage, {"state_secret": state["state_secret"]} if state.get("state_secret") and not delete_data
               else {})


# DeleteObjects takes at most 1,000 keys a call.
DELETE_BATCH = 1000


def empty_bucket(s3, bucket: str) -> int:
    """Delete every object of a bucket (DeleteBucket refuses a bucket with any left); returns how many went.

    Every version and delete marker is listed (ListObjectVersions, 1,000 a page, every page), so a bucket
    someone turned versioning on for is emptied too (the deploy itself never enables versioning: in an
    unversioned bucket each object is listed once, with the version id "null"). Deleted in batches of
    DeleteObjects' 1,000 keys; a key S3 refused to delete is an error naming it. Every page is listed
    before the first delete (as the layer versions are): a listing resumed after its marker key was
    deleted is not relied on (moto answers such a page empty)."""
    entries = [{"Key": v["Key"], "VersionId": v["VersionId"]}
               for v in every(s3, "list_object_versions", "[Versions, DeleteMarkers][]", Bucket=bucket)]
    for start in range(0, len(entries), DELETE_BATCH):
        _delete_objects(s3, bucket, entries[start:start + DELETE_BATCH])
    return len(entries)


def _delete_objects(s3, bucket: str, objects: list[dict]) -> None:
    errors = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True}).get("Errors") or []
    if errors:
        raise RuntimeError(f"S3 did not delete {len(errors)} object(s) of {bucket}, e.g. {errors[0]['Key']!r}: "
                           f"{errors[0].get('Code')} {errors[0].get('Message')}")


def admin_environment(state: dict) -> str:
    """The variables the admin command needs for this stage: its meter table, the usage plan new keys join
    (REST front door) and the front door, whose request fee the report's cost estimate takes."""
    plan = f" TINTCAM_USAGE_PLAN_ID={state['usage_plan_id']}" if state.get("usage_plan_id") else ""
    return (f"TINTCAM_METER_STORE=dynamodb TINTCAM_METER_TABLE={state['table']}{plan} "
            f"TINTCAM_FRONT_DOOR={state['front_door']}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Deploy tintcam (layers, function, table, API, HTTPS camera site).")
    parser.add_argument("--stage", default="prod", choices=["dev", "prod"])
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION"))
    parser.add_argument("--front-door", choices=front_door.KINDS, default=None,
                        help="API Gateway REST API (default; API keys and per-key limits at the gateway, "
                             "$3.50 per million requests) or HTTP API (the app checks the keys; $1.00 per million); "
                             "default: what the stage has, else rest")
    parser.add_argument("--domain", default=None, help="a custom domain for the camera site (with --certificate-arn; "
                                                       "'' removes it)")
    parser.add_argument("--certificate-arn", default=None, help="the domain's ACM certificate (in us-east-1)")
    parser.add_argument("--delete", action="store_true", help="remove the stage's resources")
    parser.add_argument("--delete-data", action="store_true", help="with --delete: also drop the meter table")
    args = parser.parse_args()
    if not args.region:
        sys.exit("set AWS_DEFAULT_REGION (or pass --region)")
    os.environ["AWS_DEFAULT_REGION"] = args.region
    if args.delete:
        delete(args.stage, args.region, args.delete_data)
        print(f"deleted the {args.stage} stage" + (" and its usage data" if args.delete_data else
                                                   " (the meter table is kept; --delete-data drops it)"))
        return
    if args.domain is not None or args.certificate_arn is not None:
        site.check_domain(args.domain or None, args.certificate_arn or None)
    front = args.front_door or load_state(args.stage).get("front_door", "rest")
    state = deploy(args.stage, args.region, front, args.domain, args.certificate_arn)
    print(f"tintcam {args.stage} is deployed ({state['unzipped_total'] / 1e6:.1f} MB unzipped of 250 MB):")
    print(f"  camera site: {state['site_url']}/  (CloudFront {state['distribution_id']}, HTTPS only)")
    if state.get("domain"):
        print(f"               point {state['domain']} (DNS CNAME or alias) at {state['distribution_domain']}")
    print(f"  API:         {state['api_url']}  ({front_door.describe(front)})")
    print(f"  meter table: {state['table']}; model layer: {state['model_layer']}")
    if state.get("usage_plan_id"):
        print(f"  usage plan:  {state['usage_plan_id']}")
    print("create a customer key with (the same variables for list, revoke and report):")
    print(f"  {admin_environment(state)} .venv/bin/python -m chalicelib.admin create --customer NAME --quota N")


if __name__ == "__main__":
    main()
