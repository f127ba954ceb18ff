"""The API's front door (used by layers/deploy.py): an API Gateway REST API whose resources and methods
are the Chalice app's routes, `api_key_required` routes checked by API Gateway against API keys, with a
usage plan (per-key rate limits), Chalice's binary media types and Lambda proxy integrations.

`deploy` returns the API's base URL and records its ids in the deploy state; `remove` deletes it.
"""
from __future__ import annotations

KINDS = ("rest",)
PRICE_PER_MILLION = {"rest": 3.50}  # USD per million requests (us-east-1)
USAGE_PLAN_THROTTLE = {"rateLimit": 20.0, "burstLimit": 40}  # per key


def chalice_app():
    import app
    return app.app


def _lambda_permission(aws, function_arn: str, statement: str, source_arn: str) -> None:
    lam = aws["lambda"]
    try:
        lam.add_permission(FunctionName=function_arn, StatementId=statement, Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com", SourceArn=source_arn)
    except lam.exceptions.ResourceConflictException:
        pass  # already granted by an earlier run


# ------------------------------------------------------------------ REST API
def deploy_rest(aws, name: str, function_arn: str, region: str, api_stage: str, state: dict) -> str:
    """A REST API with the Chalice app's routes, Lambda proxy integrations and Chalice's binary types."""
    app = chalice_app()
    gw = aws["apigateway"]
    api_id = state.get("api_id")
    if api_id:
        try:
            gw.get_rest_api(restApiId=api_id)
        except gw.exceptions.NotFoundException:
            api_id = None
    if not api_id:
        api_id = gw.create_rest_api(name=name, endpointConfiguration={"types": ["REGIONAL"]})["id"]
        resources = {r["path"]: r["id"] for r in gw.get_resources(restApiId=api_id)["items"]}
        uri = f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
        for path, methods in sorted(app.routes.items()):
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
        _lambda_permission(aws, function_arn, f"apigateway-{api_id}",
                           f"arn:aws:execute-api:{region}:{account}:{api_id}/*")
    # The app's binary types (JPEG and WebP answers stay binary), added on every run: an API made before a
    # type was added to the app gets it too (the deployment below makes it take effect).
    present = set(gw.get_rest_api(restApiId=api_id).get("binaryMediaTypes", []))
    missing = [kind for kind in app.api.binary_types if kind not in present]
    if missing:
        gw.update_rest_api(restApiId=api_id, patchOperations=[
            {"op": "add", "path": "/binaryMediaTypes/" + kind.replace("/", "~1")} for kind in missing])
    gw.create_deployment(restApiId=api_id, stageName=api_stage, description="tintcam deploy")
    state["api_id"] = api_id
    state["usage_plan_id"] = ensure_usage_plan(gw, name, api_id, api_stage, state)
    return f"https://{api_id}.execute-api.{region}.amazonaws.com/{api_stage}"


def ensure_usage_plan(apigateway, name: str, api_id: str, api_stage: str, state: dict) -> str:
    plan_id = state.get("usage_plan_id")
    if plan_id:
        try:
            apigateway.get_usage_plan(usagePlanId=plan_id)
            return plan_id
        except apigateway.exceptions.NotFoundException:
            pass
    plan = apigateway.create_usage_plan(
        name=name, description="tintcam per-key throttling (quotas are exact in the app)",
        apiStages=[{"apiId": api_id, "stage": api_stage}], throttle=USAGE_PLAN_THROTTLE)
    return plan["id"]


def remove_rest(aws, state: dict) -> None:
    gw = aws["apigateway"]
    if state.get("usage_plan_id"):
        try:
            gw.delete_usage_plan(usagePlanId=state["usage_plan_id"])
        except gw.exceptions.NotFoundException:
            pass
    if state.get("api_id"):
        try:
            gw.delete_rest_api(restApiId=state["api_id"])
        except gw.exceptions.NotFoundException:
            pass
    state.pop("usage_plan_id", None)
    state.pop("api_id", None)


def describe(kind: str) -> str:
    what = {"rest": "API Gateway REST API, API keys checked at the gateway"}[kind]
    return f"{what}; ${PRICE_PER_MILLION[kind]:.2f} per million requests"


def deploy(kind: str, aws, name: str, function_arn: str, region: str, api_stage: str, state: dict) -> str:
    """Put the front door up."""
    url = deploy_rest(aws, name, function_arn, region, api_stage, state)
    state["front_door"] = kind
    return url


def remove(aws, state: dict) -> None:
    remove_rest(aws, state)
