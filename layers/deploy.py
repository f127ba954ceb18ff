"""Deploy tintcam to AWS with one command (or tear it down):

    .venv/bin/python layers/deploy.py --stage prod            (or: make deploy STAGE=prod)
    .venv/bin/python layers/deploy.py --stage prod --delete   (remove it; --delete-data also drops usage)

1. builds the artefacts (layers/build.py): the function zip, the dependency layer, the model layer;
2. uploads the model layer (62 MB zipped: over the 50 MB direct-upload limit) to an artefact bucket and
   publishes it from S3 as a layer version (skipped when that exact zip is already published);
3. creates the DynamoDB meter table if it is missing (on-demand, TTL for idempotency keys);
4. deploys Chalice's artefacts for the stage: the dependency layer (published from S3), the IAM role with
   .chalice/policy.json, the function (memory, timeout and environment from .chalice/config.json plus the
   model layer, the table, the site's origin and the state-signing secret), and a REST API whose resources
   and methods are read from the Chalice app's own route table (`api_key_required` routes need a key),
   with Chalice's binary media types, Lambda proxy integrations and the stage;
5. creates the API Gateway usage plan for the stage (per-key throttling; the admin command attaches keys);
6. uploads the camera site to its S3 website bucket with config.json holding the deployed API address;
7. prints the site and API URLs and the usage plan id; what it made is kept in
   .chalice/deployed/tintcam-<stage>.json (git-ignored), so running it again updates in place.

Why boto3 and not `chalice deploy`: the resources Chalice does not make (table, usage plan, site bucket,
the model layer from S3) need boto3 anyway, and one boto3 path runs unchanged against any endpoint that
speaks the AWS wire protocol (AWS_ENDPOINT_URL), so the tests run this very command end to end against
moto_server; `chalice deploy` imports the API as Swagger 2.0, which moto cannot import. The SAM template
from `chalice package` (layers/build/<stage>/sam.json, checked by cfn-lint) remains for `sam deploy`.
"""
from __future__ import annotations

import argparse
import json
import mimetypes
import os
import pathlib
import secrets
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from layers import build  # noqa: E402

DEPLOYED = pathlib.Path(os.environ.get("TINTCAM_DEPLOY_STATE_DIR", ROOT / ".chalice" / "deployed"))


def clients(region: str):
    import boto3
    session = boto3.session.Session(region_name=region)
    return {name: session.client(name) for name in ("s3", "lambda", "dynamodb", "apigateway", "sts", "iam")}


def ensure_bucket(s3, name: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=name)
        return
    except s3.exceptions.ClientError:
        pass
    kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **kwargs)


def ensure_table(dynamodb, table: str) -> None:
    from chalicelib.store import DynamoStore
    if table not in dynamodb.list_tables().get("TableNames", []):
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
    for version in aws["lambda"].list_layer_versions(LayerName=name).get("LayerVersions", []):
        if version.get("Description", "").endswith(digest):
            return version["LayerVersionArn"]
    key = f"layers/{name}-{digest}.zip"
    aws["s3"].upload_file(str(zip_path), bucket, key)
    return aws["lambda"].publish_layer_version(
        LayerName=name, Description=f"{description} sha256 {digest}", Content={"S3Bucket": bucket, "S3Key": key},
        CompatibleRuntimes=[build.RUNTIME], CompatibleArchitectures=["x86_64"])["LayerVersionArn"]


def deploy_function(aws, name: str, role: str, bucket: str, zip_path: pathlib.Path, sha256: str, layers: list[str],
                    cfg: dict, environment: dict) -> str:
    key = f"functions/{name}-{sha256[:16]}.zip"
    aws["s3"].upload_file(str(zip_path), bucket, key)
    settings = {"Role": role, "Handler": "app.app", "Runtime": build.RUNTIME, "Layers": layers,
                "MemorySize": cfg.get("lambda_memory_size", 1769), "Timeout": cfg.get("lambda_timeout", 30),
                "Environment": {"Variables": environment}, "Architectures": ["x86_64"]}
    lam = aws["lambda"]
    try:
        lam.get_function(FunctionName=name)
    except lam.exceptions.ResourceNotFoundException:
        arn = lam.create_function(FunctionName=name, Code={"S3Bucket": bucket, "S3Key": key}, **settings)["FunctionArn"]
    else:
        lam.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key=key)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        settings.pop("Architectures")
        arn = lam.update_function_configuration(FunctionName=name, **settings)["FunctionArn"]
    if cfg.get("reserved_concurrency"):
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=cfg["reserved_concurrency"])
    return arn


