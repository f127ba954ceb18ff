"""Run built Lambda artefacts the way Lambda does, without AWS: the function unpacked at a task root,
the layers under an /opt-like folder, and AWS's runtime interface client (awslambdaric) in a fresh
process that sees only those folders and a runtime folder (awslambdaric and boto3, as Lambda's Python
runtime provides), pointed by AWS_LAMBDA_RUNTIME_API at a loopback stand-in for the Runtime API."""
from __future__ import annotations

import base64
import contextlib
import importlib.metadata
import json
import pathlib
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from urllib.parse import parse_qs, urlsplit

from tests.servers import AnsweringHandler, BackgroundServer, LoopbackServer, QuietHandler, free_port, stop

RUNTIME_DISTS = ("awslambdaric", "simplejson", "snapshot-restore-py", "boto3", "botocore", "jmespath", "s3transfer",
                 "python-dateutil", "six", "urllib3")


def unpack(build_dir: pathlib.Path, root: pathlib.Path) -> dict[str, pathlib.Path]:
    """Lay the artefacts out as Lambda does: task/ (the function) and opt/ (every layer merged)."""
    task, opt, runtime = root / "task", root / "opt", root / "runtime"
    for folder in (task, opt, runtime):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    with zipfile.ZipFile(build_dir / "deployment.zip") as zf:
        zf.extractall(task)
    for layer in ("layer-deployment.zip", "model-layer.zip"):
        with zipfile.ZipFile(build_dir / layer) as zf:
            zf.extractall(opt)
    for name in RUNTIME_DISTS:  # copied from this environment's installed distributions
        dist = importlib.metadata.distribution(name)
        for file in dist.files or []:
            src = pathlib.Path(dist.locate_file(file))
            if src.is_file() and ".dist-info" not in str(file) and "__pycache__" not in str(file):
                dst = runtime / file
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
    return {"task": task, "opt": opt, "runtime": runtime}


def folder_size(path: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def api_gateway_event(method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                      api_key: str | None = None, query: dict | None = None) -> dict:
    """An API Gateway REST proxy event as Lambda receives it (binary bodies base64-encoded)."""
    return {
        "resource": path, "path": path, "httpMethod": method,
        "headers": headers or {}, "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
        "queryStringParameters": query, "multiValueQueryStringParameters":
            {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None, "stageVariables": None,
        "requestContext": {"resourcePath": path, "httpMethod": method, "path": f"/api{path}", "stage": "api",
                           "requestId": str(uuid.uuid4()), "accountId": "123456789012", "apiId": "abcdef1234",
                           "identity": {"sourceIp": "127.0.0.1", "apiKey": api_key, "userAgent": "test"}},
        "body": base64.b64encode(body).decode() if body is not None else None,
        "isBase64Encoded": body is not None,
    }


class RuntimeApi(LoopbackServer):
    """The Lambda Runtime API's invocation loop: hands out queued events, collects answers and errors."""

    def __init__(self) -> None:
        self.events: queue.Queue = queue.Queue()
        self.answers: dict[str, queue.Queue] = {}
        self.first_answer_at: float | None = None
        super().__init__(("127.0.0.1", free_port()), self.Handler)

    def invoke(self, event: dict, timeout: float = 120) -> dict:
        request_id = str(uuid.uuid4())
        self.answers[request_id] = queue.Queue()
        self.events.put((request_id, event))
        kind, payload = self.answers[request_id].get(timeout=timeout)
        if kind != "response":
            raise RuntimeError(f"the function failed: {payload}")
        return json.loads(payload)

    class Handler(QuietHandler):
        def do_GET(self):
            if not self.path.endswith("/runtime/invocation/next"):
                self.send_error(404)
                return
            request_id, event = self.server.events.get()
            body = json.dumps(event).encode()
            self.send_response(200)
            for name, value in (("Lambda-Runtime-Aws-Request-Id", request_id),
                                ("Lambda-Runtime-Deadline-Ms", str(int((time.time() + 30) * 1000))),
                                ("Lambda-Runtime-Invoked-Function-Arn",
                                 "arn:aws:lambda:us-east-1:123456789012:function:tintcam-prod"),
                                ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
                                ("Lambda-Runtime-Client-Context", ""), ("Lambda-Runtime-Cognito-Identity", ""),
                                ("Content-Type", "application/json"), ("Content-Length", str(len(body)))):
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            payload = self.rfile.read(length)
            parts = self.path.split("/")
            if "init" in parts:
                for q in self.server.answers.values():
                    q.put(("init_error", payload.decode(errors="replace")))
            else:
                request_id, kind = parts[-2], parts[-1]
                if self.server.first_answer_at is None:
                    self.server.first_answer_at = time.perf_counter()
                self.server.answers[request_id].put((kind, payload.decode(errors="replace")))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()


@contextlib.contextmanager
def lambda_function(folders: dict[str, pathlib.Path], env: dict, memory_mb: int = 1769):
    """Start the unpacked function under awslambdaric; yields (runtime_api, process, started_at)."""
    api = RuntimeApi()
    thread = threading.Thread(target=api.serve_forever, daemon=True)
    thread.start()
    opt = folders["opt"]
    boot = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[2] + '/python', "
            "sys.argv[2] + '/python/lib/python3.11/site-packages', sys.argv[3]]; "
            "from awslambdaric.__main__ import main; main(['awslambdaric', 'app.app'])")
    environment = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LAMBDA_TASK_ROOT": str(folders["task"]),
                   "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}", "_HANDLER": "app.app",
                   "AWS_LAMBDA_FUNCTION_NAME": "tintcam-prod", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
                   "TINTCAM_LAYER_ROOT": str(opt), "HOME": str(folders["task"].parent), **env}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", boot, str(folders["task"]), str(opt),
                             str(folders["runtime"])], cwd=folders["task"], env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield api, proc, started
    finally:
        stop(proc)
        api.shutdown()


