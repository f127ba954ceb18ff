"""The API's front door (used by layers/deploy.py): API Gateway in front of the function, one of two kinds.

- `rest` (the default): a REST API whose resources and methods are the Chalice app's routes,
  `api_key_required` routes checked by API Gateway against API keys, with a usage plan (per-key rate
  limits), Chalice's binary media types and Lambda proxy integrations. $3.50 per million requests.
- `http`: an HTTP API (apigatewayv2) with one route per Chalice route and method, a Lambda proxy
  integration with payload format 1.0 (Chalice's handler reads 1.0-shaped events: a 2.0 event has no
  `requestContext.resourcePath`, so Chalice cannot route it and answers 500), the `$default` stage
  auto-deployed with stage-wide throttling. HTTP APIs have no API keys or usage plans: the app's own
  key check (the `x-api-key` header, hashed and looked up in the meter table) is the gate, so a wrong
  key costs one function call, and rate limits are per stage, not per key. Binary answers need no
  setting: an HTTP API decodes every answer the function marks `isBase64Encoded` (JPEG frames, WebP
  patches), whatever the request's Accept. $1.00 per million.

Each kind's deploy brings the API's routes in step with the app's on every run (routes added to the app
are made, routes it dropped are deleted, a changed `api_key_required` is applied), returns the API's base
URL and records its ids in the deploy state; `remove` deletes a kind's resources (when switching front
doors, the other one is removed after the new one is up; the REST API's usage plan, which holds the
customers' API Gateway keys, is kept for a way back).
"""
from __future__ import annotations

import contextlib

from layers.paging import every

KINDS = ("rest", "http")
PRICE_PER_MILLION = {"rest": 3.50, "http": 1.00}  # USD per million requests (us-east-1)
# Per-key limits of the REST usage plan; stage-wide limits of the HTTP API (all callers together).
USAGE_PLAN_THROTTLE = {"rateLimit": 20.0, "burstLimit": 40}
HTTP_STAGE_THROTTLE = {"ThrottlingRateLimit": 200.0, "ThrottlingBurstLimit": 400}
HTTP_STAGE = "$default"
HTTP_TIMEOUT_MS = 30000  # an HTTP API's longest wait for its integration (the function may take 30 s)


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
def rest_routes(app=None) -> dict[str, dict[str, bool]]:
    """The REST API's routes, from the Chalice app's route table: {path: {method: api_key_required}}."""
    app = app or chalice_app()
    return {path: {method: bool(entry.api_key_required) for method, entry in methods.items()}
            for path, methods in app.routes.items()}


def _ancestors(path: str) -> list[str]:
    """"/v1/tint" -> ["/", "/v1", "/v1/tint"]: the resources a route's path needs, parents first."""
    parts = [part for part in path.strip("/").split("/") if part]
    return ["/"] + ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _depth(path: str) -> int:
    return 0 if path == "/" else path.count("/")