def deploy_api(aws, name: str, function_arn: str, region: str, api_stage: str, state: dict) -> str:
    """A REST API with the Chalice app's routes, Lambda proxy integrations and Chalice's binary types."""
    import app as chalice_app
    gw = aws["apigateway"]
    api_id = state.get("api_id")
    if api_id:
        try:
            gw.get_rest_api(restApiId=api_id)
        except gw.exceptions.NotFoundException:
            api_id = None
    if not api_id:
        api_id = gw.create_rest_api(name=name, endpointConfiguration={"types": ["REGIONAL"]})["id"]
        gw.update_rest_api(restApiId=api_id, patchOperations=[  # Chalice's binary types: JPEG answers stay JPEG
            {"op": "add", "path": "/binaryMediaTypes/" + kind.replace("/", "~1")}
            for kind in chalice_app.app.api.binary_types])
        resources = {r["path"]: r["id"] for r in gw.get_resources(restApiId=api_id)["items"]}
        uri = (f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations")
        for path, methods in sorted(chalice_app.app.routes.items()):
            parent = "/"
            for part in path.strip("/").split("/"):
                child = parent.rstrip("/") + "/" + part
                if child not in resources:
                    resources[child] = gw.create_resource(restApiId=api_id, parentId=resources[parent],
                                                          pathPart=part)["id"]
                parent = child
            for method, entry in methods.items():
                gw.put_method(restApiId=api_id, resourceId=resources[path], httpMethod=method,
                              authorizationType="NONE", apiKeyRequired=bool(entry.api_key_required))
                gw.put_integration(restApiId=api_id, resourceId=resources[path], httpMethod=method,
                                   type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)
        account = function_arn.split(":")[4]
        aws["lambda"].add_permission(FunctionName=function_arn, StatementId=f"apigateway-{api_id}",
                                     Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
                                     SourceArn=f"arn:aws:execute-api:{region}:{account}:{api_id}/*")
    gw.create_deployment(restApiId=api_id, stageName=api_stage, description="tintcam deploy")
    state["api_id"] = api_id
    return f"https://{api_id}.execute-api.{region}.amazonaws.com/{api_stage}"


def ensure_usage_plan(apigateway, stage: str, api_id: str, api_stage: str, state: dict) -> str:
    plan_id = state.get("usage_plan_id")
    if plan_id:
        try:
            apigateway.get_usage_plan(usagePlanId=plan_id)
            return plan_id
        except apigateway.exceptions.NotFoundException:
            pass
    plan = apigateway.create_usage_plan(
        name=f"tintcam-{stage}", description="tintcam per-key throttling (quotas are exact in the app)",
        apiStages=[{"apiId": api_id, "stage": api_stage}], throttle={"rateLimit": 20.0, "burstLimit": 40})
    return plan["id"]


def upload_site(s3, bucket: str, region: str, api_url: str) -> str:
    ensure_bucket(s3, bucket, region)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    for path in sorted((ROOT / "frontend").iterdir()):
        if path.is_file() and path.name != "config.json":
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if path.suffix == ".js":
                kind = "text/javascript"
            s3.put_object(Bucket=bucket, Key=path.name, Body=path.read_bytes(), ContentType=kind,
                          CacheControl="no-cache")
    s3.put_object(Bucket=bucket, Key="config.json", Body=json.dumps({"apiUrl": api_url}).encode(),
                  ContentType="application/json", CacheControl="no-cache")
    return f"http://{bucket}.s3-website-{region}.amazonaws.com"


def deploy(stage: str, region: str) -> dict:
    aws = clients(region)
    account = aws["sts"].get_caller_identity()["Account"]
    state = load_state(stage)
    state.setdefault("state_secret", secrets.token_hex(32))
    name = f"tintcam-{stage}"
    artifacts, site_bucket, table = f"{name}-artifacts-{account}", f"{name}-site-{account}", f"{name}-meter"
    site_url = f"http://{site_bucket}.s3-website-{region}.amazonaws.com"
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
    origins = [site_url] + [o for o in cfg["environment_variables"].get("TINTCAM_SITE_ORIGINS", "").split(",") if o]
    environment = {**cfg["environment_variables"], "TINTCAM_METER_STORE": "dynamodb", "TINTCAM_METER_TABLE": table,
                   "TINTCAM_SITE_ORIGINS": ",".join(origins), "TINTCAM_STATE_SECRET": state["state_secret"]}
    function_arn = deploy_function(aws, name, role, artifacts, out / "deployment.zip",
                                   parts["deployment.zip"]["sha256"], [deps_layer, model_layer],
                                   cfg, environment)
    api_stage = cfg.get("api_gateway_stage", "api")
    api_url = deploy_api(aws, name, function_arn, region, api_stage, state)
    state["usage_plan_id"] = ensure_usage_plan(aws["apigateway"], stage, state["api_id"], api_stage, state)
    site_url = upload_site(aws["s3"], site_bucket, region, api_url)
    state.update({"region": region, "api_url": api_url, "site_url": site_url, "table": table,
                  "function": function_arn, "model_layer": model_layer, "deps_layer": deps_layer,
                  "artifact_bucket": artifacts, "site_bucket": site_bucket, "role": f"{name}-api-handler",
                  "unzipped_total": manifest["unzipped_total"]})
    save_state(stage, state)
    return state


def delete(stage: str, region: str, delete_data: bool) -> None:
    aws = clients(region)
    state = load_state(stage)
    name = f"tintcam-{stage}"
    if state.get("usage_plan_id"):
        try:
            aws["apigateway"].delete_usage_plan(usagePlanId=state["usage_plan_id"])
        except aws["apigateway"].exceptions.NotFoundException:
            pass
    if state.get("api_id"):
        try:
            aws["apigateway"].delete_rest_api(restApiId=state["api_id"])
        except aws["apigateway"].exceptions.NotFoundException:
            pass
    try:
        aws["lambda"].delete_function(FunctionName=name)
    except aws["lambda"].exceptions.ResourceNotFoundException:
        pass
    for layer in (f"{name}-model", f"{name}-deps"):
        for version in aws["lambda"].list_layer_versions(LayerName=layer).get("LayerVersions", []):
            aws["lambda"].delete_layer_version(LayerName=layer, VersionNumber=version["Version"])
    if state.get("role"):
        try:
            aws["iam"].delete_role_policy(RoleName=state["role"], PolicyName=state["role"])
            aws["iam"].delete_role(RoleName=state["role"])
        except aws["iam"].exceptions.NoSuchEntityException:
            pass
    for bucket in (state.get("site_bucket"), state.get("artifact_bucket")):
        if bucket:
            try:
                for obj in aws["s3"].list_objects_v2(Bucket=bucket).get("Contents", []):
                    aws["s3"].delete_object(Bucket=bucket, Key=obj["Key"])
                aws["s3"].delete_bucket(Bucket=bucket)
            except aws["s3"].exceptions.NoSuchBucket:
                pass
    if delete_data and state.get("table"):
        aws["dynamodb"].delete_table(TableName=state["table"])
    save_state(stage, {"state_secret": state["state_secret"]} if state.get("state_secret") and not delete_data
               else {})


def main() -> None:
    parser = argparse.ArgumentParser(description="Deploy tintcam (layers, function, table, usage plan, site).")
    parser.add_argument("--stage", default="prod", choices=["dev", "prod"])
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION"))
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
    state = deploy(args.stage, args.region)
    print(f"tintcam {args.stage} is deployed ({state['unzipped_total'] / 1e6:.1f} MB unzipped of 250 MB):")
    print(f"  camera site: {state['site_url']}/")
    print(f"  API:         {state['api_url']}")
    print(f"  meter table: {state['table']}; model layer: {state['model_layer']}")
    print(f"  usage plan:  {state['usage_plan_id']}")
    print("create a customer key with:")
    print(f"  TINTCAM_METER_STORE=dynamodb TINTCAM_METER_TABLE={state['table']} "
          f"TINTCAM_USAGE_PLAN_ID={state['usage_plan_id']} .venv/bin/python -m chalicelib.admin create "
          "--customer NAME --quota N")


if __name__ == "__main__":
    main()