def peak_memory_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


def http_api_event(method: str, route_path: str, raw_path: str, body: bytes | None, headers: dict[str, list[str]],
                   query: dict[str, list[str]], api_id: str = "abcdef1234") -> dict:
    """An API Gateway HTTP API event in payload format 1.0, as the HTTP API sends it to its Lambda
    integration: header names lowercased (repeated values joined by commas in `headers`), the route's path
    as `resource` and `requestContext.resourcePath`, stage `$default`, no API key in the identity, and a
    body that is not text base64-encoded."""
    lower: dict[str, list[str]] = {}
    for name, values in headers.items():
        lower.setdefault(name.lower(), []).extend(values)
    content_type = (lower.get("content-type") or [""])[0].lower()
    text = body is None or content_type.startswith(TEXT_TYPES)
    now = time.time()
    return {
        "version": "1.0", "resource": route_path, "path": raw_path, "httpMethod": method,
        "headers": {k: ",".join(v) for k, v in lower.items()}, "multiValueHeaders": lower,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "requestContext": {
            "accountId": "123456789012", "apiId": api_id, "authorizer": {"claims": None, "scopes": None},
            "domainName": f"{api_id}.execute-api.us-east-1.amazonaws.com", "domainPrefix": api_id,
            "extendedRequestId": str(uuid.uuid4()), "httpMethod": method,
            "identity": {"accessKey": None, "accountId": None, "caller": None, "cognitoAuthenticationProvider": None,
                         "cognitoAuthenticationType": None, "cognitoIdentityId": None, "cognitoIdentityPoolId": None,
                         "principalOrgId": None, "sourceIp": "127.0.0.1", "user": None,
                         "userAgent": ",".join(lower.get("user-agent", [])), "userArn": None},
            "path": raw_path, "protocol": "HTTP/1.1", "requestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000), "resourceId": None, "resourcePath": route_path, "stage": "$default"},
        "pathParameters": None, "stageVariables": None,
        "body": None if body is None else body.decode() if text else base64.b64encode(body).decode(),
        "isBase64Encoded": not text,
    }


class HttpApiStandIn(BackgroundServer):
    """An HTTP API's data plane on loopback, for a deployed API's routes (moto stores an HTTP API but does
    not serve it): a request matching a route key ("POST /v1/tint") becomes a payload-format-1.0 event for
    the function behind ``runtime`` (a RuntimeApi), and the function's answer becomes the HTTP answer, its
    body base64-decoded when marked `isBase64Encoded`; no matching route: 404 {"message": "Not Found"}.
    Use as a context manager; ``url`` is its address."""

    def __init__(self, route_keys: set[str], runtime: RuntimeApi) -> None:
        self.route_keys, self.runtime = route_keys, runtime
        super().__init__(self.Handler)

    class Handler(AnsweringHandler):
        def _route(self):
            url = urlsplit(self.path)
            if f"{self.command} {url.path}" not in self.server.route_keys:
                self._answer(404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}')
                return
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length) if length else None
            headers: dict[str, list[str]] = {}
            for name, value in self.headers.items():
                headers.setdefault(name, []).append(value)
            event = http_api_event(self.command, url.path, url.path, body, headers, parse_qs(url.query))
            try:
                answer = self.server.runtime.invoke(event)
            except RuntimeError:  # the function failed: what an HTTP API answers then
                self._answer(500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}')
                return
            merged = {k: [v] for k, v in (answer.get("headers") or {}).items()}
            merged.update(answer.get("multiValueHeaders") or {})
            raw = answer.get("body") or ""
            payload = base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode()
            self._answer(answer["statusCode"], {k: ",".join(v) for k, v in merged.items()
                                                if k.lower() not in ("content-length", "connection")}, payload)

        do_GET = do_POST = do_OPTIONS = do_PUT = do_DELETE = _route