def sync_rest_routes(gw, api_id: str, routes: dict[str, dict[str, bool]], uri: str) -> None:
    """Make the REST API's resources, methods and integrations exactly ``routes`` (see rest_routes): missing
    resources and methods are made, a method whose key requirement changed is made again, integrations are
    pointed at ``uri``, and methods and resources the app no longer has are deleted. None of it reaches
    callers before the stage's next deployment, which the caller makes."""
    # embed=methods: API Gateway lists a resource's methods (resourceMethods) only when asked
    resources = {r["path"]: r for r in every(gw, "get_resources", "items", restApiId=api_id, embed=["methods"])}
    needed = {ancestor for path in routes for ancestor in _ancestors(path)}
    for path in sorted(needed - set(resources), key=_depth):  # parents before children
        parent = path.rsplit("/", 1)[0] or "/"
        resources[path] = gw.create_resource(restApiId=api_id, parentId=resources[parent]["id"],
                                             pathPart=path.rsplit("/", 1)[1])
    for path in sorted(needed):
        resource_id, wanted = resources[path]["id"], routes.get(path, {})
        present = set(resources[path].get("resourceMethods") or {})
        for method in sorted(present - set(wanted)):
            gw.delete_method(restApiId=api_id, resourceId=resource_id, httpMethod=method)
        for method, key_required in sorted(wanted.items()):
            current = gw.get_method(restApiId=api_id, resourceId=resource_id, httpMethod=method) \
                if method in present else None
            if current is not None and bool(current.get("apiKeyRequired")) != key_required:
                # made again rather than patched (moto has no UpdateMethod); callers see the change only
                # with the deployment that follows, so there is no moment without the method
                gw.delete_method(restApiId=api_id, resourceId=resource_id, httpMethod=method)
                current = None
            if current is None:
                gw.put_method(restApiId=api_id, resourceId=resource_id, httpMethod=method,
                              authorizationType="NONE", apiKeyRequired=key_required)
            integration = (current or {}).get("methodIntegration") or {}
            if (integration.get("type"), integration.get("uri")) != ("AWS_PROXY", uri):
                gw.put_integration(restApiId=api_id, resourceId=resource_id, httpMethod=method,
                                   type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)
    for path in sorted(set(resources) - needed, key=_depth, reverse=True):  # children before parents
        gw.delete_resource(restApiId=api_id, resourceId=resources[path]["id"])


def sync_binary_types(gw, api_id: str, binary_types: list[str]) -> None:
    """The API's binary media types are the app's (JPEG and WebP answers stay binary): added when the
    app gained one since the API was made, removed when it dropped one."""
    present = gw.get_rest_api(restApiId=api_id).get("binaryMediaTypes", [])
    operations = [{"op": "add", "path": "/binaryMediaTypes/" + kind.replace("/", "~1")}
                  for kind in binary_types if kind not in present]
    operations += [{"op": "remove", "path": "/binaryMediaTypes/" + kind.replace("/", "~1")}
                   for kind in present if kind not in binary_types]
    if operations:
        gw.update_rest_api(restApiId=api_id, patchOperations=operations)


def deploy_rest(aws, name: str, function_arn: str, region: str, api_stage: str, state: dict,
                site_origin: str = "") -> str:
    """A REST API with the Chalice app's routes, Lambda proxy integrations and Chalice's binary types, made
    or brought in step with the app on every run, then deployed to the stage."""
    app = chalice_app()
    gw = aws["apigateway"]
    api = _recorded_if_there(state, "api_id", lambda i: gw.get_rest_api(restApiId=i), gw.exceptions.NotFoundException)
    api_id = (api or gw.create_rest_api(name=name, endpointConfiguration={"types": ["REGIONAL"]}))["id"]
    uri = f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    sync_rest_routes(gw, api_id, rest_routes(app), uri)
    sync_binary_types(gw, api_id, app.api.binary_types)
    if site_origin:
        cors_gateway_responses(gw, api_id, site_origin)
    account = function_arn.split(":")[4]
    _lambda_permission(aws, function_arn, f"apigateway-{api_id}", f"arn:aws:execute-api:{region}:{account}:{api_id}/*")
    gw.create_deployment(restApiId=api_id, stageName=api_stage, description="tintcam deploy")
    state["api_id"] = api_id
    state["usage_plan_id"] = ensure_usage_plan(gw, name, api_id, api_stage, state)
    return f"https://{api_id}.execute-api.{region}.amazonaws.com/{api_stage}"


def cors_gateway_responses(gw, api_id: str, site_origin: str) -> None:
    """API Gateway's own refusals (a missing or unknown API key: 403; its throttling: 429) come before the
    app and its CORS headers; a browser hides an answer without them, so the camera page could only say
    it cannot reach the API. The gateway's 4XX and 5XX answers name the site's origin."""
    headers = {"gatewayresponse.header.Access-Control-Allow-Origin": f"'{site_origin}'",
               "gatewayresponse.header.Access-Control-Expose-Headers": "'Retry-After'",
               "gatewayresponse.header.Vary": "'Origin'"}
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        gw.put_gateway_response(restApiId=api_id, responseType=kind, responseParameters=headers)


