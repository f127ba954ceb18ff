"""Start real servers for tests: `chalice local` (the API) as a separate process, on a free loopback port."""
from __future__ import annotations

import contextlib
import http.server
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests

from tests.conftest import ROOT


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate a server process, killing it if it does not stop in time."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = open(proc.log_path).read() if getattr(proc, "log_path", None) else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {output[-3000:]}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@contextlib.contextmanager
def chalice_local(env: dict | None = None, port: int | None = None):
    """Run `chalice local` from the project folder; yields its base URL and the process, whose output
    (its log) goes to the file ``proc.log_path`` (a pipe nobody reads would fill and stall the server)."""
    port = port or free_port()
    with tempfile.NamedTemporaryFile(prefix="chalice-local-", suffix=".log", delete=False) as log:
        argv = [sys.executable, str(ROOT / ".chalice" / "local_server.py"), "local", "--host", "127.0.0.1",
                "--port", str(port), "--no-autoreload"]
        with _serving(argv, f"http://127.0.0.1:{port}", "/health", cwd=ROOT, env={**os.environ, **(env or {})},
                      stdout=log, stderr=subprocess.STDOUT, log_path=log.name) as served:
            yield served


@contextlib.contextmanager
def _serving(argv: list[str], base: str, ready_path: str, log_path: str | None = None, **popen):
    """A server process: started, waited for until ``base + ready_path`` answers, yielded as (base, proc),
    stopped afterwards."""
    proc = subprocess.Popen(argv, **popen)
    proc.log_path = log_path
    try:
        wait_for(base + ready_path, proc)
        yield base, proc
    finally:
        stop(proc)


AWS_TEST_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": "us-east-1"}


# moto_server's own app, served the way `moto_server` serves it, but one request at a time: moto's
# in-memory backend is not thread-safe (concurrent TransactWriteItems made it answer 500), whereas
# DynamoDB itself applies each transaction atomically.
# Three moto gaps are filled here: its ImportRestApi requires info.description, which OpenAPI (and API
# Gateway) treat as optional; it reads an added binary media type from the patch's value, whereas API
# Gateway takes it from the path (/binaryMediaTypes/image~1jpeg, the documented form); and it reports a
# finished CloudFront invalidation as "COMPLETED" where CloudFront (and boto3's waiter) say "Completed".
MOTO_SERVER = """
import sys, threading
from werkzeug.serving import run_simple
from moto.apigateway import models as apigateway_models
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
_import_rest_api = apigateway_models.APIGatewayBackend.import_rest_api
def import_rest_api(self, api_doc, *args, **kwargs):
    api_doc.setdefault("info", {}).setdefault("description", "")
    return _import_rest_api(self, api_doc, *args, **kwargs)
apigateway_models.APIGatewayBackend.import_rest_api = import_rest_api
_apply = apigateway_models.RestAPI.apply_patch_operations
def apply_patch_operations(self, ops):
    for op in ops:
        if op.get("path", "").startswith("/binaryMediaTypes/") and "value" not in op:
            op["value"] = op["path"].split("/", 2)[2].replace("~1", "/")
    return _apply(self, ops)
apigateway_models.RestAPI.apply_patch_operations = apply_patch_operations
from moto.cloudfront import models as cloudfront_models
_invalidation = cloudfront_models.Invalidation.__init__
def invalidation(self, *args, **kwargs):
    _invalidation(self, *args, **kwargs)
    self.status = "Completed"
cloudfront_models.Invalidation.__init__ = invalidation
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
def serial(environ, start_response):
    with lock:
        return list(app(environ, start_response))
run_simple(sys.argv[1], int(sys.argv[2]), serial, threaded=True)
"""


@contextlib.contextmanager
def moto_server(port: int | None = None):
    """moto's server (speaks the AWS wire protocol on loopback) in its own process; yields its endpoint."""
    port = port or free_port()
    with _serving([sys.executable, "-c", MOTO_SERVER, "127.0.0.1", str(port)], f"http://127.0.0.1:{port}",
                  "/moto-api/", env={**os.environ, **AWS_TEST_ENV, "MOTO_PORT": str(port)},
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as served:
        yield served


class LoopbackServer(http.server.ThreadingHTTPServer):
    """A test's in-process HTTP server: a client hanging up mid-request (a closed page, a stopped
    function waiting for its next event) is expected, not an error to print."""

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 (keep-alive, as clients expect), without a log line per request."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass


class BackgroundServer(LoopbackServer):
    """A LoopbackServer on a free port, served from a thread while used as a context manager; ``url`` is
    its address."""

    daemon_threads = True

    def __init__(self, handler) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


class AnsweringHandler(QuietHandler):
    def _answer(self, status: int, headers: dict, body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Proxy(BackgroundServer):
    """A loopback HTTP proxy in front of the API, for faults the API itself would not make: it can delay
    every answer (a slow network) or lose the first POST's answer after the API has handled it (a load
    balancer's 503). Use as a context manager; ``url`` is its address."""

    def __init__(self, target: str, delay: float = 0.0, lose_first_post: bool = False,
                 throttle_first_post: bool = False) -> None:
        self.target, self.delay, self.lose_first_post = target, delay, lose_first_post
        self.throttle_first_post = throttle_first_post   # answer it as API Gateway's throttle does, unforwarded
        self.seen_idempotency_keys: list[str | None] = []
        super().__init__(_ProxyHandler)


class _ProxyHandler(AnsweringHandler):
    def _forward(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length) if length else None
        if self.command == "POST" and self.server.throttle_first_post:
            self.server.throttle_first_post = False
            self._answer(429, {"Content-Type": "application/json"}, b'{"message":"Too Many Requests"}')
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        resp = requests.request(self.command, self.server.target + self.path, data=body, headers=headers, timeout=60)
        if self.server.delay:
            time.sleep(self.server.delay)
        if self.command == "POST":
            self.server.seen_idempotency_keys.append(self.headers.get("Idempotency-Key"))
            if self.server.lose_first_post:
                self.server.lose_first_post = False
                self._answer(503, {"Content-Type": "application/json"}, b"{}")
                return
        self._answer(resp.status_code, {k: v for k, v in resp.headers.items() if k.lower() not in
                                        ("content-length", "connection", "transfer-encoding", "date", "server")},
                     resp.content)

    do_GET = do_POST = do_OPTIONS = _forward
