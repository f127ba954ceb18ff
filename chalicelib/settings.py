"""The one settings module: every setting has a name, a default, an environment override and a line
saying what it does. All are parsed and validated together by ``load()``; a bad value stops start-up
with a message naming the variable.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from functools import lru_cache

# Lambda's response payload limit is 6 MB (6,291,456 bytes) and a binary answer goes out base64-encoded
# (4/3 larger) inside a JSON envelope, so a JPEG answer must stay under about 4.7 MB. The request has the
# same 6 MB limit, so bodies are capped likewise.
LAMBDA_PAYLOAD_LIMIT = 6_291_456

_HEX_COLOR = re.compile(r"^#?[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class Settings:
    # name                 default      (env var TINTCAM_<NAME upper>)   what it does
    max_body_bytes: int = 4_500_000     # largest request body accepted; checked before anything is parsed
    max_pixels: int = 12_582_912        # largest width*height accepted (4096x3072: 12 MP phone photos), read from the header
    max_side: int = 8192                # longest image side accepted, read from the image header
    max_output_bytes: int = 4_600_000   # largest JPEG answer; base64 of it must fit Lambda's 6 MB payload
    max_detect_pixels: int = 16_000_000  # cap on pixels the face detector scans (width*height*(80/min_face)^2)
    default_color: str = "#B0303F"      # lipstick shade when the request names none (a natural red)
    default_intensity: float = 0.6      # how far the lips move toward the shade when not given (0..1)
    default_quality: int = 85           # output JPEG quality when not given
    min_quality: int = 40               # lowest quality a client may ask for (and the floor when shrinking output)
    max_quality: int = 95               # highest quality a client may ask for
    default_min_face: int = 120         # smallest face (px wide) looked for by default: camera selfies at 640x480
    min_min_face: int = 20              # smallest min_face a client may ask for (detector upsampling 4x)
    max_min_face: int = 2000            # largest min_face a client may ask for
    model_path: str = ""                # the 68-point model file; empty = resolve (Lambda layer under /opt, else the
                                        # face-recognition-models package)
    detector: str = "blazeface"         # the face detector: "blazeface" (MediaPipe's, run by LiteRT) or "hog" (dlib's)
    layer_root: str = "/opt"            # where Lambda unpacks layers (the model layer puts models/ there)
    log_level: str = "INFO"             # level of the app's log lines
    meter_store: str = "sqlite"         # where keys and usage live: "sqlite" (local) or "dynamodb" (AWS)
    db: str = ".tintcam/tintcam.sqlite3"  # the SQLite file (env TINTCAM_DB), relative to the working folder
    db_busy_timeout_ms: int = 5000      # how long a SQLite write waits for another writer before a 503
    meter_table: str = "tintcam-meter"  # the DynamoDB table (env TINTCAM_METER_TABLE)
    usage_plan_id: str = ""             # API Gateway usage plan that new keys join (admin command, on AWS)
    idempotency_ttl_s: int = 86400      # how long an Idempotency-Key is remembered
    key_cache_s: float = 5.0            # how long a key record read from the store is trusted from memory
                                        # (0 = read it for every request): a revoked key keeps working up to
                                        # this long on an instance that read it just before
    metrics_namespace: str = "tintcam"  # CloudWatch namespace of the per-frame log lines' embedded metrics
                                        # (by route, never by key); empty = plain JSON lines, no metrics
    price_per_1000_frames: float = 0.50  # what a customer pays per 1,000 charged frames, USD
    lambda_memory_mb: int = 0           # memory the cost estimate assumes; 0 = Lambda's own (or 1769 locally)
    lambda_gb_second_usd: float = 0.0000166667  # AWS Lambda x86 price per GB-second
    lambda_request_usd: float = 0.0000002  # AWS Lambda price per request ($0.20 per million)
    apigw_request_usd: float = 0.0000035   # API Gateway REST API price per request ($3.50 per million)
    http_api_request_usd: float = 0.000001  # API Gateway HTTP API price per request ($1.00 per million)
    front_door: str = "rest"            # which API Gateway the function sits behind ("rest" or "http"): the
                                        # admin report's cost estimate takes that one's request fee
    dynamodb_write_unit_usd: float = 0.000000625  # DynamoDB on-demand price per write unit ($0.625 per million)
    dynamodb_read_unit_usd: float = 0.000000125   # DynamoDB on-demand price per read unit ($0.125 per million)
    data_out_gb_usd: float = 0.09       # data transfer out to the internet, per GB (first 10 TB a month)
    log_ingest_gb_usd: float = 0.50     # CloudWatch Logs ingestion (standard class), per GB
    state_secret: str = ""              # key that signs X-Track-State; empty = a random one per process (set
                                        # the same value on every Lambda instance so states survive)
    site_origins: str = "http://localhost:8080,http://127.0.0.1:8080"  # comma-separated origins of the camera
                                        # site allowed to call the API from a browser ('*' = any: not for prod)

    def validate(self) -> "Settings":
        def need(ok: bool, name: str, why: str) -> None:
            if not ok:
                raise ValueError(f"TINTCAM_{name.upper()}: {why}")

        for name in ("max_body_bytes", "max_pixels", "max_side", "max_output_bytes", "max_detect_pixels"):
            need(getattr(self, name) > 0, name, "must be positive")
        need(self.max_output_bytes * 4 / 3 < LAMBDA_PAYLOAD_LIMIT, "max_output_bytes",
             "base64 of the answer must fit Lambda's 6 MB response payload")
        need(bool(_HEX_COLOR.match(self.default_color)), "default_color", "must be a hex colour RRGGBB")
        need(0.0 <= self.default_intensity <= 1.0, "default_intensity", "must be between 0 and 1")
        need(1 <= self.min_quality <= self.max_quality <= 100, "min_quality", "need 1 <= min <= max <= 100")
        need(self.min_quality <= self.default_quality <= self.max_quality, "default_quality",
             "must be between min_quality and max_quality")
        need(1 <= self.min_min_face <= self.default_min_face <= self.max_min_face, "default_min_face",
             "must be between min_min_face and max_min_face")
        need(self.detector in ("blazeface", "hog"), "detector", "one of blazeface, hog")
        need(self.meter_store in ("sqlite", "dynamodb"), "meter_store", "one of sqlite, dynamodb")
        need(bool(self.db) or self.meter_store != "sqlite", "db", "a file path is needed for the sqlite store")
        need(bool(self.meter_table) or self.meter_store != "dynamodb", "meter_table", "a table name is needed")
        need(self.idempotency_ttl_s > 0, "idempotency_ttl_s", "must be positive")
        for name in ("price_per_1000_frames", "lambda_gb_second_usd", "lambda_request_usd", "apigw_request_usd",
                     "http_api_request_usd", "dynamodb_write_unit_usd", "dynamodb_read_unit_usd", "data_out_gb_usd",
                     "log_ingest_gb_usd"):
            need(getattr(self, name) >= 0, name, "must not be negative")
        need(self.front_door in ("rest", "http"), "front_door", "one of rest, http")
        need(0 <= self.key_cache_s <= 300, "key_cache_s", "between 0 and 300 seconds")
        need(0 <= self.lambda_memory_mb <= 10240, "lambda_memory_mb", "between 0 and 10240")
        need(self.log_level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"), "log_level",
             "one of DEBUG, INFO, WARNING, ERROR")
        return self


def load(env: dict | None = None) -> Settings:
    """Read every setting from ``env`` (default ``os.environ``), convert and validate."""
    env = os.environ if env is None else env
    values = {}
    for field in fields(Settings):
        key = f"TINTCAM_{field.name.upper()}"
        if key not in env and field.name == "lambda_memory_mb" and "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" in env:
            key = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"  # on Lambda, the function's own memory size
        if key not in env:
            continue
        raw = env[key]
        try:
            convert = {"int": int, "float": float}.get(field.type, str)
            values[field.name] = convert(raw)
        except ValueError:
            raise ValueError(f"{key}: {raw!r} is not a valid {field.type}") from None
    return Settings(**values).validate()


@lru_cache(maxsize=1)
def get() -> Settings:
    """The process-wide settings, loaded and validated once."""
    return load()