def ensure_usage_plan(apigateway, name: str, api_id: str, api_stage: str, state: dict) -> str:
    """The usage plan (per-key throttling; the customers' API keys are in it) covering the API's stage: the
    recorded one, given this stage if it lacks it (an API deleted by hand and made again), else a new one."""
    plan = _recorded_if_there(state, "usage_plan_id", lambda i: apigateway.get_usage_plan(usagePlanId=i),
                              apigateway.exceptions.NotFoundException)
    if plan:
        stages = plan.get("apiStages") or []
        if {"apiId": api_id, "stage": api_stage} not in [{k: s.get(k) for k in ("apiId", "stage")} for s in stages]:
            apigateway.update_usage_plan(usagePlanId=plan["id"], patchOperations=[
                {"op": "add", "path": "/apiStages", "value": f"{api_id}:{api_stage}"}])
        return plan["id"]
    plan = apigateway.create_usage_plan(
        name=name, description="tintcam per-key throttling (quotas are exact in the app)",
        apiStages=[{"apiId": api_id, "stage": api_stage}], throttle=USAGE_PLAN_THROTTLE)
    return plan["id"]


def _recorded_if_there(state: dict, key: str, get, gone) -> dict | None:
    """The resource whose id the deploy state keeps under ``key``, as ``get`` describes it, if it still
    exists (``get`` raises ``gone`` when it does not), else None: a second run updates in place, and one
    deleted by hand is made again."""
    recorded = state.get(key)
    if not recorded:
        return None
    try:
        return get(recorded)
    except gone:
        return None


def _delete_recorded(state: dict, key: str, delete, gone) -> None:
    """Delete the resource whose id the deploy state keeps under ``key`` (one already gone, ``gone``, is
    fine), then forget it."""
    if state.get(key):
        with contextlib.suppress(gone):
            delete(state[key])
    state.pop(key, None)


def remove_rest(aws, state: dict, keep_plan: bool = False) -> None:
    """Delete the REST API and its usage plan; with ``keep_plan`` (a switch to the HTTP API) the plan, which
    holds the customers' API Gateway keys, only loses its stage, and a later REST API joins it again."""
    gw = aws["apigateway"]
    gone = gw.exceptions.NotFoundException
    if keep_plan:
        if state.get("usage_plan_id"):
            with contextlib.suppress(gone):
                _detach_stages(gw, state["usage_plan_id"])
    else:
        _delete_recorded(state, "usage_plan_id", lambda i: _delete_usage_plan(gw, i), gone)
    _delete_recorded(state, "api_id", lambda i: gw.delete_rest_api(restApiId=i), gone)


def _delete_usage_plan(gw, plan_id: str) -> None:
    _detach_stages(gw, plan_id)
    gw.delete_usage_plan(usagePlanId=plan_id)


def _detach_stages(gw, plan_id: str) -> None:
    """Remove every API stage from a usage plan (AWS deletes a plan only once it has none)."""
    stages = gw.get_usage_plan(usagePlanId=plan_id).get("apiStages") or []
    if stages:
        gw.update_usage_plan(usagePlanId=plan_id, patchOperations=[
            {"op": "remove", "path": "/apiStages", "value": f"{s['apiId']}:{s['stage']}"} for s in stages])


# ------------------------------------------------------------------ HTTP API
def http_route_keys() -> set[str]:
    """One HTTP API route per Chalice route and method ("POST /v1/tint"): the route's path is what the
    1.0 event carries as requestContext.resourcePath, which Chalice looks its view up by."""
    return {f"{method} {path}" for path, methods in chalice_app().routes.items() for method in methods}


def deploy_http(aws, name: str, function_arn: str, region: str, state: dict) -> str:
    """An HTTP API: payload format 1.0 Lambda proxy integration, the app's routes, a throttled $default
    stage; updated in place on a second run."""
    gw = aws["apigatewayv2"]
    api = _recorded_if_there(state, "http_api_id", lambda i: gw.get_api(ApiId=i), gw.exceptions.NotFoundException)
    api_id = (api or gw.create_api(Name=name, ProtocolType="HTTP",
                                   Description="tintcam frame API (the app checks the API keys)"))["ApiId"]
    integration = {"IntegrationType": "AWS_PROXY", "IntegrationUri": function_arn, "PayloadFormatVersion": "1.0",
                   "TimeoutInMillis": HTTP_TIMEOUT_MS}
    existing = list(every(gw, "get_integrations", "Items", ApiId=api_id))
    if existing:
        integration_id = existing[0]["IntegrationId"]
        gw.update_integration(ApiId=api_id, IntegrationId=integration_id, **integration)
    else:
        integration_id = gw.create_integration(ApiId=api_id, IntegrationMethod="POST",
                                               **integration)["IntegrationId"]
    target = f"integrations/{integration_id}"
    routes = {r["RouteKey"]: r for r in every(gw, "get_routes", "Items", ApiId=api_id)}
    wanted = http_route_keys()
    for key in sorted(wanted - set(routes)):
        gw.create_route(ApiId=api_id, RouteKey=key, Target=target)
    for key in sorted(set(routes) - wanted):
        gw.delete_route(ApiId=api_id, RouteId=routes[key]["RouteId"])
    for key in sorted(wanted & set(routes)):
        if routes[key].get("Target") != target:
            gw.update_route(ApiId=api_id, RouteId=routes[key]["RouteId"], Target=target)
    stages = {s["StageName"]: s for s in every(gw, "get_stages", "Items", ApiId=api_id)}
    if HTTP_STAGE not in stages:
        gw.create_stage(ApiId=api_id, StageName=HTTP_STAGE, AutoDeploy=True,
                        DefaultRouteSettings=HTTP_STAGE_THROTTLE)
    else:
        current = stages[HTTP_STAGE]
        settings = current.get("DefaultRouteSettings", {})
        if not current.get("AutoDeploy") or any(settings.get(k) != v for k, v in HTTP_STAGE_THROTTLE.items()):
            gw.update_stage(ApiId=api_id, StageName=HTTP_STAGE, AutoDeploy=True,
                            DefaultRouteSettings=HTTP_STAGE_THROTTLE)
    account = function_arn.split(":")[4]
    _lambda_permission(aws, function_arn, f"apigatewayv2-{api_id}",
                       f"arn:aws:execute-api:{region}:{account}:{api_id}/*/*")
    state["http_api_id"] = api_id
    return f"https://{api_id}.execute-api.{region}.amazonaws.com"


def remove_http(aws, state: dict) -> None:
    gw = aws["apigatewayv2"]
    _delete_recorded(state, "http_api_id", lambda i: gw.delete_api(ApiId=i), gw.exceptions.NotFoundException)


def describe(kind: str) -> str:
    what = {"rest": "API Gateway REST API, API keys checked at the gateway",
            "http": "API Gateway HTTP API, API keys checked by the app"}[kind]
    return f"{what}; ${PRICE_PER_MILLION[kind]:.2f} per million requests"


def deploy(kind: str, aws, name: str, function_arn: str, region: str, api_stage: str, state: dict,
           site_origin: str = "") -> str:
    """Put the chosen front door up (and take the other kind down if an earlier run made it)."""
    if kind == "http":
        url = deploy_http(aws, name, function_arn, region, state)
        remove_rest(aws, state, keep_plan=True)  # the customers' API Gateway keys stay, for a way back
    else:
        url = deploy_rest(aws, name, function_arn, region, api_stage, state, site_origin)
        remove_http(aws, state)
    state["front_door"] = kind
    return url


def remove(aws, state: dict) -> None:
    remove_rest(aws, state)
    remove_http(aws, state)
